using System.Collections;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Files;

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
/// </summary>
public sealed class EvaluationJournal
{
    private readonly ISearchBackend _backend;
    private readonly string? _statePath;
    private readonly string _fingerprint;
    private readonly Dictionary<string, ProxyScore> _proxies = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FullScore> _accuracies = new(StringComparer.Ordinal);
    private readonly List<string> _proxyOrder = [];
    private readonly List<string> _fullOrder = [];
    private readonly HashSet<string> _requestedProxies = new(StringComparer.Ordinal);
    private readonly HashSet<string> _requestedFull = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ProxyScore> _prefetchedProxies = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SplitScore> _prefetchedAccuracies = new(StringComparer.Ordinal);
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
        if (resume && statePath is not null && File.Exists(statePath))
        {
            var state = LoadState(statePath);
            if (state.Fingerprint is null || state.ReferenceHits is null || state.SearchOrder is null || state.Proxies is null || state.Full is null
                || state.Proxies.Any(p => p?.Bits is null || p.Kind is null) || state.Full.Any(f => f?.Bits is null))
            {
                // JSON null where the checkpoint has a list or a string: the deserializer lets it through.
                Throw.BadInput($"{statePath}: a field of the checkpoint is null");
            }

            // The identity (content hashes, options by flag) supersedes the fingerprint, which names the model file by name
            // and size; without one (callers that give none) the fingerprint still guards.
            identity?.CheckResumes(ToIdentity(state.Identity, statePath), statePath);
            if (identity is null && state.Fingerprint != fingerprint)
            {
                Throw.BadInput($"{statePath}: written by a different search ({state.Fingerprint}); this one is {fingerprint}. Remove it or run without --resume");
            }

            // Numbers go on into the report and the next checkpoint: a damaged one must stop here, not as an overflow there.
            if (!double.IsFinite(state.ElapsedSeconds) || state.ElapsedSeconds < 0
                || state.Proxies.Any(p => !(p.Drift is >= 0 and <= 1e15) || !(p.SpikeMismatch is >= 0 and <= 1))
                || state.Full.Any(f => !(f.Accuracy is >= 0 and <= 1) || f.Lost < 0 || f.Gained < 0))
            {
                Throw.BadInput($"{statePath}: elapsed_seconds, drifts or accuracies out of range (accuracies and spike mismatches 0–1, drifts 0–1e15, counts and times not negative)");
            }

            foreach (var p in state.Proxies)
            {
                _proxies[p.Bits] = new ProxyScore(p.Drift, p.SpikeMismatch, p.Kind);
                _proxyOrder.Add(p.Bits);
            }

            foreach (var f in state.Full)
            {
                _accuracies[f.Bits] = new FullScore(f.Accuracy, f.Lost, f.Gained, state.ReferenceHits.Length, f.Complete);
                _fullOrder.Add(f.Bits);
            }

            if (state.ReferenceHits.Any(c => c is not ('0' or '1')))
            {
                Throw.BadInput($"{statePath}: reference_hits must be a string of 0s and 1s");
            }

            _reference = state.ReferenceHits.Length == 0 ? null : new BitArray(state.ReferenceHits.Select(c => c == '1').ToArray());
            if (state.SearchOrder.Count > 0)
            {
                if (state.SearchOrder.Count != state.ReferenceHits.Length)
                {
                    Throw.BadInput($"{statePath}: search_order has {state.SearchOrder.Count} images, reference_hits {state.ReferenceHits.Length}");
                }

                // An order is a permutation of the split's positions: the backend indexes its images with it.
                var seen = new BitArray(state.SearchOrder.Count);
                foreach (int position in state.SearchOrder)
                {
                    if (position < 0 || position >= seen.Length || seen[position])
                    {
                        Throw.BadInput($"{statePath}: search_order is not an order of the {seen.Length} images (position {position})");
                    }

                    seen[position] = true;
                }

                _order = state.SearchOrder;
                _backend.OrderSearch(_order);
            }

            _elapsedBefore = state.ElapsedSeconds;
            Resumed = true;
        }
    }

    public bool Resumed { get; }

    /// <summary>Evaluations run at once by the prefetch methods (1: none, everything is computed when asked for).</summary>
    public int Jobs
    {
        get => _jobs;
        init => _jobs = value >= 1 ? value : Throw.BadInput<int>($"--jobs must be at least 1, got {value}");
    }

    private readonly int _jobs = 1;

    /// <summary>Full evaluations computed ahead that the serial order never asked for (the price of speculation).</summary>
    public int UnusedSpeculative => _prefetchedAccuracies.Count;

    /// <summary>Full evaluations computed ahead of being asked for (used or not).</summary>
    public int SpeculativeFullEvaluations { get; private set; }

    /// <summary>Distinct candidates given a full evaluation (replayed ones included).</summary>
    public int FullEvaluations => _requestedFull.Count;

    public int ProxyEvaluations => _requestedProxies.Count;

    /// <summary>Full evaluations actually computed in this process (not replayed from the checkpoint).</summary>
    public int FreshFullEvaluations { get; private set; }

    /// <summary>Proxies computed in this process (not replayed), and the seconds they took (summed over concurrent jobs).</summary>
    public int FreshProxyEvaluations => _proxyTimes.Count;

    public double ProxySeconds => _proxyTimes.Seconds;

    /// <summary>Full evaluations computed in this process (speculative ones included) and their seconds (summed over concurrent jobs).</summary>
    public int TimedFullEvaluations => _fullTimes.Count;

    public double FullSeconds => _fullTimes.Seconds;

    private readonly Stopwatches _proxyTimes = new();
    private readonly Stopwatches _fullTimes = new();

    private ProxyScore TimedProxy(BitVector setting, CancellationToken cancellation) =>
        _proxyTimes.Time(() => _backend.Proxy(setting, cancellation));

    private SplitScore TimedAccuracy(BitVector setting, CancellationToken cancellation) =>
        _fullTimes.Time(() => _backend.SearchAccuracy(setting, CanPass is null ? null : CouldStillPass, cancellation));

    /// <summary>
    /// The search's budget test, once the float reference is known: full evaluations then stop as soon as no completion of
    /// the split could pass it (<see cref="CouldStillPass"/>). Null (the float model's own evaluation): always run to the end.
    /// </summary>
    public Func<FullScore, bool>? CanPass { get; set; }

    private bool CouldStillPass(SplitScore partial) => FullScore.CouldStillPass(partial, _reference!, CanPass!);

    /// <summary>Counts calls and sums their seconds, from any thread.</summary>
    private sealed class Stopwatches
    {
        private long _ticks;
        private int _count;

        public int Count => _count;

        public double Seconds => (double)Interlocked.Read(ref _ticks) / System.Diagnostics.Stopwatch.Frequency;

        public T Time<T>(Func<T> work)
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            var result = work();
            Interlocked.Add(ref _ticks, System.Diagnostics.Stopwatch.GetTimestamp() - started);
            Interlocked.Increment(ref _count);
            return result;
        }
    }

    /// <summary>Search time so far, including the time of the runs this one resumes; fixed once <see cref="StopClock"/> is called.</summary>
    public double ElapsedSeconds => _elapsedBefore + _watch.Elapsed.TotalSeconds;

    /// <summary>Ends the search's clock: work after the search (the confirmation, timed apart) is not search time twice.</summary>
    public void StopClock() => _watch.Stop();

    public bool HasAccuracy(BitVector setting) => _accuracies.ContainsKey(setting.Key);

    /// <summary>True when the accuracy is memoised or already computed ahead: asking for it costs nothing.</summary>
    public bool KnowsAccuracy(BitVector setting) => _accuracies.ContainsKey(setting.Key) || _prefetchedAccuracies.ContainsKey(setting.Key);

    /// <summary>True once the search has asked for this setting's drift proxy (<see cref="Proxy"/>).</summary>
    public bool WasProxyRequested(BitVector setting) => _requestedProxies.Contains(setting.Key);

    public bool IsCachedProxy(BitVector setting) => _proxies.ContainsKey(setting.Key) && !_requestedProxies.Contains(setting.Key);

    public ProxyScore Proxy(BitVector setting, CancellationToken cancellation)
    {
        _requestedProxies.Add(setting.Key);
        if (_proxies.TryGetValue(setting.Key, out var cached))
        {
            return cached;
        }

        if (!_prefetchedProxies.TryRemove(setting.Key, out var score))
        {
            cancellation.ThrowIfCancellationRequested();
            score = TimedProxy(setting, cancellation);
        }

        _proxies[setting.Key] = score;
        _proxyOrder.Add(setting.Key);
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
        if (_reference is null)
        {
            throw new InvalidOperationException("evaluate the reference first");
        }

        return Full(setting, cancellation, out cached);
    }

    /// <summary>Evaluates the float model: its per-image hits are what every later evaluation is paired with.</summary>
    public FullScore EvaluateReference(BitVector fp32, CancellationToken cancellation) => Full(fp32, cancellation, out _);

    // Images where the reference is right: the float model's hits, kept for pairing (and in state.json for --resume).
    // By evaluation position once the search split is ordered (see OrderHardestFirst).
    private BitArray? _reference;

    // The search split's evaluation order (position → image), empty while natural.
    private List<int> _order = [];

    private FullScore Full(BitVector setting, CancellationToken cancellation, out bool cached)
    {
        _requestedFull.Add(setting.Key);
        if (_accuracies.TryGetValue(setting.Key, out var known))
        {
            cached = true;
            return known;
        }

        if (!_prefetchedAccuracies.TryRemove(setting.Key, out var split))
        {
            cancellation.ThrowIfCancellationRequested();
            split = TimedAccuracy(setting, cancellation);
        }

        bool isReference = _reference is null; // only the reference gets here without one
        _reference ??= new BitArray(split.Hits);
        if (_reference.Length != split.Hits.Length)
        {
            // Only a resumed reference can differ: a state.json whose reference_hits were cut or padded.
            Throw.BadInput($"{_statePath}: reference_hits has {_reference.Length} images, the search split {split.Hits.Length}");
        }

        var score = FullScore.Paired(split, _reference);
        if (isReference)
        {
            OrderHardestFirst(split);
        }

        _accuracies[setting.Key] = score;
        _fullOrder.Add(setting.Key);
        FreshFullEvaluations++;
        cached = false;
        Checkpoint();
        return score;
    }

    /// <summary>
    /// Has the backend evaluate the search split hardest first (<see cref="SplitScore.HardestFirst"/>): a failing candidate
    /// then reaches the point where no result on the rest can save it (<see cref="CouldStillPass"/>) far sooner; the
    /// decisions and every passing accuracy are those of any other order. The reference's hits follow the order.
    /// </summary>
    private void OrderHardestFirst(SplitScore reference)
    {
        if (reference.HardestFirst() is { } hardest)
        {
            _order = [.. hardest.Order];
            _reference = hardest.Hits;
            _backend.OrderSearch(_order);
        }
    }

    /// <summary>
    /// Computes, up to <see cref="Jobs"/> at once, the drift proxies of <paramref name="settings"/> that are not known yet,
    /// for <see cref="Proxy"/> to pick up later. Does nothing when <see cref="Jobs"/> is 1.
    /// </summary>
    public void PrefetchProxies(IEnumerable<BitVector> settings, CancellationToken cancellation)
    {
        if (_jobs > 1)
        {
            var todo = Unknown(settings, k => _proxies.ContainsKey(k) || _prefetchedProxies.ContainsKey(k));
            Concurrently.ForEach(todo, _jobs, s => _prefetchedProxies[s.Key] = TimedProxy(s, cancellation), cancellation);
        }
    }

    /// <summary>
    /// Computes, up to <see cref="Jobs"/> at once, the search-split accuracies of <paramref name="settings"/> that are not
    /// known yet, for <see cref="Accuracy"/> to pick up later. Does nothing when <see cref="Jobs"/> is 1.
    /// </summary>
    public void PrefetchAccuracies(IEnumerable<BitVector> settings, CancellationToken cancellation)
    {
        if (_jobs > 1)
        {
            var todo = Unknown(settings, k => KnowsAccuracyKey(k));
            SpeculativeFullEvaluations += todo.Count;
            Concurrently.ForEach(todo, _jobs, s => _prefetchedAccuracies[s.Key] = TimedAccuracy(s, cancellation), cancellation);
        }
    }

    private bool KnowsAccuracyKey(string key) => _accuracies.ContainsKey(key) || _prefetchedAccuracies.ContainsKey(key);

    private static List<BitVector> Unknown(IEnumerable<BitVector> settings, Func<string, bool> known)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return settings.Where(s => !known(s.Key) && seen.Add(s.Key)).ToList();
    }

    /// <summary>Writes <c>state.json</c> atomically (temporary file, then rename).</summary>
    public void Checkpoint()
    {
        if (_statePath is null)
        {
            return;
        }

        var state = new State
        {
            Fingerprint = _fingerprint,
            Identity = _identity is null ? null : FromIdentity(_identity),
            ElapsedSeconds = ElapsedSeconds,
            Proxies = _proxyOrder.Select(k => new ProxyEntry { Bits = k, Drift = _proxies[k].Drift, SpikeMismatch = _proxies[k].SpikeMismatch, Kind = _proxies[k].Kind }).ToList(),
            ReferenceHits = _reference is null ? "" : string.Concat(Enumerable.Range(0, _reference.Length).Select(i => _reference[i] ? '1' : '0')),
            SearchOrder = _order,
            Full = _fullOrder.Select(k => new FullEntry { Bits = k, Accuracy = _accuracies[k].Accuracy, Lost = _accuracies[k].Lost, Gained = _accuracies[k].Gained, Complete = _accuracies[k].Complete }).ToList(),
        };
        AtomicFile.WriteAllText(_statePath, JsonSerializer.Serialize(state, StateJson.Default.State));
    }

    /// <summary>
    /// The identity a checkpoint records (for <c>--resume</c> to take the options it was written with), or null when it
    /// records none or <paramref name="statePath"/> does not exist; a damaged checkpoint is bad input naming it.
    /// </summary>
    public static SearchIdentity? ReadIdentity(string statePath) =>
        File.Exists(statePath) ? ToIdentity(LoadState(statePath).Identity, statePath) : null;

    private static IdentityEntry FromIdentity(SearchIdentity identity) => new()
    {
        Model = identity.ModelSha256,
        Data = identity.DataSha256,
        DataHashOf = identity.DataHashOf,
        Calibration = identity.CalibrationSha256,
        Split = identity.Split,
        Options = new SortedDictionary<string, string>(identity.Options.ToDictionary(), StringComparer.Ordinal),
        Inputs = new SortedDictionary<string, string>(identity.Inputs.ToDictionary(), StringComparer.Ordinal),
    };

    private static SearchIdentity? ToIdentity(IdentityEntry? entry, string statePath)
    {
        if (entry is null)
        {
            return null;
        }

        if (entry.Model is null || entry.Data is null || entry.DataHashOf is null || entry.Split is null || entry.Options is null || entry.Inputs is null
            || entry.Options.Any(p => p.Value is null) || entry.Inputs.Any(p => p.Value is null))
        {
            Throw.BadInput($"{statePath}: a field of the checkpoint's identity is null");
        }

        return new SearchIdentity
        {
            ModelSha256 = entry.Model,
            DataSha256 = entry.Data,
            DataHashOf = entry.DataHashOf,
            CalibrationSha256 = entry.Calibration,
            Split = entry.Split,
            Options = entry.Options,
            Inputs = entry.Inputs,
        };
    }

    private static State LoadState(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), StateJson.Default.State)
                ?? Throw.BadInput<State>($"{path}: empty checkpoint");
        }
        catch (JsonException e)
        {
            return Throw.BadInput<State>($"{path}: not a search checkpoint ({e.Message})", e);
        }
    }

    internal sealed class State
    {
        public int Version { get; set; } = 4;
        public string Fingerprint { get; set; } = "";

        /// <summary>What the evaluations depend on (<see cref="SearchIdentity"/>); version 3 and older had none.</summary>
        public IdentityEntry? Identity { get; set; }
        public double ElapsedSeconds { get; set; }
        public List<ProxyEntry> Proxies { get; set; } = [];
        public List<FullEntry> Full { get; set; } = [];

        /// <summary>The float model's per-image hits on the search split, '1' right, '0' wrong, by evaluation position.</summary>
        public string ReferenceHits { get; set; } = "";

        /// <summary>The search split's evaluation order: position → image (empty: natural order; version 2 had none).</summary>
        public List<int> SearchOrder { get; set; } = [];
    }

    internal sealed class IdentityEntry
    {
        public string Model { get; set; } = "";
        public string Data { get; set; } = "";
        public string DataHashOf { get; set; } = "";
        public string? Calibration { get; set; }
        public string Split { get; set; } = "";
        public SortedDictionary<string, string> Options { get; set; } = new(StringComparer.Ordinal);
        public SortedDictionary<string, string> Inputs { get; set; } = new(StringComparer.Ordinal);
    }

    internal sealed class ProxyEntry
    {
        public string Bits { get; set; } = "";
        public double Drift { get; set; }
        public double SpikeMismatch { get; set; }
        public string Kind { get; set; } = "membrane";
    }

    internal sealed class FullEntry
    {
        public string Bits { get; set; } = "";
        public double Accuracy { get; set; }
        public int Lost { get; set; }
        public int Gained { get; set; }

        /// <summary>False for an evaluation that stopped early (a failure; accuracy an upper bound).</summary>
        public bool Complete { get; set; } = true;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = false)]
[JsonSerializable(typeof(EvaluationJournal.State))]
internal sealed partial class StateJson : JsonSerializerContext;
