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
public sealed class BeamSearch(SearchContext context)
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

    /// <summary>
    /// The pool of one round, tried smallest first. From each beam state: its one-step moves and the longest prefixes of
    /// their ranking by memory saved per unit of drift, as combined candidates. A one-step move's drift increment (its drift
    /// minus its parent's) is measured once per phase, the first time the move is offered; later parents reuse it, so a
    /// candidate's drift is first an estimate (parent's drift plus its moves' increments) that ranks it and pre-screens it
    /// at the gate. Only a candidate the estimate admits is measured before the gate decides on it.
    /// <para>
    /// A state's candidates are built only when the smallest-first order could reach them: none is smaller than the state
    /// with every group at its lowest offered width, so a state whose bound is above the next candidate waits. Its moves
    /// are measured then, or never if the round ends first (the beam's larger states rarely get that far). Within the
    /// round the order is that of building every state at once: states are built in beam order, from the moves, marks and
    /// increments as they stood when the round began. A move left unmeasured may be measured in a later round from another
    /// state; where drift is not additive, later estimates can then differ from those of building every state.
    /// </para>
    /// </summary>
    private sealed class RoundPool
    {
        private readonly BeamSearch _search;
        private readonly SearchContext _context;
        private readonly List<BitVector> _beam;
        private readonly List<List<(SearchGroup Group, int Current, int Bits, BitVector Setting)>> _movesOf;
        private readonly long[] _smallestChild;
        private readonly HashSet<string> _visitedAtStart;
        private readonly Dictionary<(string Group, int From, int To), double> _increments;
        private readonly HashSet<string> _offered = new(StringComparer.Ordinal);
        private readonly SortedSet<Candidate> _pending = new(Comparer<Candidate>.Create(SmallestFirst));
        private int _expanded;

        public RoundPool(BeamSearch search, SearchContext context, List<BitVector> beam, IReadOnlyList<SearchGroup> groups, int[] levels, bool everyLevel, HashSet<string> visited)
        {
            _search = search;
            _context = context;
            _beam = beam;
            _visitedAtStart = new HashSet<string>(visited, StringComparer.Ordinal);
            _increments = new Dictionary<(string, int, int), double>(search._increments);
            var parameters = context.Backend.WeightParams;
            _movesOf = beam.Select(state => search.OneStepMoves(state, groups, levels, everyLevel, visited)).ToList();
            _smallestChild = beam.Select((state, b) => SmallestChild(state, _movesOf[b], parameters)).ToArray();
            foreach (var state in beam)
            {
                context.Journal.HintParent(state);
            }

            while (search.BuildWholePool && _expanded < beam.Count)
            {
                Expand(_expanded++);
            }
        }

        /// <summary>The candidates in line after the one <see cref="Next"/> gave last (those built so far).</summary>
        public IEnumerable<Candidate> Upcoming => _pending;

        /// <summary>The smallest candidate not yet given; null when none is left.</summary>
        public Candidate? Next()
        {
            while (_expanded < _beam.Count && (_pending.Count == 0 || SmallestUnexpanded() <= _pending.Min!.TotalBits))
            {
                Expand(_expanded++);
            }

            if (_pending.Count == 0)
            {
                return null;
            }

            var next = _pending.Min!;
            _pending.Remove(next);
            return next;
        }

        private static int SmallestFirst(Candidate a, Candidate b)
        {
            int c = a.TotalBits.CompareTo(b.TotalBits);
            c = c != 0 ? c : a.Proxy.Drift.CompareTo(b.Proxy.Drift);
            return c != 0 ? c : string.CompareOrdinal(a.Setting.Key, b.Setting.Key);
        }

        private long SmallestUnexpanded()
        {
            long smallest = long.MaxValue;
            for (int b = _expanded; b < _beam.Count; b++)
            {
                smallest = Math.Min(smallest, _smallestChild[b]);
            }

            return smallest;
        }

        /// <summary>Every weight at the lowest width any move of <paramref name="state"/> offers it: no candidate is smaller.</summary>
        private static long SmallestChild(BitVector state, List<(SearchGroup Group, int Current, int Bits, BitVector Setting)> moves, IReadOnlyList<long> parameters)
        {
            var lowest = state.Bits.ToArray();
            foreach (var (group, _, bits, _) in moves)
            {
                foreach (int w in group.Weights)
                {
                    lowest[w] = Math.Min(lowest[w], bits);
                }
            }

            return new BitVector(lowest).TotalBits(parameters);
        }

        private void Offer(Candidate candidate)
        {
            if (_offered.Add(candidate.Setting.Key))
            {
                _pending.Add(candidate);
            }
        }

        private void Expand(int b)
        {
            var parameters = _context.Backend.WeightParams;
            var state = _beam[b];
            var moves = _movesOf[b];
            _context.Journal.PrefetchProxies(moves.Where(m => !_increments.ContainsKey((m.Group.Name, m.Current, m.Bits))).Select(m => m.Setting), _context.Cancellation);
            double stateDrift = _search.DriftOf(state);
            var singles = new List<(Candidate Candidate, SearchGroup Group, int Bits, double Increment, double Ratio)>();
            foreach (var (group, current, bits, setting) in moves)
            {
                var move = (group.Name, current, bits);
                var candidate = new Candidate(setting, new ProxyScore(0, 0), $"{group.Name}:{current}->{bits}", setting.TotalBits(parameters), state, move, Estimated: true);
                if (_increments.TryGetValue(move, out double known))
                {
                    candidate = candidate with { Proxy = new ProxyScore(stateDrift + known, double.NaN) };
                }
                else
                {
                    candidate = _search.Measured(candidate);
                    _increments[move] = _search._increments[move];
                }

                double increment = Math.Max(0, candidate.Proxy.Drift - stateDrift);
                long saved = state.TotalBits(parameters) - setting.TotalBits(parameters);
                singles.Add((candidate, group, bits, increment, saved / (increment + MembraneDrift.Epsilon)));
            }

            foreach (var single in singles)
            {
                Offer(single.Candidate);
            }

            // Longest prefixes of the saving-per-drift ranking as combined candidates (one group moves once).
            var ranked = singles.OrderByDescending(s => s.Ratio).DistinctBy(s => s.Group.Name).ToList();
            for (int m = ranked.Count; m >= 2; m = (m + 1) / 2)
            {
                var setting = state;
                double drift = stateDrift;
                foreach (var (_, group, bits, increment, _) in ranked.Take(m))
                {
                    setting = setting.With(group.Weights, bits);
                    drift += increment;
                }

                if (!_visitedAtStart.Contains(setting.Key))
                {
                    Offer(new Candidate(setting, new ProxyScore(drift, double.NaN), $"top {m} moves", setting.TotalBits(parameters), state, Estimated: true));
                }

                if (m == 2)
                {
                    break;
                }
            }
        }
    }

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
