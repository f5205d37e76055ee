using AQ4SViT.Onnx.Quantize;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// The AQ4SViT search: greedy (beam width 1) and beam (width K), hierarchical over granularities
/// network → block → layer, with candidates screened by membrane drift before any full evaluation.
/// <para>
/// Each round, from every setting in the beam: the one-step moves (lower one group to its next narrower
/// bit-width; in the network phase, to every narrower one) are scored by drift and ranked by memory saved
/// per unit of drift. To spend few full evaluations, the longest prefixes of that ranking (all moves, half,
/// a quarter, …) are offered too, each as one combined candidate. The pool is tried smallest-memory first;
/// a candidate the <see cref="DriftGate"/> rejects is skipped, the others are fully evaluated until K pass the
/// accuracy budget, or (after the network phase) until <see cref="SearchOptions.Patience"/>·K full evaluations in a
/// row have failed. The K smallest of the old beam and the new passers form the next beam; a round where none passes
/// ends the phase. A one-step move that failed the budget or was gated is not offered again in that phase (from any
/// state). Drift is measured lazily: see <see cref="RoundPool"/>.
/// The result is the smallest passing setting seen.
/// </para>
/// </summary>
internal sealed partial class BeamSearch(SearchContext context)
{
    private readonly DriftGate _gate = new(context.Options.GateMargin, context.Options.Strategy != SearchStrategy.GreedyUngated);
    private readonly List<(BitVector Setting, ProxyScore Proxy)> _rejected = [];

    // One-step moves (group, from, to) that failed the budget or were gated: not offered again in the phase.
    private readonly HashSet<(string Group, int From, int To)> _frozen = [];

    // Measured drift increments of one-step moves (group, from, to) in this phase.
    private readonly Dictionary<(string Group, int From, int To), double> _increments = [];
    private int _gatedOut;
    private int _rounds;

    // Where the search is, for the proxy lines of search.log.jsonl.
    private string _phase = "";
    private int _round;

    /// <summary>True: every beam state's candidates are built when the round starts (the reference that tests compare
    /// <see cref="RoundPool"/>'s building on demand with).</summary>
    public bool BuildWholePool { get; init; }

    public SearchOutcome Run()
    {
        var options = context.Options;
        int width = options.EffectiveBeamWidth;
        int[] levels = options.LevelsDescending;
        context.EvaluateFloat();
        var beam = new List<BitVector> { context.Fp32 };
        var best = (Setting: context.Fp32, Accuracy: context.FpAccuracy);
        var visited = new HashSet<string>(StringComparer.Ordinal) { context.Fp32.Key };
        var phases = Phases(options.Granularity);
        if (!context.Start.Equals(context.Fp32))
        {
            // Pinned weights: the search starts from them; if even that fails the budget, nothing smaller will pass.
            var (startAccuracy, _, startPassed) = context.Evaluate(context.Start, "pins", 0, "pinned groups at their widths", null, null);
            visited.Add(context.Start.Key);
            beam = [context.Start];
            if (startPassed)
            {
                best = (context.Start, startAccuracy);
            }
            else
            {
                phases = [];
            }
        }

        foreach (var granularity in phases)
        {
            string phase = granularity.ToString().ToLowerInvariant();
            var groups = context.Groups(granularity);
            _frozen.Clear();
            _increments.Clear();
            for (int round = 1; ; round++)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                _rounds++;
                (_phase, _round) = (phase, round);
                var pool = new RoundPool(this, context, beam, groups, levels, granularity == Granularity.Network, visited);
                var passing = new List<BitVector>();
                // The network phase's candidates are the levels of one group, where a failure says little about a wider level.
                int patience = granularity == Granularity.Network ? int.MaxValue : options.Patience * width;
                int failedInARow = 0;
                while (failedInARow < patience && pool.Next() is { } next)
                {
                    var candidate = next;
                    if (!visited.Add(candidate.Setting.Key))
                    {
                        continue;
                    }

                    double threshold = _gate.Threshold;
                    if (candidate.Estimated && _gate.Admits(candidate.Proxy.Drift))
                    {
                        // Worth a look: measure its drift (estimates only rank and pre-screen).
                        candidate = Measured(candidate);
                    }

                    if (_gate.Admits(candidate.Proxy.Drift) && !context.Journal.KnowsAccuracy(candidate.Setting))
                    {
                        Speculate(candidate, pool.Upcoming, visited);
                    }

                    if (!candidate.Estimated)
                    {
                        // A drift measured (now or while the pool was built): its proxy line gets the gate's decision.
                        context.LogProxyDecision(candidate.Setting, _gate.Admits(candidate.Proxy.Drift), threshold);
                    }

                    if (!_gate.Admits(candidate.Proxy.Drift))
                    {
                        _gatedOut++;
                        Freeze(candidate);
                        _rejected.Add((candidate.Setting, candidate.Proxy));
                        context.LogGated(candidate.Setting, phase, round, candidate.Move, candidate.Proxy, threshold, candidate.Estimated);
                        continue;
                    }

                    var (accuracy, _, passed) = context.Evaluate(candidate.Setting, phase, round, candidate.Move, candidate.Proxy, threshold);
                    _gate.Learn(candidate.Proxy.Drift, passed);
                    if (!passed)
                    {
                        Freeze(candidate);
                        failedInARow++;
                        continue;
                    }

                    failedInARow = 0;

                    passing.Add(candidate.Setting);
                    long bits = candidate.Setting.TotalBits(context.Backend.WeightParams);
                    long bestBits = best.Setting.TotalBits(context.Backend.WeightParams);
                    if (bits < bestBits || (bits == bestBits && accuracy > best.Accuracy))
                    {
                        best = (candidate.Setting, accuracy);
                    }

                    if (passing.Count == width)
                    {
                        break;
                    }
                }

                if (passing.Count == 0)
                {
                    context.FlushProxies();
                    break;
                }

                // Keep the K smallest of the old beam and the new passers: a state is only dropped for smaller ones.
                beam = beam.Concat(passing)
                    .DistinctBy(b => b.Key)
                    .OrderBy(b => b.TotalBits(context.Backend.WeightParams))
                    .ThenBy(b => context.Proxy(b, phase, round, "beam order").Drift)
                    .ThenBy(b => b.Key, StringComparer.Ordinal)
                    .Take(width)
                    .ToList();
                context.FlushProxies();
            }
        }

