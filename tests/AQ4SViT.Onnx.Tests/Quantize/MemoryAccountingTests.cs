using AQ4SViT.Onnx.Quantize;

namespace AQ4SViT.Onnx.Tests.Quantize;

public sealed class MemoryAccountingTests
{
    private static readonly QuantizableWeight[] s_weights =
    [
        new("a", [4, 3], 12, "Gemm", "/a/Gemm", 0, "a"),   // 4 channels
        new("b", [2, 5], 10, "MatMul", "/b/MatMul", 1, "b"), // 5 channels
        new("c", [3, 1, 2, 2], 12, "Conv", "/c/Conv", 0, "c"), // 3 channels
    ];

    [Fact]
    public void Compute_MixedLayerSetting_MatchesHandCount()
    {
        var setting = Setting.Create(s_weights, Granularity.Layer, new Dictionary<string, int> { ["a"] = 4, ["b"] = 32, ["c"] = 2 });

        var report = MemoryAccounting.Compute(s_weights, setting);

        Assert.Equal(34 * 4, report.Fp32WeightBytes);                       // 34 params
        Assert.Equal(((12 * 4) + (10 * 32) + (12 * 2)) / 8.0, report.QuantizedWeightBytes); // 49 bytes
        Assert.Equal(1 - (49.0 / 136.0), report.MemorySaving, 12);
        Assert.Equal((4 + 3) * 4.0, report.ScaleOverheadBytes);             // per-channel float scales of a and c
        Assert.Equal(6 + 40 + 6, report.StoredWeightBytes);                 // INT4 packs a (12 → 6 B) and c (2 bits in INT4: 6 B)
        Assert.Equal(2, report.QuantizedWeights);
    }

    [Fact]
    public void Compute_AsymmetricPerTensorInt2_CountsZeroPointsAndInt2Storage()
    {
        var setting = Setting.Create(s_weights, Granularity.Network, new Dictionary<string, int> { ["network"] = 2 }, new QuantizationOptions(PerChannel: false, Symmetric: false));

        var report = MemoryAccounting.Compute(s_weights, setting, StorageWidths.Int2);

        Assert.Equal(34 * 2 / 8.0, report.QuantizedWeightBytes);
        Assert.Equal(1 - (2.0 / 32.0), report.MemorySaving, 12);
        Assert.Equal(3 * (4 + (2 / 8.0)), report.ScaleOverheadBytes);       // one scale + one 2-bit zero point per tensor
        Assert.Equal(3 + 3 + 3, report.StoredWeightBytes);                  // 12, 10, 12 values at 4 per byte
    }

    [Fact]
    public void Compute_AllFp32_NoSaving()
    {
        var setting = Setting.Uniform(s_weights, Granularity.Block, 32);

        var report = MemoryAccounting.Compute(s_weights, setting);

        Assert.Equal(0, report.MemorySaving);
        Assert.Equal(136, report.QuantizedWeightBytes);
        Assert.Equal(0, report.ScaleOverheadBytes);
    }
}
