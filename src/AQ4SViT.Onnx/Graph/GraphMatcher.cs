using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Graph;

/// <summary>
/// The small pattern matcher the rewrites share: a <see cref="GraphIndex"/> with the graph's constants, to ask "is this
/// value made by an op of this type", "is it a constant (of these integers)" and "is it one repeated float".
/// </summary>
internal sealed class GraphMatcher(GraphIndex index, IReadOnlyDictionary<string, Tensor> constants)
{
    private readonly Dictionary<string, float?> _scalars = new(StringComparer.Ordinal);

    public GraphIndex Index { get; } = index;

    public IReadOnlyDictionary<string, Tensor> Constants { get; } = constants;

    /// <inheritdoc cref="GraphIndex.Op"/>
    public Node? Op(string value, string opType) => Index.Op(value, opType);

    /// <summary>The constant <paramref name="value"/>, if it is one.</summary>
    public bool Constant(string value, out Tensor tensor) => Constants.TryGetValue(value, out tensor!);

    /// <summary>The constant <paramref name="value"/> as integers, or null when it is no constant.</summary>
    public long[]? Longs(string value) => Constants.TryGetValue(value, out var t) ? t.ToLongArray() : null;

    /// <summary>
    /// The value of a constant whose elements are all equal, or null (cached: exports fold full-size fills). Reads through
    /// up to three CastLike/Cast-to-float/Identity wraps, as exporters put around Python scalars (dynamo's onnxscript does).
    /// </summary>
    public float? Scalar(string value)
    {
        if (_scalars.TryGetValue(value, out var known))
        {
            return known;
        }

        string name = value;
        for (int hops = 0; hops < 3 && !Constants.ContainsKey(value) && Index.Producer(value) is { } wrap &&
             wrap.OpType is "CastLike" or "Cast" or "Identity" && wrap.HasInput(0); hops++)
        {
            if (wrap.OpType == "Cast" && wrap.Int("to", 1) != 1)
            {
                return _scalars[name] = null;
            }

            value = wrap.Inputs[0];
        }

        float? result = null;
        if (Constants.TryGetValue(value, out var t) && t.Length > 0 && t.IsFloat)
        {
            var f = t.FloatData!;
            float first = f[0];
            result = f.AsSpan().IndexOfAnyExcept(first) < 0 ? first : null;
        }

        return _scalars[name] = result;
    }
}
