using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Models;
using AQ4SViT.Onnx.Ort;
using AQ4SViT.Onnx.Simulate;
using AQ4SViT.Onnx.Validate;
using CommandLine;
using CommandLine.Text;

namespace AQ4SViT.Cli.Commands;

[Verb("eval", HelpText = "Top-1 accuracy of a model on a split of its dataset, in our simulator or ONNX Runtime.")]
internal sealed class EvalCommand : DataFileOptions, ICommand
{
    [Value(0, MetaName = "MODEL", Required = true, HelpText = "The .onnx model.")]
    public string Model { get; set; } = "";

    [Option("split", Default = "all", HelpText = "search (first half), test (second half) or all.")]
    public string Split { get; set; } = "all";

    [Option("limit", HelpText = "Only the first N images of the split.")]
    public int? Limit { get; set; }

    [Option("engine", Default = "sim", HelpText = "sim (our LIF simulator) or ort (ONNX Runtime).")]
    public string Engine { get; set; } = "sim";

    [Option("device", Default = "cpu", HelpText = "cpu or cuda[:N] (ONNX Runtime only; falls back to the CPU with a message).")]
    public string Device { get; set; } = "cpu";

    [Option("threads", Default = 0, HelpText = "Threads (0: all cores).")]
    public int Threads { get; set; }

    [Option("batch", Default = 100, HelpText = "Images per batch.")]
    public int Batch { get; set; } = 100;

    [Usage(ApplicationAlias = "aq4svit")]
    public static IEnumerable<Example> Examples =>
    [
        Usage.Example("Float accuracy of the bundled Spikformer on the test split in ONNX Runtime",
            new EvalCommand { Model = "models/spikformer-fmnist/model.onnx", Split = "test", Engine = "ort" }),
    ];

    public int Run(CommandContext context)
    {
        if (Batch < 1)
        {
            Throw.BadInput($"--batch must be at least 1, got {Batch}");
        }

        var device = ComputeDevice.Parse(Device);
        string model = ResolveModel(Model);
        var card = ModelCard.TryLoadBeside(model);
        var scaling = ResolveScaling(card);
        var split = DataSplits.Parse(Split);
        var images = DataSplits.Select(LoadData(model, card), split, Limit);
        var rates = new FiringRates();
        using IClassifier classifier = EngineFactory.Create(Engine, model, scaling, Threads, device, line => context.Info($"aq4svit: {line}"), rates);
        var result = Evaluate(context, $"eval [{Engine.ToLowerInvariant()}]", classifier, images, Batch);
        if (Json)
        {
            context.WriteJson(new
            {
                engine = result.Engine,
                device = classifier is OrtClassifier ort ? ort.ActualDevice.ToString() : "cpu",
                images = result.Images,
                accuracy = result.Accuracy,
                images_per_second = result.ImagesPerSecond,
                split = Split.ToLowerInvariant(),
                firing_rates = rates.Rates().ToDictionary(r => r.Layer, r => r.Rate),
            });
        }
        else
        {
            context.Output.WriteLine($"{Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(model)))}: top-1 {result.Accuracy:P2} on {result.Images} images ({Split}), {result.ImagesPerSecond:F1} images/s [{result.Engine}]");
            foreach (var (layer, rate) in rates.Rates())
            {
                context.Output.WriteLine($"  firing rate {layer,-32} {rate,7:P2}");
            }
        }

        return ExitCodes.Success;
    }
}
