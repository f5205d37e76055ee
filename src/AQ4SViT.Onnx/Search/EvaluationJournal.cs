using System.Collections;
using System.Diagnostics;
using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// Memoises every proxy and full evaluation of a search and checkpoints them to <c>state.json</c> after each
/// full evaluation. Resuming replays the (deterministic) search against the memo, so a resumed run takes the
/// same path and ends in the same setting as an uninterrupted one, paying only for what was never computed.
/// <para>Parallel evaluation (<see cref="Jobs"/> &gt; 1): a strategy announces what it will ask for next with
/// <see cref="PrefetchProxies"/> and <see cref="PrefetchAccuracies"/>; those are computed concurrently into a side table
/// and enter the memo, the log and the checkpoint only when <see cref="Proxy"/> or <see cref="Accuracy"/> asks for them,
/// i.e. in the serial order. So the search path, <c>state.json</c> and <c>search.log.jsonl</c> are those of a serial run;
/// a speculative result the serial run would never have asked for is dropped (<see cref="UnusedSpeculative"/>).</para>
/// <para>The pieces: <see cref="EvaluationMemo"/> (what is known), <see cref="EvaluationPrefetch"/> (computing, now or
/// ahead), <see cref="HardestFirstOrder"/> (the reference and the split's order), <see cref="SearchCheckpoint"/> (the file).</para>
/// </summary>
public sealed class EvaluationJournal
{
    private readonly ISearchBackend _backend;
    private readonly string? _statePath;
    private readonly string _fingerprint;
    private readonly EvaluationMemo _memo = new();
    private readonly EvaluationPrefetch _prefetch;
    private readonly HardestFirstOrder _order;
    private readonly HashSet<string> _requestedProxies = new(StringComparer.Ordinal);
    private readonly HashSet<string> _requestedFull = new(StringComparer.Ordinal);
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private readonly double _elapsedBefore;
    private readonly SearchIdentity? _identity;

    public EvaluationJournal(ISearchBackend backend, string? statePath, string fingerprint, bool resume)
        : this(backend, statePath, fingerprint, resume, identity: null)
    {
    }

    /// <summary>
    /// A journal checkpointing to <paramref name="statePath"/> (null: none). With <paramref name="identity"/>, the checkpoint
    /// records it, and resuming refuses a checkpoint whose identity differs (<see cref="SearchIdentity.CheckResumes"/>).
    /// </summary>
    public EvaluationJournal(ISearchBackend backend, string? statePath, string fingerprint, bool resume, SearchIdentity? identity)
    {
        _backend = backend;
        _statePath = statePath;
        _fingerprint = fingerprint;
        _identity = identity;
        _prefetch = new EvaluationPrefetch(backend);
        _order = new HardestFirstOrder(backend);
        if (resume && statePath is not null && File.Exists(statePath))
        {
            var state = SearchCheckpoint.LoadForResume(statePath, fingerprint, identity);
            foreach (var p in state.Proxies)
            {
                _memo.AddProxy(p.Bits, new ProxyScore(p.Drift, p.SpikeMismatch, p.Kind));
            }

            foreach (var f in state.Full)
            {
                _memo.AddAccuracy(f.Bits, new FullScore(f.Accuracy, f.Lost, f.Gained, state.ReferenceHits.Length, f.Complete));
            }

            _order.Resume(state.ReferenceHits.Length == 0 ? null : new BitArray(state.ReferenceHits.Select(c => c == '1').ToArray()), state.SearchOrder);
            _elapsedBefore = state.ElapsedSeconds;
            Resumed = true;
        }
    }

    public bool Resumed { get; }

    /// <summary>Evaluations run at once by the prefetch methods (1: none, everything is computed when asked for).</summary>
    public int Jobs
    {
        get => _prefetch.Jobs;
        init => _prefetch.Jobs = value >= 1 ? value : Throw.BadInput<int>($"--jobs must be at least 1, got {value}");
    }

    /// <summary>Full evaluations computed ahead that the serial order never asked for (the price of speculation).</summary>
    public int UnusedSpeculative => _prefetch.UntakenAccuracies;

    /// <summary>Full evaluations computed ahead of being asked for (used or not).</summary>
    public int SpeculativeFullEvaluations => _prefetch.SpeculativeAccuracies;

    /// <summary>Distinct candidates given a full evaluation (replayed ones included).</summary>
    public int FullEvaluations => _requestedFull.Count;

    public int ProxyEvaluations => _requestedProxies.Count;

    /// <summary>Full evaluations actually computed in this process (not replayed from the checkpoint).</summary>
    public int FreshFullEvaluations { get; private set; }

    /// <summary>Proxies computed in this process (not replayed), and the seconds they took (summed over concurrent jobs).</summary>
    public int FreshProxyEvaluations => _prefetch.ProxyTimes.Count;

    public double ProxySeconds => _prefetch.ProxyTimes.Seconds;

    /// <summary>Full evaluations computed in this process (speculative ones included) and their seconds (summed over concurrent jobs).</summary>
    public int TimedFullEvaluations => _prefetch.FullTimes.Count;

    public double FullSeconds => _prefetch.FullTimes.Seconds;

    /// <summary>
    /// The search's budget test, once the float reference is known: full evaluations then stop as soon as no completion of
    /// the split could pass it (<see cref="CouldStillPass"/>). Null (the float model's own evaluation): always run to the end.
    /// </summary>
    public Func<FullScore, bool>? CanPass { get; set; }

