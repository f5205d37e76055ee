using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Validate;

/// <summary>Our simulator running a float model with the weights of a setting fake-quantized: what the search evaluated.</summary>
public static class QuantizedSimulator
{
    /// <summary>A <see cref="QuantizedSimulatorFactory"/>: <c>validate --reference</c> compares ONNX Runtime on the emitted model with this.</summary>
    /// <remarks>
    /// The model is read once and its decoded weights are fake-quantized in place (one tensor's scratch at a time), so a
    /// large model costs about one copy of its float weights, not three (protobuf, floats, overrides). The values are
    /// those of <see cref="WeightQuantizer.FakeQuantizeModel"/>.
    /// </remarks>
    public static IClassifier Create(string referenceModelPath, Setting setting, InputScaling scaling, int threads)
    {
        var file = OnnxModelFile.Load(referenceModelPath);
        var weights = WeightCatalog.Find(file);
        var bound = setting.IsBound ? setting : setting.Bind(weights);
        var graph = GraphLoader.Load(file, releaseInitializerData: true);
        foreach (var w in weights)
        {
            int bits = bound.BitsOfWeight(w.Name);
            if (bits >= Setting.Fp32)
            {
                continue;
            }

            float[] values = graph.InitializerFloats(w.Name);
            foreach (float v in values)
            {
                if (!float.IsFinite(v))
                {
                    Throw.BadTensor(w.Name, $"{referenceModelPath}: weight holds {v}; cannot quantize non-finite values");
                }
            }

            var grid = new float[values.Length];
            WeightQuantizer.FakeQuantize(values, w.Shape, w.ChannelAxis, bits, bound.Options, grid);
            graph.OverwriteInitializer(w.Name, grid);
        }

        return new SimClassifier(new Simulator(graph, threads), scaling);
    }
}
