namespace AQ4SViT.Onnx.Quantize;

/// <summary>
/// How a weight tensor is mapped onto integers.
/// <see cref="PerChannel"/>: one scale (and zero point) per output channel, else one per tensor.
/// <see cref="Symmetric"/>: signed integers, zero point 0, range ±(2^(b−1)−1); else unsigned [0, 2^b−1] with a zero point.
/// </summary>
public sealed record QuantizationOptions(bool PerChannel = true, bool Symmetric = true)
{
    public static QuantizationOptions Default { get; } = new();
}
