using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;

namespace AQ4SViT.Onnx.Runners;

/// <summary>
/// A setting's weights as ONNX Runtime gets them, for full evaluations (<see cref="OrtFullEvaluator"/>) and drift proxies
/// (<see cref="OrtDriftProxy"/>) alike: the fake-quantized arrays the simulator takes as overrides
/// (<see cref="WeightTable.Overrides"/>), written as float initializers. Weights left at FP32 are not listed.
/// </summary>
internal static class CandidateWeights
{
    /// <param name="name">The initializer name of each weight (its own name, or the drift graph's candidate name).</param>
    public static List<TensorProto> Initializers(WeightTable weights, BitVector setting, Func<string, string> name)
    {
        var shapes = weights.Weights.ToDictionary(w => w.Name, w => w.Shape, StringComparer.Ordinal);
        return [.. weights.Overrides(setting.Bits).Select(o => QuantizedTensors.FloatTensor(name(o.Key), shapes[o.Key], o.Value))];
    }
}
