using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Errors;
using AQ4SViT.Onnx.Models;
using AQ4SViT.Onnx.Validate;
using CommandLine;

namespace AQ4SViT.Cli.Commands;

/// <summary>Options every verb that reads a model and a dataset shares.</summary>
internal abstract class ModelOptions
{
    [Option("data", HelpText = "Dataset folder in the MNIST layout (t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]). Default: the dataset named in the model's card.json.")]
    public string? Data { get; set; }

    [Option("scale", HelpText = "Input scaling: multiply pixels by this (default 1/255, or the card's).")]
    public float? Scale { get; set; }

    [Option("mean", HelpText = "Input scaling: subtract this after scaling (default 0).")]
    public float? Mean { get; set; }

    [Option("std", HelpText = "Input scaling: divide by this after subtracting the mean (default 1).")]
    public float? Std { get; set; }

    [Option("json", HelpText = "Print one JSON object on stdout and nothing else.")]
    public bool Json { get; set; }

    [Option("quiet", HelpText = "No progress on stderr: only the result (and errors).")]
    public bool Quiet { get; set; }

    /// <summary>The model to use: the path given, or the bundled Spikformer when <paramref name="path"/> is null.</summary>
    protected static string ResolveModel(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return ModelLocator.BundledModelPath();
        }

        if (!File.Exists(path))
        {
            Throw.FileMissing(path, "model");
        }

        return path;
    }

    protected InputScaling ResolveScaling(ModelCard? card)
    {
        var scaling = InputScaling.FromCard(card?.Input?.Scaling);
        scaling = new InputScaling(Scale ?? scaling.Scale, Mean ?? scaling.Mean, Std ?? scaling.Std);
        if (scaling.Std == 0 || !float.IsFinite(scaling.Scale) || !float.IsFinite(scaling.Mean) || !float.IsFinite(scaling.Std))
        {
            Throw.BadInput($"--scale/--mean/--std must be finite and --std non-zero (got {scaling.Scale}, {scaling.Mean}, {scaling.Std})");
        }

        return scaling;
    }

    /// <summary>Top-1 of <paramref name="classifier"/> over <paramref name="images"/>, with progress (unless --quiet or --json) and Ctrl-C between batches.</summary>
    protected EvalResult Evaluate(CommandContext context, string label, IClassifier classifier, ImageSet images, int batch) =>
        ConsoleUi.WithProgress(context, Quiet || Json, label, images.Count, progress => Accuracy.Evaluate(classifier, images, batch, progress, context.Cancellation));

    protected ImageSet LoadData(string modelPath, ModelCard? card) =>
        IdxReader.LoadEvaluationSet(ModelLocator.ResolveDataDirectory(modelPath, Data, card));
}
