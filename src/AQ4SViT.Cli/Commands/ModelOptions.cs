using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Models;
using AQ4SViT.Onnx.Validate;
using CommandLine;

namespace AQ4SViT.Cli.Commands;

/// <summary>Options every verb that reads a model and a dataset shares.</summary>
internal abstract class ModelOptions
{
    [Option("data", HelpText = "Dataset file or folder, format detected: IDX (t10k-*/train-*, grey or 4-D colour), CIFAR-10/100 binary batches, class sub-folders of PNG/JPEG/BMP/WebP (or a flat folder with labels.csv or val.txt), images.npy + labels.npy, or a .npz; event frames (class sub-folders of SpikingJelly .npz frame files, frames.npy + labels.npy). Default: the dataset named in the model's card.json.")]
    public string? Data { get; set; }

    [Option("data-format", HelpText = "Force the dataset format: idx, cifar, folder, npy, npz or frames (event frames: class sub-folders of .npz files with key frames [T, 2, H, W], or one array [N, T, 2, H, W]).")]
    public string? DataFormat { get; set; }

    [Option("layout", HelpText = "nchw or nhwc, for 4-dimensional IDX/npy images whose shape does not tell.")]
    public string? Layout { get; set; }

    [Option("cifar-labels", Default = "fine", HelpText = "CIFAR-100: fine (100 classes) or coarse (20 superclasses).")]
    public string CifarLabels { get; set; } = "fine";

    [Option("resize", HelpText = "Resize each image's shorter side to N (bilinear, as torchvision's Resize(N) on a PIL image). Default: the card's preprocess.resize.")]
    public int? Resize { get; set; }

    [Option("crop", HelpText = "Centre-crop each image to NxN after --resize (torchvision's CenterCrop(N)). Default: the card's preprocess.crop.")]
    public int? Crop { get; set; }

    [Option("grey-to-rgb", HelpText = "Feed grey images to a 3-channel model by repeating the plane (otherwise a channel mismatch is an error).")]
    public bool GreyToRgb { get; set; }

    [Option("rgb-to-grey", HelpText = "Turn RGB images grey before resizing (torchvision's Grayscale(): Pillow's ITU-R 601-2 luma), for a 1-channel model.")]
    public bool RgbToGrey { get; set; }

    [Option("split-seed", HelpText = "Seed of the stratified search/test split (same share of each class in both halves). Default: 20, except IDX data keeps its first half / second half split.")]
    public int? SplitSeed { get; set; }

    [Option("scale", HelpText = "Input scaling: multiply pixels by this (default 1/255, or the card's).")]
    public float? Scale { get; set; }

    [Option("mean", HelpText = "Input scaling: subtract this after scaling; one number or one per channel, comma-separated (default 0, or the card's preprocess.mean).")]
    public string? Mean { get; set; }

    [Option("std", HelpText = "Input scaling: divide by this after subtracting the mean; one number or one per channel (default 1, or the card's preprocess.std).")]
    public string? Std { get; set; }

    [Option("json", HelpText = "Print one JSON object on stdout and nothing else.")]
    public bool Json { get; set; }

    [Option("quiet", HelpText = "No progress on stderr: only the result (and errors).")]
    public bool Quiet { get; set; }

    /// <summary>The model to use: the path given (a folder: its model.onnx), or the bundled Spikformer when <paramref name="path"/> is null.</summary>
    protected static string ResolveModel(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return ModelLocator.BundledModelPath();
        }

        return ModelLocator.ResolveModelPath(path);
    }

    /// <summary>The card's scaling and preprocess mean/std, overridden by --scale, --mean, --std and --grey-to-rgb.</summary>
    protected InputScaling ResolveScaling(ModelCard? card)
    {
        var pre = card?.Preprocess;
        return InputScaling.FromCard(card?.Input?.Scaling).With(
            scale: Scale,
            mean: Mean is null ? CardPreprocess.Numbers(pre?.Mean, "mean") : InputScaling.ParseList(Mean, "--mean"),
            std: Std is null ? CardPreprocess.Numbers(pre?.Std, "std") : InputScaling.ParseList(Std, "--std"),
            greyToRgb: GreyToRgb || pre?.GreyToRgb == true);
    }

    /// <summary>--images FILE (eval, search, validate; bench's --images is a count).</summary>
    protected virtual string? ImagesFile => null;

    /// <summary>--labels FILE (eval, search, validate).</summary>
    protected virtual string? LabelsFile => null;

    /// <summary>How to read --data (or the card's dataset): format, layout, resize/crop (options, else the card's), split seed.</summary>
    protected DataOptions ResolveDataOptions(ModelCard? card) => new()
    {
        Format = DataFormat,
        ImagesFile = ImagesFile,
        LabelsFile = LabelsFile,
        Layout = Layout,
        CifarLabels = CifarLabels,
        Prep = new ImagePrep(Resize ?? card?.Preprocess?.Resize, Crop ?? card?.Preprocess?.Crop, RgbToGrey || card?.Preprocess?.RgbToGrey == true),
        SplitSeed = SplitSeed,
    };

    /// <summary>Top-1 of <paramref name="classifier"/> over <paramref name="images"/>, with progress (unless --quiet or --json) and Ctrl-C between batches.</summary>
    protected EvalResult Evaluate(CommandContext context, string label, IClassifier classifier, ImageSet images, int batch) =>
        ConsoleUi.WithProgress(context, Quiet || Json, label, images.Count, progress => Accuracy.Evaluate(classifier, images, batch, progress, context.Cancellation));

    protected ImageSet LoadData(string modelPath, ModelCard? card) =>
        DataLoader.Load(ImagesFile is null ? ModelLocator.ResolveDataDirectory(modelPath, Data, card) : Data, ResolveDataOptions(card));
}

/// <summary>The verbs that also take an images/labels file pair by name.</summary>
internal abstract class DataFileOptions : ModelOptions
{
    [Option("images", HelpText = "Images file (IDX or .npy) with any name; needs --labels FILE.")]
    public string? Images { get; set; }

    [Option("labels", HelpText = "Labels file (IDX or .npy) for --images, or for a --data .npy/IDX file without the usual name beside it.")]
    public string? Labels { get; set; }

    protected override string? ImagesFile => Images;

    protected override string? LabelsFile => Labels;
}
