using AQ4SViT.Onnx.Import;

namespace AQ4SViT.Onnx.Quantize;

/// <summary>
/// Uniform weight quantization with round-to-nearest, ties to even (<see cref="MidpointRounding.ToEven"/>, as ONNX
/// QuantizeLinear and <c>torch.round</c> do).
/// <list type="bullet">
/// <item>Symmetric (default): <c>scale = max|w| / (2^(b−1)−1)</c>, <c>q = clamp(round(w / scale), −(2^(b−1)−1), 2^(b−1)−1)</c>.
/// The restricted range is used: −2^(b−1) is never produced, so the grid is symmetric about 0 (2 bits is ternary).</item>
/// <item>Asymmetric: the range [min(0, min w), max(0, max w)] is mapped onto [0, 2^b−1]:
/// <c>scale = (hi − lo) / (2^b−1)</c>, <c>zp = round(−lo / scale)</c>, <c>q = clamp(round(w / scale) + zp, 0, 2^b−1)</c>.</item>
/// <item>Per output channel (default) or per tensor. A channel whose scale would be zero, subnormal or not finite
/// (all zeros) gets scale 1 and quantizes to q = zp, so it dequantizes to exactly 0 and no NaN appears.</item>
/// </list>
/// Ranges and the division are computed in double; the scale is rounded to float first, so every element satisfies
/// <c>|w − deq(q(w))| ≤ scale / 2</c> up to float rounding of the final product. Dequantization is
/// <c>(float)(q − zp) · scale</c> in float, exactly what ONNX Runtime's DequantizeLinear computes, so the fake-quantized
/// model and the QDQ model carry bit-identical weights.
/// </summary>
internal static class WeightQuantizer
{
    /// <summary>True for the bit-widths the quantizer and emitters handle: 2–8 and 16.</summary>
    public static bool IsSupportedBits(int bits) => bits is >= 2 and <= 8 or 16;

    /// <summary>Smallest integer of the grid.</summary>
    public static int QMin(int bits, bool symmetric) => symmetric ? -((1 << (bits - 1)) - 1) : 0;

    /// <summary>Largest integer of the grid.</summary>
    public static int QMax(int bits, bool symmetric) => symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;

    public static QuantizedTensor Quantize(ReadOnlySpan<float> weights, long[] shape, int axis, int bits, QuantizationOptions options)
    {
        Check(weights.Length, shape, axis, bits);
        int effectiveAxis = options.PerChannel && shape.Length > 0 ? axis : -1;
        var (_, channels, _) = Layout(shape, effectiveAxis);
        var scales = new float[channels];
        int[]? zeroPoints = options.Symmetric ? null : new int[channels];
        var values = new int[weights.Length];
        ChannelParameters(weights, shape, effectiveAxis, bits, options.Symmetric, scales, zeroPoints);
        Apply(weights, shape, effectiveAxis, bits, options.Symmetric, scales, zeroPoints, values);
        return new QuantizedTensor(bits, effectiveAxis, (long[])shape.Clone(), values, scales, zeroPoints);
    }

    /// <summary>
    /// Writes the weights as they come back from quantization (on the grid): <see cref="Quantize"/> then
    /// <see cref="QuantizedTensor.Dequantize(Span{float})"/>. The one fake-quant path: the simulator's overrides, ONNX
    /// Runtime's candidate weights, <c>validate</c>'s simulator and the fake-quant emitter all take their floats from it
    /// through <see cref="WeightTable.At"/>.
    /// </summary>
    public static void FakeQuantize(ReadOnlySpan<float> weights, long[] shape, int axis, int bits, QuantizationOptions options, Span<float> destination)
    {
        if (destination.Length != weights.Length)
        {
            throw new ArgumentException($"destination has {destination.Length} elements, weights {weights.Length}", nameof(destination));
        }

        Quantize(weights, shape, axis, bits, options).Dequantize(destination);
    }