    private bool CouldStillPass(SplitScore partial) => FullScore.CouldStillPass(partial, _order.Reference!, CanPass!);

    private Func<SplitScore, bool>? StopTest => CanPass is null ? null : CouldStillPass;

    /// <summary>Search time so far, including the time of the runs this one resumes; fixed once <see cref="StopClock"/> is called.</summary>
    public double ElapsedSeconds => _elapsedBefore + _watch.Elapsed.TotalSeconds;

    /// <summary>Ends the search's clock: work after the search (the confirmation, timed apart) is not search time twice.</summary>
    public void StopClock() => _watch.Stop();

    public bool HasAccuracy(BitVector setting) => _memo.HasAccuracy(setting.Key);

    /// <summary>True when the accuracy is memoised or already computed ahead: asking for it costs nothing.</summary>
    public bool KnowsAccuracy(BitVector setting) => KnowsAccuracyKey(setting.Key);

    /// <summary>True once the search has asked for this setting's drift proxy (<see cref="Proxy"/>).</summary>
    public bool WasProxyRequested(BitVector setting) => _requestedProxies.Contains(setting.Key);

    public bool IsCachedProxy(BitVector setting) => _memo.HasProxy(setting.Key) && !_requestedProxies.Contains(setting.Key);

    public ProxyScore Proxy(BitVector setting, CancellationToken cancellation)
    {
        _requestedProxies.Add(setting.Key);
        if (_memo.TryGetProxy(setting.Key, out var cached))
        {
            return cached;
        }

        var score = _prefetch.TakeProxy(setting, cancellation);
        _memo.AddProxy(setting.Key, score);
        return score;
    }

    /// <summary>Passed to the backend (<see cref="ISearchBackend.HintParent"/>): moves from this setting are proxied next.</summary>
    public void HintParent(BitVector parent) => _backend.HintParent(parent);

    /// <summary>
    /// Search-split accuracy (0–1) and the images lost and gained against the reference (the float model, evaluated first
    /// with <see cref="EvaluateReference"/>); <paramref name="cached"/> tells whether it came from the checkpoint.
    /// </summary>
    public FullScore Accuracy(BitVector setting, CancellationToken cancellation, out bool cached)
    {
        if (_order.Reference is null)
        {
            throw new InvalidOperationException("evaluate the reference first");
        }

        return Full(setting, cancellation, out cached);
    }

    /// <summary>Evaluates the float model: its per-image hits are what every later evaluation is paired with.</summary>
    public FullScore EvaluateReference(BitVector fp32, CancellationToken cancellation) => Full(fp32, cancellation, out _);

    private FullScore Full(BitVector setting, CancellationToken cancellation, out bool cached)
    {
        _requestedFull.Add(setting.Key);
        if (_memo.TryGetAccuracy(setting.Key, out var known))
        {
            cached = true;
            return known;
        }

        var split = _prefetch.TakeAccuracy(setting, StopTest, cancellation);
        var score = _order.Pair(split, _statePath);
        _memo.AddAccuracy(setting.Key, score);
        FreshFullEvaluations++;
        cached = false;
        Checkpoint();
        return score;
    }

    /// <summary>
    /// Computes, up to <see cref="Jobs"/> at once, the drift proxies of <paramref name="settings"/> that are not known yet,
    /// for <see cref="Proxy"/> to pick up later. Does nothing when <see cref="Jobs"/> is 1.
    /// </summary>
    public void PrefetchProxies(IEnumerable<BitVector> settings, CancellationToken cancellation) =>
        _prefetch.PrefetchProxies(settings, _memo.HasProxy, cancellation);

    /// <summary>
    /// Computes, up to <see cref="Jobs"/> at once, the search-split accuracies of <paramref name="settings"/> that are not
    /// known yet, for <see cref="Accuracy"/> to pick up later. Does nothing when <see cref="Jobs"/> is 1.
    /// </summary>
    public void PrefetchAccuracies(IEnumerable<BitVector> settings, CancellationToken cancellation) =>
        _prefetch.PrefetchAccuracies(settings, _memo.HasAccuracy, StopTest, cancellation);

    private bool KnowsAccuracyKey(string key) => _memo.HasAccuracy(key) || _prefetch.HasAccuracy(key);

    /// <summary>Writes <c>state.json</c> atomically (temporary file, then rename).</summary>
    public void Checkpoint()
    {
        if (_statePath is null)
        {
            return;
        }

        var state = new SearchCheckpoint.State
        {
            Fingerprint = _fingerprint,
            Identity = _identity is null ? null : SearchCheckpoint.FromIdentity(_identity),
            ElapsedSeconds = ElapsedSeconds,
            Proxies = _memo.Proxies.Select(p => new SearchCheckpoint.ProxyEntry { Bits = p.Key, Drift = p.Score.Drift, SpikeMismatch = p.Score.SpikeMismatch, Kind = p.Score.Kind }).ToList(),
            ReferenceHits = _order.ReferenceText,
            SearchOrder = _order.Order,
            Full = _memo.Accuracies.Select(f => new SearchCheckpoint.FullEntry { Bits = f.Key, Accuracy = f.Score.Accuracy, Lost = f.Score.Lost, Gained = f.Score.Gained, Complete = f.Score.Complete }).ToList(),
        };
        SearchCheckpoint.Write(_statePath, state);
    }

    /// <inheritdoc cref="SearchCheckpoint.ReadIdentity"/>
    public static SearchIdentity? ReadIdentity(string statePath) => SearchCheckpoint.ReadIdentity(statePath);
}
