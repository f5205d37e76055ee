namespace AQ4SViT.Onnx.Quantize;

/// <summary>
/// A float weight initializer the search may quantize: the weight of a Conv (W), of a Gemm (B) or the initializer
/// operand of a MatMul, found directly or through Transpose/Identity nodes.
/// </summary>
/// <param name="Name">The initializer's name.</param>
/// <param name="Shape">The stored tensor's dimensions.</param>
/// <param name="Params">Number of elements.</param>
/// <param name="OpType">The consuming op: Conv, Gemm or MatMul.</param>
/// <param name="NodeName">The consuming node's name (its first output when the node has no name).</param>
/// <param name="ChannelAxis">
/// The output-channel axis of the stored tensor: Conv 0; Gemm B 0 with transB=1, else 1; MatMul B [K,N] 1 (A [M,K]: 0),
/// mapped back through any Transpose between the initializer and the consumer.
/// </param>
/// <param name="Block">The block this weight belongs to at <see cref="Granularity.Block"/> (e.g. "sps.convs.0", "blocks.0.attn", "head").</param>
public sealed record QuantizableWeight(string Name, long[] Shape, long Params, string OpType, string NodeName, int ChannelAxis, string Block)
{
    /// <summary>Number of output channels (the size of <see cref="ChannelAxis"/>).</summary>
    public long Channels => Shape.Length == 0 ? 1 : Shape[ChannelAxis];

    /// <summary>The PyTorch module path the weight came from (<c>blocks.0.mlp.fc2.linear</c>), or null when the export does not say.</summary>
    public string? Module { get; init; }

    /// <summary>
    /// The name users see, and the weight's group name at <see cref="Granularity.Layer"/>: <see cref="Module"/>, else the
    /// initializer name, made unique in graph order by <see cref="WeightCatalog.DisplayNames"/>
    /// (<c>blocks.0.mlp.fc2.linear</c>, <c>head#2</c>).
    /// </summary>
    public string DisplayName
    {
        get => _displayName ?? Module ?? Name;
        init => _displayName = value;
    }

    private readonly string? _displayName;
}

/// <summary>Weights that share one bit-width. <paramref name="Name"/> is what users see (a module path, a block, "network");
/// <paramref name="Weights"/> are initializer names in graph order.</summary>
public sealed record WeightGroup(string Name, IReadOnlyList<string> Weights, long Params);
