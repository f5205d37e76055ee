using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Models;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Validate;
using CommandLine;
using CommandLine.Text;

namespace AQ4SViT.Cli.Commands;

[Verb("bench", HelpText = "Images per second of our simulator and ONNX Runtime on the same images, threads and batch.")]
internal sealed class BenchCommand : ModelOptions, ICommand
{
    [Value(0, MetaName = "MODEL", Required = true, HelpText = "The .onnx model.")]
    public string Model { get; set; } = "";

    [Option("threads", Default = 0, HelpText = "Threads for both engines (0: all cores).")]
    public int Threads { get; set; }

    [Option("batch", Default = 100, HelpText = "Images per batch.")]
    public int Batch { get; set; } = 100;

    [Option("ort-level", Default = "all", HelpText = "ONNX Runtime graph optimizations: all (fastest; its fusions round differently) or basic (the graph's arithmetic as written).")]
    public string OrtLevel { get; set; } = "all";

    [Option("images", Default = 500, HelpText = "Images to time (from the start of the evaluation set).")]
    public int Images { get; set; } = 500;

    [Option("calib", Default = 128, HelpText = "Calibration images for the drift-proxy timing (0: skip it).")]
    public int Calibration { get; set; } = 128;

    [Usage(ApplicationAlias = "aq4svit")]
    public static IEnumerable<Example> Examples =>
    [
        Usage.Example("Simulator vs ONNX Runtime throughput on the bundled Spikformer, 2 threads, batch 100",
            new BenchCommand { Model = "models/spikformer-fmnist/model.onnx", Threads = 2 }),
    ];

    public int Run(CommandContext context)
    {
        if (Batch < 1 || Images < 1)
        {
            Throw.BadInput($"--batch and --images must be at least 1 (got {Batch}, {Images})");
        }

        if (Calibration < 0)
        {
            Throw.BadInput($"--calib must be 0 (no proxy timing) or more, got {Calibration}");
        }

        string model = ResolveModel(Model);
        var card = ModelCard.TryLoadBeside(model);
        var scaling = ResolveScaling(card);
        var data = LoadData(model, card);
        var images = DataSplits.Select(data, DataSplit.All, Images);
        int threads = Threads <= 0 ? Environment.ProcessorCount : Threads;

        using var sim = new SimClassifier(model, scaling, threads);
        var level = OrtLevel.ToLowerInvariant() switch
        {
            "all" => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "basic" => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            _ => Throw.BadInput<Microsoft.ML.OnnxRuntime.GraphOptimizationLevel>($"--ort-level must be all or basic, got '{OrtLevel}'"),
        };
        using var ort = new OrtClassifier(model, scaling, threads, "cpu", optimization: level);

        // Warm up both on one batch, then time each over the same images.
        var warm = images.Slice(0, Math.Min(Batch, images.Count));
        Accuracy.Evaluate(sim, warm, Batch);
        Accuracy.Evaluate(ort, warm, Batch);
        var simResult = Evaluate(context, "bench [sim]", sim, images, Batch);
        var ortResult = Evaluate(context, "bench [ort]", ort, images, Batch);
        double ratio = ortResult.ImagesPerSecond > 0 ? simResult.ImagesPerSecond / ortResult.ImagesPerSecond : 0;
        float maxDiff = 0;
        for (int i = 0; i < simResult.Logits.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(simResult.Logits[i] - ortResult.Logits[i]));
        }

        int agree = Accuracy.CountSameTopOne(simResult.Logits, ortResult.Logits, simResult.Classes, images.Count);

        double agreement = images.Count == 0 ? 1 : (double)agree / images.Count;
        int searchSplit = DataSplits.Select(data, DataSplit.Search).Count;
        var proxy = Calibration > 0 ? ProxyTiming.Measure(OnnxModelFile.Load(model), scaling, DataSplits.Select(data, DataSplit.Search, Calibration), threads, Batch) : null;

        // A full evaluation of the search split, at the simulator's measured speed.
        double fullSplitSeconds = simResult.ImagesPerSecond > 0 ? searchSplit / simResult.ImagesPerSecond : 0;
        double? proxyShare = proxy is null || fullSplitSeconds <= 0 ? null : proxy.MeanSeconds / fullSplitSeconds;

        if (Json)
        {
            context.WriteJson(new
            {
                model = Path.GetFullPath(model),
                images = images.Count,
                threads,
                batch = Batch,
                sim_images_per_second = simResult.ImagesPerSecond,
                ort_images_per_second = ortResult.ImagesPerSecond,
                ratio,
                ort_level = OrtLevel.ToLowerInvariant(),
                max_abs_logit_diff = maxDiff,
                argmax_agreement = agreement,
                sim_accuracy = simResult.Accuracy,
                ort_accuracy = ortResult.Accuracy,
                search_split_images = searchSplit,
                proxy_calibration_images = proxy?.Images,
                proxy_candidates = proxy?.Candidates,
                proxy_seconds_mean = proxy?.MeanSeconds,
                proxy_seconds_max = proxy?.MaxSeconds,
                proxy_share_of_full_search_split = proxyShare,
            });
        }
        else
        {
            context.Output.WriteLine($"{images.Count} images, {threads} threads, batch {Batch}: sim {simResult.ImagesPerSecond:F1} images/s, ort {ortResult.ImagesPerSecond:F1} images/s, ratio {ratio:F2} (max |logit diff| {maxDiff:G3}, argmax agreement {agreement:P1}, top-1 sim {simResult.Accuracy:P2} ort {ortResult.Accuracy:P2})");
            if (proxy is not null)
            {
                context.Output.WriteLine($"drift proxy on {proxy.Images} calibration images, {proxy.Candidates} one-group 4-bit moves from the float model: mean {proxy.MeanSeconds:F3} s (max {proxy.MaxSeconds:F3} s) = {proxyShare:P2} of a full evaluation of the {searchSplit}-image search split ({fullSplitSeconds:F1} s at the simulator's speed above)");
            }
        }

        return ExitCodes.Success;
    }
}