        context.FlushProxies();
        var (audited, wouldPass) = Audit();
        return new SearchOutcome
        {
            Best = best.Setting,
            BestSearchAccuracy = best.Accuracy,
            FpSearchAccuracy = context.FpAccuracy,
            GatedOut = _gatedOut,
            Rounds = _rounds,
            Evaluated = context.Evaluated,
            Frontier = context.Frontier,
            Passers = context.Passers,
            AuditedCandidates = audited,
            AuditedWouldPass = wouldPass,
        };
    }

    /// <summary>Network first, then each finer granularity up to <paramref name="finest"/>.</summary>
    public static IEnumerable<Granularity> Phases(Granularity finest)
    {
        for (var g = Granularity.Network; g <= finest; g++)
        {
            yield return g;
        }
    }

    /// <summary>
    /// With <c>--jobs N</c>: evaluates <paramref name="current"/> and the next candidates in line that the gate admits now,
    /// N at once. The serial loop then consumes them in order; one the serial order skips (gate tightened, beam filled) is
    /// wasted work, never a different result.
    /// </summary>
    private void Speculate(Candidate current, IEnumerable<Candidate> upcoming, HashSet<string> visited)
    {
        int jobs = context.Journal.Jobs;
        if (jobs <= 1)
        {
            return;
        }

        var window = new List<BitVector>(jobs) { current.Setting };
        foreach (var c in upcoming)
        {
            if (window.Count == jobs)
            {
                break;
            }

            if (!visited.Contains(c.Setting.Key) && _gate.Admits(c.Proxy.Drift) && !context.Journal.KnowsAccuracy(c.Setting))
            {
                window.Add(c.Setting);
            }
        }

        context.Journal.PrefetchAccuracies(window, context.Cancellation);
    }

    /// <param name="Estimated">The drift is the parent's plus earlier-measured one-step increments, not measured yet.</param>
    /// <param name="Parent">The setting the move starts from.</param>
    private sealed record Candidate(BitVector Setting, ProxyScore Proxy, string Move, long TotalBits, BitVector Parent, (string Group, int From, int To)? Single = null, bool Estimated = false);

    private void Freeze(Candidate candidate)
    {
        if (candidate.Single is { } move)
        {
            _frozen.Add(move);
        }
    }

    /// <summary>The candidate with its drift measured; a one-step move's measurement also updates its increment.</summary>
    private Candidate Measured(Candidate candidate)
    {
        var proxy = context.Proxy(candidate.Setting, _phase, _round, candidate.Move);
        if (candidate.Single is { } move)
        {
            _increments[move] = proxy.Drift - DriftOf(candidate.Parent);
        }

        return candidate with { Proxy = proxy, Estimated = false };
    }

    private double DriftOf(BitVector setting) => setting.Equals(context.Fp32) ? 0 : context.Proxy(setting, _phase, _round, "parent").Drift;

    /// <summary>The one-step moves of <paramref name="state"/> not visited and not frozen, in group then width order.</summary>
    private List<(SearchGroup Group, int Current, int Bits, BitVector Setting)> OneStepMoves(BitVector state, IReadOnlyList<SearchGroup> groups, int[] levels, bool everyLevel, HashSet<string> visited)
    {
        var moves = new List<(SearchGroup, int, int, BitVector)>();
        foreach (var group in groups)
        {
            int current = group.Weights.Max(w => state[w]);
            foreach (int bits in levels.Where(l => l < current))
            {
                var setting = state.With(group.Weights, bits);
                if (!visited.Contains(setting.Key) && !_frozen.Contains((group.Name, current, bits)))
                {
                    moves.Add((group, current, bits, setting));
                }

                if (!everyLevel)
                {
                    break;
                }
            }
        }

        return moves;
    }

    /// <summary>Fully evaluates a seeded sample of gated-out candidates: how many would have passed?</summary>
    private (int Audited, int WouldPass) Audit()
    {
        int n = Math.Min(context.Options.AuditGate, _rejected.Count);
        if (n == 0)
        {
            return (0, 0);
        }

        var random = new Random(context.Options.Seed);
        int wouldPass = 0;
        var sample = _rejected.OrderBy(_ => random.Next()).Take(n).ToList();
        context.Journal.PrefetchAccuracies(sample.Select(s => s.Setting), context.Cancellation);
        foreach (var (setting, proxy) in sample)
        {
            var (_, _, passed) = context.Evaluate(setting, "audit", 0, "gated-out sample", proxy, _gate.Threshold, "audit");
            if (passed)
            {
                wouldPass++;
            }
        }

        return (n, wouldPass);
    }
}
