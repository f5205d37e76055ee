using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Errors;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// Memoises every proxy and full evaluation of a search and checkpoints them to <c>state.json</c> after each
/// full evaluation. Resuming replays the (deterministic) search against the memo, so a resumed run takes the
/// same path and ends in the same setting as an uninterrupted one, paying only for what was never computed.
/// </summary>
public sealed class EvaluationJournal
{
    private readonly ISearchBackend _backend;
    private readonly string? _statePath;
    private readonly string _fingerprint;
    private readonly Dictionary<string, ProxyScore> _proxies = new(StringComparer.Ordinal);
    private readonly Dictionary<string, double> _accuracies = new(StringComparer.Ordinal);
    private readonly List<string> _proxyOrder = [];
    private readonly List<string> _fullOrder = [];
    private readonly HashSet<string> _requestedProxies = new(StringComparer.Ordinal);
    private readonly HashSet<string> _requestedFull = new(StringComparer.Ordinal);
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private readonly double _elapsedBefore;

    public EvaluationJournal(ISearchBackend backend, string? statePath, string fingerprint, bool resume)
    {
        _backend = backend;
        _statePath = statePath;
        _fingerprint = fingerprint;
        if (resume && statePath is not null && File.Exists(statePath))
        {
            var state = LoadState(statePath);
            if (state.Fingerprint != fingerprint)
            {
                Throw.BadInput($"{statePath}: written by a different search ({state.Fingerprint}); this one is {fingerprint}. Remove it or run without --resume");
            }

            foreach (var p in state.Proxies)
            {
                _proxies[p.Bits] = new ProxyScore(p.Drift, p.SpikeMismatch, p.Kind);
                _proxyOrder.Add(p.Bits);
            }

            foreach (var f in state.Full)
            {
                _accuracies[f.Bits] = f.Accuracy;
                _fullOrder.Add(f.Bits);
            }

            _elapsedBefore = state.ElapsedSeconds;
            Resumed = true;
        }
    }

    public bool Resumed { get; }

    /// <summary>Distinct candidates given a full evaluation (replayed ones included).</summary>
    public int FullEvaluations => _requestedFull.Count;

    public int ProxyEvaluations => _requestedProxies.Count;

    /// <summary>Full evaluations actually computed in this process (not replayed from the checkpoint).</summary>
    public int FreshFullEvaluations { get; private set; }

    /// <summary>Proxies computed in this process (not replayed) and the seconds they took.</summary>
    public int FreshProxyEvaluations { get; private set; }

    public double ProxySeconds { get; private set; }

    /// <summary>Seconds of the full evaluations computed in this process.</summary>
    public double FullSeconds { get; private set; }

    /// <summary>Search time so far, including the time of the runs this one resumes.</summary>
    public double ElapsedSeconds => _elapsedBefore + _watch.Elapsed.TotalSeconds;

    public bool HasAccuracy(BitVector setting) => _accuracies.ContainsKey(setting.Key);

    public bool IsCachedProxy(BitVector setting) => _proxies.ContainsKey(setting.Key) && !_requestedProxies.Contains(setting.Key);

    public ProxyScore Proxy(BitVector setting, CancellationToken cancellation)
    {
        _requestedProxies.Add(setting.Key);
        if (_proxies.TryGetValue(setting.Key, out var cached))
        {
            return cached;
        }

        cancellation.ThrowIfCancellationRequested();
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var score = _backend.Proxy(setting, cancellation);
        ProxySeconds += System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        FreshProxyEvaluations++;
        _proxies[setting.Key] = score;
        _proxyOrder.Add(setting.Key);
        return score;
    }

    /// <summary>Passed to the backend (<see cref="ISearchBackend.HintParent"/>): moves from this setting are proxied next.</summary>
    public void HintParent(BitVector parent) => _backend.HintParent(parent);

    /// <summary>Search-split accuracy (0–1); <paramref name="cached"/> tells whether it came from the checkpoint.</summary>
    public double Accuracy(BitVector setting, CancellationToken cancellation, out bool cached)
    {
        _requestedFull.Add(setting.Key);
        if (_accuracies.TryGetValue(setting.Key, out double accuracy))
        {
            cached = true;
            return accuracy;
        }

        cancellation.ThrowIfCancellationRequested();
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        accuracy = _backend.SearchAccuracy(setting, cancellation);
        FullSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        _accuracies[setting.Key] = accuracy;
        _fullOrder.Add(setting.Key);
        FreshFullEvaluations++;
        cached = false;
        Checkpoint();
        return accuracy;
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
            ElapsedSeconds = ElapsedSeconds,
            Proxies = _proxyOrder.Select(k => new ProxyEntry { Bits = k, Drift = _proxies[k].Drift, SpikeMismatch = _proxies[k].SpikeMismatch, Kind = _proxies[k].Kind }).ToList(),
            Full = _fullOrder.Select(k => new FullEntry { Bits = k, Accuracy = _accuracies[k] }).ToList(),
        };
        AtomicFile.WriteAllText(_statePath, JsonSerializer.Serialize(state, StateJson.Default.State));
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
        public int Version { get; set; } = 1;
        public string Fingerprint { get; set; } = "";
        public double ElapsedSeconds { get; set; }
        public List<ProxyEntry> Proxies { get; set; } = [];
        public List<FullEntry> Full { get; set; } = [];
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
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = false)]
[JsonSerializable(typeof(EvaluationJournal.State))]
internal sealed partial class StateJson : JsonSerializerContext;
