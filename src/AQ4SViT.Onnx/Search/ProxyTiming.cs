using System.Diagnostics;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Search;

/// <summary>What one drift proxy costs, as the search pays it: the float reference is recorded once, then each
/// candidate lowers one block group to 4 bits (a greedy move from the float model) and is scored on the calibration batch.</summary>
public sealed record ProxyTiming(int Images, int Candidates, double MeanSeconds, double MaxSeconds)
{
    /// <returns>Null when the model has no quantizable weight (nothing a search could move).</returns>
    /// <param name="model">The model, parsed once by the caller (its initializers' shapes name the weights; their bytes may have been let go).</param>
    /// <param name="graph">The model's prepared graph, decoded once by the caller (whose simulator may run it too; nothing here changes it); the weight table reads it.</param>
    public static ProxyTiming? Measure(OnnxModelFile model, SpikingGraph graph, InputScaling scaling, ImageSet calibration, int threads, int batch)
    {
        var catalog = WeightCatalog.Find(model);
        if (catalog.Count == 0 || calibration.Count == 0)
        {
            return null;
        }

        var weights = new WeightTable(graph, catalog, new QuantizationOptions());
        var backend = new SimulatorBackend(new Simulator(graph, threads), weights, calibration, calibration, scaling, batch);
        var groups = backend.Groups(Granularity.Block);
        var fp32 = BitVector.AllFloat(backend.WeightNames.Count);

        // One untimed candidate warms the kernels (and the JIT) up.
        backend.Proxy(fp32.With(groups[^1].Weights, 8), CancellationToken.None);
        var seconds = new List<double>(groups.Count);
        foreach (var group in groups)
        {
            var watch = Stopwatch.StartNew();
            backend.Proxy(fp32.With(group.Weights, 4), CancellationToken.None);
            seconds.Add(watch.Elapsed.TotalSeconds);
        }

        return new ProxyTiming(calibration.Count, seconds.Count, seconds.Average(), seconds.Max());
    }
}
