using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Simulate;
using AQ4SViT.Onnx.Validate;

namespace AQ4SViT.Onnx.Runners;

/// <summary>Everything a <c>bench</c> run needs; the CLI fills it from options.</summary>
public sealed record BenchRequest
{
    /// <summary>The .onnx model.</summary>
    public required string ModelPath { get; init; }

    /// <summary>The evaluation set; the first <see cref="Images"/> are timed, its search split sizes the proxy comparison.</summary>
    public required ImageSet Data { get; init; }

    /// <summary>How pixels become the model's input.</summary>
    public InputScaling Scaling { get; init; } = InputScaling.PixelOver255;

    /// <summary>Threads for both engines (0: all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Images per batch.</summary>
    public int Batch { get; init; } = 100;

    /// <summary><c>--ort-level</c> as given: all (fastest; its fusions round differently) or basic (the graph's arithmetic as written).</summary>
    public string OrtLevel { get; init; } = "all";

    /// <summary>Images to time (from the start of <see cref="Data"/>).</summary>
    public int Images { get; init; } = 500;

    /// <summary>Calibration images for the drift-proxy timing (0: skip it).</summary>
    public int Calibration { get; init; } = 128;

    /// <summary>How each timed evaluation is run and shown; null: <see cref="EvaluationPhases.Direct"/>.</summary>
    public EvaluationPhase? Phase { get; init; }
}

/// <summary>What <c>bench</c> measured.</summary>
/// <param name="Images">Images timed.</param>
/// <param name="Threads">Threads both engines used.</param>
/// <param name="Sim">Our simulator on the timed images.</param>
/// <param name="Ort">ONNX Runtime (CPU) on the same images.</param>
/// <param name="Ratio">Simulator images/s over ONNX Runtime's (0 when ONNX Runtime measured none).</param>
/// <param name="OrtLevel">The ONNX Runtime optimization level, lower case.</param>
/// <param name="MaxAbsLogitDiff">Largest |sim − ort| over all logits.</param>
/// <param name="ArgmaxAgreement">Fraction of images whose top-1 class is the same in both.</param>
/// <param name="SearchSplitImages">Images in the search split of the data.</param>
/// <param name="Proxy">The drift-proxy timing; null when skipped.</param>
/// <param name="FullSplitSeconds">A full evaluation of the search split at the simulator's measured speed.</param>
/// <param name="ProxyShare">A drift proxy's mean time as a share of <paramref name="FullSplitSeconds"/>.</param>
public sealed record BenchResult(int Images, int Threads, EvalResult Sim, EvalResult Ort, double Ratio, string OrtLevel, float MaxAbsLogitDiff,
    double ArgmaxAgreement, int SearchSplitImages, ProxyTiming? Proxy, double FullSplitSeconds, double? ProxyShare);

/// <summary>
/// The <c>bench</c> pipeline: images per second of our simulator and ONNX Runtime on the same images, threads and batch,
/// how far their logits agree, and what a drift proxy costs next to a full evaluation.
/// </summary>
public static class BenchRunner
{
    /// <summary>Checks <c>--batch</c>, <c>--images</c> and <c>--calib</c> as given, before anything is loaded.</summary>
    public static void CheckLimits(int batch, int images, int calibration)
    {
        if (batch < 1 || images < 1)
        {
            Throw.BadInput($"--batch and --images must be at least 1 (got {batch}, {images})");
        }

        if (calibration < 0)
        {
            Throw.BadInput($"--calib must be 0 (no proxy timing) or more, got {calibration}");
        }
    }

    /// <summary>Runs <paramref name="request"/>; stops between batches when <paramref name="cancellation"/> fires.</summary>
    public static BenchResult Run(BenchRequest request, CancellationToken cancellation = default)
    {
        string model = request.ModelPath;
        var scaling = request.Scaling;
        var data = request.Data;
        int batch = request.Batch;
        var images = DataSplits.Select(data, DataSplit.All, request.Images);
        int threads = request.Threads <= 0 ? Environment.ProcessorCount : request.Threads;

        // Parsed once: the simulator's graph (its tensor bytes let go as they are decoded) is also the proxy timing's.
        var file = OnnxModelFile.Load(model);
        using var sim = new SimClassifier(new Simulator(GraphLoader.Load(file, releaseInitializerData: true), threads), scaling);
        var level = request.OrtLevel.ToLowerInvariant() switch
        {
            "all" => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "basic" => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            _ => Throw.BadInput<Microsoft.ML.OnnxRuntime.GraphOptimizationLevel>($"--ort-level must be all or basic, got '{request.OrtLevel}'"),
        };
        using var ort = new OrtClassifier(model, scaling, threads, "cpu", optimization: level);

        // Warm up both on one batch, then time each over the same images.
        var warm = images.Slice(0, Math.Min(batch, images.Count));
        Accuracy.Evaluate(sim, warm, batch);
        Accuracy.Evaluate(ort, warm, batch);
        var phase = request.Phase ?? EvaluationPhases.Direct;
        var simResult = phase("bench [sim]", images.Count, progress => Accuracy.Evaluate(sim, images, batch, progress, cancellation));
        var ortResult = phase("bench [ort]", images.Count, progress => Accuracy.Evaluate(ort, images, batch, progress, cancellation));
        double ratio = ortResult.ImagesPerSecond > 0 ? simResult.ImagesPerSecond / ortResult.ImagesPerSecond : 0;
        float maxDiff = 0;
        for (int i = 0; i < simResult.Logits.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(simResult.Logits[i] - ortResult.Logits[i]));
        }

        int agree = TopOne.CountSame(simResult.Logits, ortResult.Logits, simResult.Classes, images.Count);

        double agreement = images.Count == 0 ? 1 : (double)agree / images.Count;
        int searchSplit = DataSplits.Select(data, DataSplit.Search).Count;
        var proxy = request.Calibration > 0 ? ProxyTiming.Measure(file, sim.Simulator.Graph, scaling, DataSplits.Select(data, DataSplit.Search, request.Calibration), threads, batch) : null;

        // A full evaluation of the search split, at the simulator's measured speed.
        double fullSplitSeconds = simResult.ImagesPerSecond > 0 ? searchSplit / simResult.ImagesPerSecond : 0;
        double? proxyShare = proxy is null || fullSplitSeconds <= 0 ? null : proxy.MeanSeconds / fullSplitSeconds;
        return new BenchResult(images.Count, threads, simResult, ortResult, ratio, request.OrtLevel.ToLowerInvariant(), maxDiff, agreement, searchSplit, proxy, fullSplitSeconds, proxyShare);
    }
}
