using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Simulate;
using AQ4SViT.Onnx.Tests.Emit;

namespace AQ4SViT.Onnx.Tests.Quantize;

/// <summary>The one weight table: originals from the prepared graph, a bounded cache, one fake-quant path the emitter shares.</summary>
public sealed class WeightTableTests
{
    private static readonly int[] s_bits = [2, 3, 4, 5, 6, 8, 16];

    [Fact]
    public void GraphTable_SharesTheGraphsWeights_AndQuantizesAsTheFileTable()
    {
        var file = OnnxModelFile.Load(TestModels.Fixture("spikformer-tiny.onnx"));
        var catalog = WeightCatalog.Find(file);
        var graph = GraphLoader.Load(file);

        var fromGraph = new WeightTable(graph, catalog, QuantizationOptions.Default);
        var fromFile = new WeightTable(file, catalog, QuantizationOptions.Default);

        for (int i = 0; i < catalog.Count; i++)
        {
            Assert.Same(graph.InitializerArray(catalog[i].Name), fromGraph.Original(i));
            Assert.Equal(fromFile.Original(i), fromGraph.Original(i));
            Assert.Equal(fromFile.At(i, 3), fromGraph.At(i, 3));
        }
    }

    [Fact]
    public void Cache_StaysWithinItsBound_AndGivesTheSameValuesAfterEviction()
    {
        var file = OnnxModelFile.Load(TestModels.Fixture("sdt-tiny.onnx"));
        var catalog = WeightCatalog.Find(file);
        long largest = catalog.Max(w => w.Params) * 4;
        var table = new WeightTable(file, catalog, QuantizationOptions.Default, cacheBytes: largest);
        var first = new Dictionary<(int, int), float[]>();

        for (int round = 0; round < 2; round++)
        {
            for (int i = 0; i < catalog.Count; i++)
            {
                foreach (int bits in s_bits)
                {
                    float[] values = table.At(i, bits);
                    var expected = new float[values.Length];
                    WeightQuantizer.FakeQuantize(table.Original(i), catalog[i].Shape, catalog[i].ChannelAxis, bits, QuantizationOptions.Default, expected);
                    Assert.Equal(expected, values);
                    Assert.Equal(table.Quantized(i, bits).Dequantize(), values);
                    if (round == 1)
                    {
                        Assert.Equal(first[(i, bits)], values);
                    }

                    first[(i, bits)] = values;
                    Assert.InRange(table.CachedBytes, 0, largest);
                }
            }
        }
    }

    [Theory]
    [InlineData(EmitFormat.Qdq)]
    [InlineData(EmitFormat.FakeQuant)]
    public void Emitter_WithTheRunsTable_WritesTheSameBytesAsAlone(EmitFormat format)
    {
        using var dir = new TempDir();
        var file = OnnxModelFile.Load(TestModels.Fixture("spikformer-tiny.onnx"));
        var catalog = WeightCatalog.Find(file);
        var setting = Setting.Uniform(catalog, Granularity.Layer, 3);
        var table = new WeightTable(GraphLoader.Load(file), catalog, setting.Options);
        table.At(0, 3); // a cached tensor is what the emitter then writes

        var alone = ModelEmitter.Write(file, setting, dir.File("alone.onnx"), format);
        var shared = ModelEmitter.Write(file, setting, dir.File("shared.onnx"), format, weights: table);

        Assert.Equal(File.ReadAllBytes(alone.Path), File.ReadAllBytes(shared.Path));
    }
}
