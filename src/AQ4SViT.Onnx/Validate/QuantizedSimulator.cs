using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Validate;

/// <summary>Our simulator running a float model with the weights of a setting fake-quantized: what the search evaluated.</summary>
internal static class QuantizedSimulator
{
    /// <summary>A <see cref="QuantizedSimulatorFactory"/>: <c>validate --reference</c> compares ONNX Runtime on the emitted model with this.</summary>
    public static IClassifier Create(string referenceModelPath, Setting setting, InputScaling scaling, int threads) =>
        Create(OnnxModelFile.Load(referenceModelPath), setting, scaling, threads);

    /// <summary>The simulator of <paramref name="file"/> (loaded for this call: its tensor bytes are let go as they are decoded)
    /// with the weights of <paramref name="setting"/> fake-quantized.</summary>
    /// <remarks>
    /// The prepared graph's decoded weights are overwritten in place with their fake-quantized values from the weight
    /// table (nothing cached, one tensor's floats at a time), so a large model costs about one copy of its float
    /// weights, not three (protobuf, floats, overrides). The values are those of <see cref="WeightQuantizer.FakeQuantizeModel"/>.
    /// </remarks>
    public static IClassifier Create(OnnxModelFile file, Setting setting, InputScaling scaling, int threads)
    {
        var weights = WeightCatalog.Find(file);
        var bound = setting.IsBound ? setting : setting.Bind(weights);
        var graph = GraphLoader.Load(file, releaseInitializerData: true);
        var table = new WeightTable(graph, weights, bound.Options, cacheBytes: 0);
        for (int i = 0; i < weights.Count; i++)
        {
            int bits = bound.BitsOfWeight(weights[i].Name);
            if (bits < Setting.Fp32)
            {
                graph.OverwriteInitializer(weights[i].Name, table.At(i, bits));
            }
        }

        return new SimClassifier(new Simulator(graph, threads), scaling);
    }
}
