using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;

namespace AQ4SViT.Onnx.Runners;

/// <summary>
/// A search backend that sends work to ONNX Runtime: full evaluations to <paramref name="evaluator"/> and drift proxies to
/// <paramref name="proxy"/>, each when given; groups, and whatever is not given, come from <paramref name="inner"/> (the simulator).
/// </summary>
internal sealed class OrtEvaluatedBackend(ISearchBackend inner, OrtFullEvaluator? evaluator, ImageSet search, OrtDriftProxy? proxy = null) : ISearchBackend
{
    private ImageSet _search = search;

    public IReadOnlyList<string> WeightNames => inner.WeightNames;

    public IReadOnlyList<long> WeightParams => inner.WeightParams;

    public IReadOnlyList<SearchGroup> Groups(Granularity granularity) => inner.Groups(granularity);

    public ProxyScore Proxy(BitVector setting, CancellationToken cancellation) => proxy is null ? inner.Proxy(setting, cancellation) : proxy.Proxy(setting, cancellation);

    public void HintParent(BitVector parent)
    {
        if (proxy is null)
        {
            inner.HintParent(parent);
        }
    }

    public SplitScore SearchAccuracy(BitVector setting, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation) =>
        evaluator is null ? inner.SearchAccuracy(setting, couldStillPass, cancellation) : evaluator.Accuracy(_search, setting, couldStillPass, cancellation);

    public void OrderSearch(IReadOnlyList<int> order)
    {
        _search = _search.Select(order);
        if (evaluator is null)
        {
            inner.OrderSearch(order);
        }
    }
}
