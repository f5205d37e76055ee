using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Validate;

/// <summary>Our simulator running a float model with the weights of a setting fake-quantized: what the search evaluated.</summary>
public static class QuantizedSimulator
{
    /// <summary>A <see cref="QuantizedSimulatorFactory"/>: <c>validate --reference</c> compares ONNX Runtime on the emitted model with this.</summary>
    public static IClassifier Create(string referenceModelPath, Setting setting, InputScaling scaling, int threads)
    {
        var overrides = WeightQuantizer.FakeQuantizeModel(OnnxModelFile.Load(referenceModelPath), setting);
        return new SimClassifier(Simulator.Load(referenceModelPath, threads), scaling, overrides);
    }
}
