using AQ4SViT.Onnx.Models;
using AQ4SViT.Onnx.Runners;
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
        BenchRunner.CheckLimits(Batch, Images, Calibration);
        string model = ResolveModel(Model);
        var card = ModelCard.TryLoadBeside(model);
        var result = BenchRunner.Run(new BenchRequest
        {
            ModelPath = model,
            Scaling = ResolveScaling(card),
            Data = LoadData(model, card),
            Threads = Threads,
            Batch = Batch,
            OrtLevel = OrtLevel,
            Images = Images,
            Calibration = Calibration,
            Phase = (label, count, evaluate) => ConsoleUi.WithProgress(context, Quiet || Json, label, count, evaluate),
        }, context.Cancellation);
        var (images, threads, simResult, ortResult, ratio, ortLevel, maxDiff, agreement, searchSplit, proxy, fullSplitSeconds, proxyShare) = result;

        if (Json)
        {
            context.WriteJson(new
            {
                model = Path.GetFullPath(model),
                images,
                threads,
                batch = Batch,
                sim_images_per_second = simResult.ImagesPerSecond,
                ort_images_per_second = ortResult.ImagesPerSecond,
                ratio,
                ort_level = ortLevel,
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
            context.Output.WriteLine($"{images} images, {threads} threads, batch {Batch}: sim {simResult.ImagesPerSecond:F1} images/s, ort {ortResult.ImagesPerSecond:F1} images/s, ratio {ratio:F2} (max |logit diff| {maxDiff:G3}, argmax agreement {agreement:P1}, top-1 sim {simResult.Accuracy:P2} ort {ortResult.Accuracy:P2})");
            if (proxy is not null)
            {
                context.Output.WriteLine($"drift proxy on {proxy.Images} calibration images, {proxy.Candidates} one-group 4-bit moves from the float model: mean {proxy.MeanSeconds:F3} s (max {proxy.MaxSeconds:F3} s) = {proxyShare:P2} of a full evaluation of the {searchSplit}-image search split ({fullSplitSeconds:F1} s at the simulator's speed above)");
            }
        }

        return ExitCodes.Success;
    }
}
