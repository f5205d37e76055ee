namespace AQ4SViT.Onnx.Quantize;

/// <summary>
/// Weight memory of a setting (DESIGN.md): <c>memory_saving = 1 − Σ params·bits / Σ params·32</c> over all quantizable
/// weights, FP32 groups counting 32 bits. Scales and zero points are reported apart, never folded into the saving.
/// </summary>
/// <param name="Fp32WeightBytes">Σ params · 4 over all quantizable weights.</param>
/// <param name="QuantizedWeightBytes">Σ params · bits / 8 (fractional for odd bit-widths; FP32 weights at 4 bytes).</param>
/// <param name="ScaleOverheadBytes">4 bytes per float scale, plus the zero points at their storage width (bits / 8 each), of the quantized weights.</param>
/// <param name="StoredWeightBytes">Bytes the QDQ emitter actually stores for the weight values: INT2/INT4 packed, INT8, INT16, or FP32.</param>
/// <param name="MemorySaving">1 − QuantizedWeightBytes / Fp32WeightBytes.</param>
/// <param name="WeightParams">Σ params.</param>
/// <param name="QuantizedWeights">How many weights are below 32 bits.</param>
public sealed record MemoryReport(
    long Fp32WeightBytes,
    double QuantizedWeightBytes,
    double ScaleOverheadBytes,
    long StoredWeightBytes,
    double MemorySaving,
    long WeightParams,
    int QuantizedWeights)
{
    /// <summary>Average bits per weight parameter.</summary>
    public double AverageBits => WeightParams == 0 ? 32 : QuantizedWeightBytes * 8 / WeightParams;
}

internal static class MemoryAccounting
{
    /// <summary>The weight memory of <paramref name="setting"/> over <paramref name="weights"/> (all quantizable weights of the model).</summary>
    public static MemoryReport Compute(IReadOnlyList<QuantizableWeight> weights, Setting setting, StorageWidths widths = StorageWidths.Int4)
    {
        long paramsTotal = 0;
        double bitsTotal = 0;
        double overhead = 0;
        long stored = 0;
        int quantized = 0;
        foreach (var w in weights)
        {
            int bits = setting.BitsOfWeight(w.Name);
            paramsTotal += w.Params;
            bitsTotal += (double)w.Params * bits;
            if (bits >= 32)
            {
                stored += w.Params * 4;
                continue;
            }

            quantized++;
            long scales = setting.Options.PerChannel ? w.Channels : 1;
            int container = StorageBits(bits, widths);
            stored += ((w.Params * container) + 7) / 8;
            overhead += scales * 4.0;
            if (!setting.Options.Symmetric)
            {
                overhead += scales * container / 8.0;
            }
        }

        double quantizedBytes = bitsTotal / 8;
        long fp32 = paramsTotal * 4;
        return new MemoryReport(fp32, quantizedBytes, overhead, stored, fp32 == 0 ? 0 : 1 - (quantizedBytes / fp32), paramsTotal, quantized);
    }

    /// <summary>Bits of the integer type a b-bit weight is stored in: INT2 (with <see cref="StorageWidths.Int2"/>), INT4, INT8 or INT16.</summary>
    public static int StorageBits(int bits, StorageWidths widths = StorageWidths.Int4) => bits switch
    {
        2 when widths == StorageWidths.Int2 => 2,
        <= 4 => 4,
        <= 8 => 8,
        _ => 16,
    };
}

/// <summary>Smallest integer container the QDQ emitter may use.</summary>
public enum StorageWidths
{
    /// <summary>INT4 for 2–4 bits (opset 21).</summary>
    Int4,

    /// <summary>INT2 for 2 bits (opset 25), INT4 for 3–4.</summary>
    Int2,
}
