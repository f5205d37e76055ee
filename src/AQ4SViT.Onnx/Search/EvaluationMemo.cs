namespace AQ4SViT.Onnx.Search;

/// <summary>
/// Every drift proxy and full evaluation a search has, by setting key, and the order they entered (the order of the
/// checkpoint's lists, <see cref="SearchCheckpoint"/>).
/// </summary>
internal sealed class EvaluationMemo
{
    private readonly Dictionary<string, ProxyScore> _proxies = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FullScore> _accuracies = new(StringComparer.Ordinal);
    private readonly List<string> _proxyOrder = [];
    private readonly List<string> _fullOrder = [];

    public bool HasProxy(string key) => _proxies.ContainsKey(key);

    public bool HasAccuracy(string key) => _accuracies.ContainsKey(key);

    public bool TryGetProxy(string key, out ProxyScore score) => _proxies.TryGetValue(key, out score!);

    public bool TryGetAccuracy(string key, out FullScore score) => _accuracies.TryGetValue(key, out score!);

    public void AddProxy(string key, ProxyScore score)
    {
        _proxies[key] = score;
        _proxyOrder.Add(key);
    }

    public void AddAccuracy(string key, FullScore score)
    {
        _accuracies[key] = score;
        _fullOrder.Add(key);
    }

    /// <summary>The proxies in the order they entered.</summary>
    public IEnumerable<(string Key, ProxyScore Score)> Proxies => _proxyOrder.Select(k => (k, _proxies[k]));

    /// <summary>The full evaluations in the order they entered.</summary>
    public IEnumerable<(string Key, FullScore Score)> Accuracies => _fullOrder.Select(k => (k, _accuracies[k]));
}
