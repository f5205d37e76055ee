using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Errors;
using AQ4SViT.Onnx.Simulate;
using AQ4SViT.Onnx.Validate;

namespace AQ4SViT.Cli.Commands;

/// <summary>Makes the classifier that <c>--engine</c> names.</summary>
internal static class EngineFactory
{
    public static IClassifier Create(string engine, string modelPath, InputScaling scaling, int threads, string device, Action<string> onMessage, IMembraneObserver? observer = null) =>
        engine.ToLowerInvariant() switch
        {
            "ort" => new OrtClassifier(modelPath, scaling, threads, device, onMessage),
            "sim" => new SimClassifier(Simulator.Load(modelPath, threads), scaling) { Observer = observer },
            _ => Throw.BadInput<IClassifier>($"--engine must be sim or ort, got '{engine}'"),
        };
}
