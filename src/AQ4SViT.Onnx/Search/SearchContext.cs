namespace AQ4SViT.Onnx.Search;

/// <summary>What every strategy shares: the backend behind the journal, the options, the float baseline, the log.</summary>
internal sealed class SearchContext
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private BitVector? _start;
    private int _candidateEvaluations;
    private int _logIndex;
    private readonly List<(double Drift, double Drop, bool Passed)> _evaluated = [];
    private readonly List<PlotPoint> _frontier = [];
    private readonly IReadOnlyList<SearchGroup> _logGroups;

    // Drift proxies measured but not logged yet, by setting: logged when the gate decides on the setting, or as
    // "estimate-only" when the round ends first (FlushProxies).
    private readonly Dictionary<string, CandidateRecord> _pendingProxies = new(StringComparer.Ordinal);
    private readonly List<string> _pendingOrder = [];
    private readonly Dictionary<string, (BitVector Setting, FullScore Score)> _passers = new(StringComparer.Ordinal);

    public SearchContext(ISearchBackend backend, EvaluationJournal journal, SearchOptions options, Action<CandidateRecord>? log, IProgress<SearchProgress>? progress, CancellationToken cancellation)
    {
        Backend = backend;
        Journal = journal;
        Options = options;
        Log = log;
        Progress = progress;
        Cancellation = cancellation;
        Fp32 = BitVector.AllFloat(backend.WeightNames.Count);
        Fp32Bits = Fp32.TotalBits(backend.WeightParams);
        _logGroups = backend.Groups(options.Granularity);
    }

    /// <summary>Where one line per drift proxy goes (<c>search.log.jsonl</c>); null: proxies are not logged.</summary>
    public Action<CandidateRecord>? ProxyLog { get; init; }

    public ISearchBackend Backend { get; }
    public EvaluationJournal Journal { get; }
    /// <summary>The options; a relative <c>--max-drop</c> is in points here once <see cref="EvaluateFloat"/> has run.</summary>
    public SearchOptions Options { get; private set; }
    public Action<CandidateRecord>? Log { get; }
    public IProgress<SearchProgress>? Progress { get; }
    public CancellationToken Cancellation { get; }
    public BitVector Fp32 { get; }
    public long Fp32Bits { get; }

    /// <summary>
    /// Fixed bits by weight index (<c>--keep</c>: 32, <c>--pin</c>: the width), or null for none: the search never moves
    /// these weights. <see cref="Groups"/> leaves them out and every candidate starts from <see cref="Start"/>.
    /// </summary>
    public IReadOnlyDictionary<int, int>? FixedBits { get; init; }

    /// <summary>Stop (as <c>--max-evaluations</c> does) once this much time has passed since the context was made; null: never.</summary>
    public TimeSpan? TimeLimit { get; init; }

    /// <summary>Why the search stopped before its end (<see cref="RunUntilLimit"/>), or null when it ran to the end.</summary>
    public string? StoppedEarly { get; private set; }

    /// <summary>The float model with the pinned weights at their widths: where the search starts (<see cref="Fp32"/> without pins).</summary>
    public BitVector Start => _start ??= FixedBits is { Count: > 0 } fixedBits
        ? new BitVector(Fp32.Bits.Select((b, i) => fixedBits.TryGetValue(i, out int f) ? f : b))
        : Fp32;

    /// <summary>The backend's groups at <paramref name="granularity"/> without the fixed weights (groups left empty are dropped).</summary>
    public IReadOnlyList<SearchGroup> Groups(Quantize.Granularity granularity)
    {
        var groups = Backend.Groups(granularity);
        if (FixedBits is not { Count: > 0 } fixedBits)
        {
            return groups;
        }

        return groups
            .Select(g => g.Weights.Any(fixedBits.ContainsKey) ? g with { Weights = [.. g.Weights.Where(w => !fixedBits.ContainsKey(w))], Params = g.Weights.Where(w => !fixedBits.ContainsKey(w)).Sum(w => Backend.WeightParams[w]) } : g)
            .Where(g => g.Weights.Count > 0)
            .ToArray();
    }

    /// <summary>
    /// Runs a strategy; when <see cref="SearchOptions.MaxEvaluations"/> or <see cref="TimeLimit"/> stops it, the outcome is the
    /// best passing setting evaluated so far (fewest bits, then best accuracy), or the float model if none passed, and
    /// <see cref="StoppedEarly"/> says why.
    /// </summary>
    public SearchOutcome RunUntilLimit(Func<SearchOutcome> strategy)
    {
        try
        {
            return strategy();
        }
        catch (SearchLimitReachedException e)
        {
            StoppedEarly = e.Message;
            var best = _passers.Values
                .OrderBy(p => p.Setting.TotalBits(Backend.WeightParams))
                .ThenByDescending(p => p.Score.Accuracy)
                .ThenBy(p => p.Setting.Key, StringComparer.Ordinal)
                .Select(p => ((BitVector Setting, double Accuracy)?)(p.Setting, p.Score.Accuracy))
                .FirstOrDefault() ?? (Fp32, FpAccuracy);
            return new SearchOutcome
            {
                Best = best.Setting,
                BestSearchAccuracy = best.Accuracy,
                FpSearchAccuracy = FpAccuracy,
                Evaluated = Evaluated,
                Frontier = Frontier,
                Passers = Passers,
            };
        }
    }

    /// <summary>Throws <see cref="SearchLimitReachedException"/> when a limit is reached (called before each candidate's full evaluation).</summary>
    public void CheckLimits()
    {
        if (Options.MaxEvaluations is { } n && _candidateEvaluations >= n)
        {
            throw new SearchLimitReachedException($"--max-evaluations {n} reached");
        }

        if (TimeLimit is { } limit && _clock.Elapsed >= limit)
        {
            throw new SearchLimitReachedException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"--time-limit {limit.TotalSeconds:0.###} s reached"));
        }
    }

    public double FpAccuracy { get; private set; }

    public IReadOnlyList<(double Drift, double Drop, bool Passed)> Evaluated => _evaluated;
    /// <summary>Every full evaluation on the search split (repeats included), for <c>pareto.png</c>.</summary>
    public IReadOnlyList<PlotPoint> Frontier => _frontier;

    /// <summary>Every fully evaluated setting that passed, fewest bits first: what <see cref="Confirmation"/> falls back on.</summary>
    public IReadOnlyList<(BitVector Setting, FullScore Score)> Passers =>
        [.. _passers.Values.OrderBy(p => p.Setting.TotalBits(Backend.WeightParams)).ThenBy(p => p.Setting.Key, StringComparer.Ordinal)];

    public double Saving(BitVector setting) => 1.0 - ((double)setting.TotalBits(Backend.WeightParams) / Fp32Bits);

    /// <summary>Evaluates the float model on the search split: the reference for every drop.</summary>
    public double EvaluateFloat()
    {
        FpAccuracy = Journal.EvaluateReference(Fp32, Cancellation).Accuracy;
        Options = Options.WithBudgetFor(FpAccuracy); // --max-drop 1%: in points from now on
        _frontier.Add(new PlotPoint(Fp32.Key, Fp32Bits, FpAccuracy, Measured: true, Passed: true));
        Journal.CanPass = Passes;
        return FpAccuracy;
    }

    /// <summary>Accuracy drop in points against the float model on the search split.</summary>
    public double Drop(double accuracy) => (FpAccuracy - accuracy) * 100.0;

    /// <summary>
    /// The accuracy constraint: the drop plus <c>--guard</c> standard errors of it (paired with the float model image by
    /// image) is at most <c>--max-drop</c>. The guard keeps the search from choosing a setting only because it happened to
    /// do well on the search images. Full evaluations stop early only when no completion could pass it.
    /// </summary>
    public bool Passes(FullScore score) => score.Complete && Options.WithinBudget(Drop(score.Accuracy), score.DropStandardError);

    /// <summary>Full evaluation (a failing one may stop early: its accuracy is then an upper bound, its drop a lower one); returns the drop in points and whether it meets the budget. Logs the candidate.</summary>
    public (double Accuracy, double Drop, bool Passed) Evaluate(BitVector setting, string phase, int round, string move, ProxyScore? proxy, double? gate, string decision = "evaluated")
    {
        CheckLimits();
        _candidateEvaluations++;
        var score = Journal.Accuracy(setting, Cancellation, out bool cached);
        double accuracy = score.Accuracy;
        double drop = Drop(accuracy);
        bool passed = Passes(score);
        if (passed)
        {
            _passers.TryAdd(setting.Key, (setting, score));
        }

        if (proxy is not null && decision == "evaluated")
        {
            _evaluated.Add((proxy.Drift, drop, passed));
        }

        _frontier.Add(new PlotPoint(setting.Key, setting.TotalBits(Backend.WeightParams), accuracy, score.Complete, passed));
        Log?.Invoke(CandidateLine(setting, phase, round, move, proxy) with
        {
            Decision = decision,
            Accuracy = accuracy,
            Drop = drop,
            DropStandardError = score.Complete ? score.DropStandardError : null,
            UpperBound = !score.Complete,
            Passed = passed,
            GateThreshold = gate is { } g && double.IsFinite(g) ? g : null,
            Cached = cached,
        });
        Progress?.Report(new SearchProgress(phase, round, Journal.FullEvaluations, Journal.ProxyEvaluations, decision, Saving(setting), drop, passed, score.Complete ? score.DropStandardError : null));
        return (accuracy, drop, passed);
    }

    /// <summary>
    /// Logs one setting tried by <see cref="Confirmation"/>: its held-out accuracy and the pooled drop (a lower bound, with no
    /// standard error, when the held-out evaluation stopped early).
    /// </summary>
    public void LogConfirmation(Confirmation.Attempt attempt)
    {
        string decision = attempt.Confirmed ? "confirmed" : "not-confirmed";
        double? se = attempt.Pooled.Complete ? attempt.Pooled.DropStandardError : null;
        Log?.Invoke(new CandidateRecord
        {
            Index = ++_logIndex,
            Phase = "confirm",
            Bits = NamedBits(attempt.Setting),
            MemorySaving = Saving(attempt.Setting),
            Decision = decision,
            Accuracy = attempt.HeldOutAccuracy,
            Drop = attempt.Drop,
            DropStandardError = se,
            UpperBound = !attempt.Pooled.Complete,
            Passed = attempt.Confirmed,
        });
        Progress?.Report(new SearchProgress("confirm", 0, Journal.FullEvaluations, Journal.ProxyEvaluations, decision, Saving(attempt.Setting), attempt.Drop, attempt.Confirmed, se));
    }

    /// <summary>The bits of <paramref name="setting"/> by group name, at the search's granularity.</summary>
    public GroupBits NamedBits(BitVector setting) => GroupBits.Of(setting, _logGroups);

    /// <summary>
    /// The drift proxy of <paramref name="setting"/> (<see cref="EvaluationJournal.Proxy"/>). The first time the search asks
    /// for it, a proxy line is kept for <c>search.log.jsonl</c> until the gate decides on the setting
    /// (<see cref="LogProxyDecision"/>) or the round ends (<see cref="FlushProxies"/>): one line per drift proxy.
    /// </summary>
    public ProxyScore Proxy(BitVector setting, string phase, int round, string move)
    {
        bool first = !Journal.WasProxyRequested(setting);
        bool cached = first && Journal.IsCachedProxy(setting);
        var proxy = Journal.Proxy(setting, Cancellation);
        if (first && ProxyLog is not null && _pendingProxies.TryAdd(setting.Key, new CandidateRecord
        {
            Record = CandidateRecord.ProxyKind,
            Phase = phase,
            Round = round,
            Move = move,
            Bits = NamedBits(setting),
            MemorySaving = Saving(setting),
            Drift = proxy.Drift,
            SpikeMismatch = Known(proxy.SpikeMismatch),
            Cached = cached,
        }))
        {
            _pendingOrder.Add(setting.Key);
        }

        return proxy;
    }

    /// <summary>Logs the proxy line of <paramref name="setting"/>, if one is waiting, with the gate's decision on it.</summary>
    /// <param name="admitted">True: on to a full evaluation ("admitted"); false: "gated-out".</param>
    public void LogProxyDecision(BitVector setting, bool admitted, double gate)
    {
        if (_pendingProxies.Remove(setting.Key, out var line))
        {
            _pendingOrder.Remove(setting.Key);
            WriteProxy(line with { Decision = admitted ? "admitted" : "gated-out", GateThreshold = double.IsFinite(gate) ? gate : null });
        }
    }

    /// <summary>Logs every waiting proxy line as "estimate-only", in the order measured (at the end of a round).</summary>
    public void FlushProxies()
    {
        foreach (string key in _pendingOrder)
        {
            WriteProxy(_pendingProxies[key] with { Decision = "estimate-only" });
        }

        _pendingProxies.Clear();
        _pendingOrder.Clear();
    }

    private void WriteProxy(CandidateRecord line) => ProxyLog?.Invoke(line with { Index = ++_logIndex });

    /// <summary>What every candidate line of the log has: its number, where the search is, the setting and its drift.</summary>
    private CandidateRecord CandidateLine(BitVector setting, string phase, int round, string move, ProxyScore? proxy) => new()
    {
        Index = ++_logIndex,
        Phase = phase,
        Round = round,
        Move = move,
        Bits = NamedBits(setting),
        MemorySaving = Saving(setting),
        Drift = proxy?.Drift,
        SpikeMismatch = Known(proxy?.SpikeMismatch),
    };

    /// <summary>An estimated drift has no spike mismatch (NaN): logged as absent.</summary>
    private static double? Known(double? value) => value is { } v && double.IsFinite(v) ? v : null;

    /// <param name="estimated">The drift is an estimate (parent's plus measured one-step increments), already beyond the gate.</param>
    public void LogGated(BitVector setting, string phase, int round, string move, ProxyScore proxy, double gate, bool estimated = false)
    {
        if (TimeLimit is not null)
        {
            CheckLimits();
        }

        Log?.Invoke(CandidateLine(setting, phase, round, move, proxy) with
        {
            Decision = estimated ? "gated-estimate" : "gated",
            GateThreshold = double.IsFinite(gate) ? gate : null,
        });
        Progress?.Report(new SearchProgress(phase, round, Journal.FullEvaluations, Journal.ProxyEvaluations, "gated", Saving(setting), null, null));
    }
}

/// <summary>A progress tick: where the search is and what the last candidate did.</summary>
/// <param name="DropStandardError">Set when the evaluation saw every image, so the drop is exact; null when it stopped early and the drop is a lower bound.</param>
public sealed record SearchProgress(string Phase, int Round, int FullEvaluations, int ProxyEvaluations, string Decision, double Saving, double? Drop, bool? Passed, double? DropStandardError = null);

/// <summary>A search limit (<c>--max-evaluations</c>, <c>--time-limit</c>) was reached; the message says which.</summary>
internal sealed class SearchLimitReachedException(string message) : Exception(message);
