namespace AQ4SViT.Onnx.Quantize;

/// <summary>
/// A weight tensor on an integer grid: <c>w ≈ (Values[i] − ZeroPoint[c]) · Scales[c]</c>, c the index along <see cref="Axis"/>.
/// </summary>
/// <param name="Bits">2–8 or 16.</param>
/// <param name="Axis">The channel axis of the scales, or −1 for one scale for the whole tensor.</param>
/// <param name="Shape">Dimensions of the tensor.</param>
/// <param name="Values">The integers, row-major. Symmetric: in [−(2^(b−1)−1), 2^(b−1)−1]; asymmetric: in [0, 2^b−1].</param>
/// <param name="Scales">One per channel (or one); always positive and finite.</param>
/// <param name="ZeroPoints">Null when symmetric (zero point 0); else one per scale, in [0, 2^b−1].</param>
internal sealed record QuantizedTensor(int Bits, int Axis, long[] Shape, int[] Values, float[] Scales, int[]? ZeroPoints)
{
    public bool Symmetric => ZeroPoints is null;

    public bool PerChannel => Axis >= 0;

    /// <summary>Writes the dequantized floats, computed exactly as ONNX DequantizeLinear does: <c>(float)(q − zp) · scale</c>.</summary>
    public void Dequantize(Span<float> destination)
    {
        if (destination.Length != Values.Length)
        {
            throw new ArgumentException($"destination has {destination.Length} elements, the tensor {Values.Length}", nameof(destination));
        }

        // The one dequantize: every fake-quantized float (simulator overrides, ONNX Runtime candidates, the fake-quant
        // file) is computed here.
        var (outer, channels, inner) = WeightQuantizer.Layout(Shape, Axis);
        for (long o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                float scale = Scales[c];
                int zp = ZeroPoints is null ? 0 : ZeroPoints[c];
                int start = (int)(((o * channels) + c) * inner);
                int end = start + (int)inner;
                for (int i = start; i < end; i++)
                {
                    destination[i] = (Values[i] - zp) * scale;
                }
            }
        }
    }

    public float[] Dequantize()
    {
        var result = new float[Values.Length];
        Dequantize(result);
        return result;
    }
}
