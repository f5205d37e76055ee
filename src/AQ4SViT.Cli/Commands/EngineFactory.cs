using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Ort;
using AQ4SViT.Onnx.Simulate;
using AQ4SViT.Onnx.Validate;

namespace AQ4SViT.Cli.Commands;

/// <summary>Makes the classifier that <c>--engine</c> names.</summary>
internal static class EngineFactory
{
    /// <summary>The classifier; <paramref name="device"/> applies to ONNX Runtime (the simulator runs on the CPU, and says so once).</summary>
    public static IClassifier Create(string engine, string modelPath, InputScaling scaling, int threads, ComputeDevice device, Action<string> onMessage, IMembraneObserver? observer = null)
    {
        switch (engine.ToLowerInvariant())
        {
            case "ort":
                return new OrtClassifier(modelPath, scaling, threads, device, onMessage);
            case "sim":
                if (device.IsCuda)
                {
                    onMessage($"the simulator runs on the CPU; --device {device} applies to --engine ort");
                }

                var simulator = Simulator.Load(modelPath, threads);
                foreach (string d in simulator.Graph.LifDiagnostics)
                {
                    onMessage($"warning: {d}");
                }

                return new SimClassifier(simulator, scaling) { Observer = observer };
            default:
                return Throw.BadInput<IClassifier>($"--engine must be sim or ort, got '{engine}'");
        }
    }
}
