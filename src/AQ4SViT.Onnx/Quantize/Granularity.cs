namespace AQ4SViT.Onnx.Quantize;

/// <summary>How weights are grouped to share one bit-width in the search.</summary>
public enum Granularity
{
    /// <summary>One group, "network": every quantizable weight gets the same bits.</summary>
    Network,

    /// <summary>
    /// One group per patch-splitting stage (each conv stage of SPS, the RPE conv its own stage), per transformer
    /// block's attention and per block's MLP, and the head. See <see cref="WeightCatalog.BlockOf"/>.
    /// </summary>
    Block,

    /// <summary>One group per weight tensor, named by its module path (<see cref="QuantizableWeight.DisplayName"/>).</summary>
    Layer,
}

public static class Granularities
{
    public static string Name(Granularity granularity) => granularity switch
    {
        Granularity.Network => "network",
        Granularity.Block => "block",
        Granularity.Layer => "layer",
        _ => throw new ArgumentOutOfRangeException(nameof(granularity)),
    };

    public static bool TryParse(string? text, out Granularity granularity)
    {
        switch (text?.ToLowerInvariant())
        {
            case "network": granularity = Granularity.Network; return true;
            case "block": granularity = Granularity.Block; return true;
            case "layer": granularity = Granularity.Layer; return true;
            default: granularity = default; return false;
        }
    }
}