    /// <summary>
    /// Every weight of <paramref name="model"/> that <paramref name="setting"/> quantizes (below 32 bits), fake-quantized:
    /// initializer name → FP32 values on the grid, exactly the weights <c>ModelEmitter</c> (Emit) writes (and that
    /// DequantizeLinear yields from the QDQ file). Feed them to the simulator as weight overrides.
    /// </summary>
    public static Dictionary<string, float[]> FakeQuantizeModel(OnnxModelFile model, Setting setting, IReadOnlyList<QuantizableWeight>? weights = null)
    {
        weights ??= WeightCatalog.Find(model);
        if (!setting.IsBound)
        {
            setting = setting.Bind(weights);
        }

        var bound = setting;
        return new WeightTable(model, weights, setting.Options).Overrides(weights.Select(w => Math.Min(bound.BitsOfWeight(w.Name), Setting.Fp32)).ToArray());
    }

    /// <summary>The tensor as (outer, channels, inner) around <paramref name="axis"/>; axis −1 means one channel.</summary>
    public static (long Outer, int Channels, long Inner) Layout(long[] shape, int axis)
    {
        long total = 1;
        foreach (long d in shape)
        {
            total *= d;
        }

        if (axis < 0)
        {
            return (1, 1, total);
        }

        long outer = 1;
        for (int i = 0; i < axis; i++)
        {
            outer *= shape[i];
        }

        long inner = 1;
        for (int i = axis + 1; i < shape.Length; i++)
        {
            inner *= shape[i];
        }

        return (outer, checked((int)shape[axis]), inner);
    }

    private static void Check(int length, long[] shape, int axis, int bits)
    {
        if (!IsSupportedBits(bits))
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "bits must be 2–8 or 16");
        }

        long total = 1;
        foreach (long d in shape)
        {
            total *= d;
        }

        if (total != length)
        {
            throw new ArgumentException($"shape [{string.Join(",", shape)}] holds {total} elements, weights {length}", nameof(shape));
        }

        if (shape.Length > 0 && (axis < 0 || axis >= shape.Length))
        {
            throw new ArgumentOutOfRangeException(nameof(axis), axis, $"axis must be in 0..{shape.Length - 1}");
        }
    }

    private static void ChannelParameters(ReadOnlySpan<float> w, long[] shape, int axis, int bits, bool symmetric, Span<float> scales, Span<int> zeroPoints)
    {
        var (outer, channels, inner) = Layout(shape, axis);
        int qmax = QMax(bits, symmetric);
        for (int c = 0; c < channels; c++)
        {
            double lo = 0, hi = 0;
            for (long o = 0; o < outer; o++)
            {
                long start = ((o * channels) + c) * inner;
                for (long i = 0; i < inner; i++)
                {
                    double v = w[(int)(start + i)];
                    if (v < lo)
                    {
                        lo = v;
                    }
                    else if (v > hi)
                    {
                        hi = v;
                    }
                }
            }

            if (symmetric)
            {
                float scale = (float)(Math.Max(-lo, hi) / qmax);
                scales[c] = float.IsNormal(scale) && scale > 0 ? scale : 1f;
            }
            else
            {
                float scale = (float)((hi - lo) / qmax);
                scale = float.IsNormal(scale) && scale > 0 ? scale : 1f;
                scales[c] = scale;
                zeroPoints[c] = (int)Math.Clamp(Math.Round(-lo / scale, MidpointRounding.ToEven), 0, qmax);
            }
        }
    }

    /// <summary>Quantizes with known scales into <paramref name="values"/>.</summary>
    private static void Apply(ReadOnlySpan<float> w, long[] shape, int axis, int bits, bool symmetric, ReadOnlySpan<float> scales, ReadOnlySpan<int> zeroPoints, Span<int> values)
    {
        var (outer, channels, inner) = Layout(shape, axis);
        int qmin = QMin(bits, symmetric), qmax = QMax(bits, symmetric);
        for (long o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                float scale = scales[c];
                double inverse = 1.0 / scale;
                int zp = symmetric ? 0 : zeroPoints[c];
                int start = (int)(((o * channels) + c) * inner);
                int end = start + (int)inner;
                for (int i = start; i < end; i++)
                {
                    double x = w[i];
                    // Division (not multiplication by the inverse) keeps ties exact; the inverse is only a NaN guard.
                    double r = double.IsFinite(inverse) ? Math.Round(x / scale, MidpointRounding.ToEven) : 0;
                    values[i] = (int)Math.Clamp(r + zp, qmin, qmax);
                }
            }
        }
    }
}
