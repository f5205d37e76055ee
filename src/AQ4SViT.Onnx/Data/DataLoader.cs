using AQ4SViT.Onnx.Core;


namespace AQ4SViT.Onnx.Data;

/// <summary>How <see cref="DataLoader"/> reads a dataset; every field may be left out (the CLI's data options).</summary>
public sealed record DataOptions
{
    /// <summary><c>idx</c>, <c>cifar</c>, <c>folder</c>, <c>npy</c>, <c>npz</c> or <c>frames</c>; null: detected from the path.</summary>
    public string? Format { get; init; }

    /// <summary>An images file (IDX or .npy) instead of a folder's usual names; needs <see cref="LabelsFile"/>.</summary>
    public string? ImagesFile { get; init; }

    public string? LabelsFile { get; init; }

    /// <summary><c>nchw</c> or <c>nhwc</c> for a 4-dimensional array whose shape does not tell.</summary>
    public string? Layout { get; init; }

    /// <summary>CIFAR-100: <c>fine</c> (100 classes, the default) or <c>coarse</c> (20 superclasses).</summary>
    public string CifarLabels { get; init; } = "fine";

    public ImagePrep Prep { get; init; } = ImagePrep.None;

    /// <summary>Seed of the stratified search/test split; null: <see cref="DataSplits.DefaultSeed"/>, except IDX data keeps its halves.</summary>
    public int? SplitSeed { get; init; }

    /// <summary>Image folders larger than this (decoded, after resize/crop) are streamed instead of held: 1 GiB.</summary>
    public const long DefaultStreamAboveBytes = 1L << 30;

    /// <summary>Image folders whose decoded images would take more bytes than this are decoded on demand (<see cref="ImageSet.IsStreamed"/>).</summary>
    public long StreamAboveBytes { get; init; } = DefaultStreamAboveBytes;

    public static DataOptions Default { get; } = new();
}

/// <summary>
/// Reads a dataset from a file or folder into one <see cref="ImageSet"/>, whatever its format, so that nothing after
/// it cares where the images came from. Detection, in order, for a folder: an IDX pair (<c>t10k-*</c>, <c>train-*</c>,
/// <c>NAME-images-idx?-ubyte</c>), CIFAR batches, <c>images.npy</c>/<c>x.npy</c> with labels, one <c>.npz</c>, a flat
/// folder with <c>labels.csv</c> or <c>val.txt</c>, class sub-folders of <c>.npz</c> frame files (<see cref="FrameReader"/>),
/// class sub-folders of images; for a file, its extension (<c>.npz</c>, <c>.npy</c>, <c>.bin</c>) or else IDX. A
/// 5-dimensional array <c>[N, T, C, H, W]</c> (<c>.npy</c>, or an <c>.npz</c> key <c>frames</c>/<c>x</c>/<c>images</c>) is
/// a frame set. Then the images are resized/cropped (frames are not), and the set is ordered into its search and test
/// halves (<see cref="DataSplits.Stratify"/>).
/// </summary>
public static class DataLoader
{
    private static readonly string[] s_formats = ["idx", "cifar", "folder", "npy", "npz", "frames"];
    private static readonly (string Images, string Labels)[] s_npyPairs = [("images.npy", "labels.npy"), ("x.npy", "y.npy"), ("frames.npy", "labels.npy")];
    private static readonly string[] s_npzImageKeys = ["images", "x", FrameReader.FramesKey];
    private static readonly string[] s_npzLabelKeys = ["labels", "y"];

    public static ImageSet Load(string? path, DataOptions options)
    {
        var (set, isIdx) = ReadPrepared(path, options);
        return options.SplitSeed is { } seed ? DataSplits.Stratify(set, seed)
            : isIdx ? set
            : DataSplits.Stratify(set, DataSplits.DefaultSeed);
    }

    /// <summary>The set in its file's order (resized and cropped, not split): what <see cref="Load"/> orders into halves.</summary>
    public static ImageSet LoadUnsplit(string? path, DataOptions options) => ReadPrepared(path, options).Set;

    private static (ImageSet Set, bool IsIdx) ReadPrepared(string? path, DataOptions options)
    {
        string? format = options.Format?.ToLowerInvariant();
        if (format is not null && !s_formats.Contains(format))
        {
            Throw.BadInput($"--data-format must be one of {string.Join(", ", s_formats)}; got '{options.Format}'");
        }

        var (set, isIdx) = Read(path, format, options);
        if (format == "frames" && !set.IsFrames)
        {
            Throw.BadInput($"{set.Source}: --data-format frames, but it holds {set.SampleText}, not [N, T, C, H, W] frames");
        }

        if (set.IsFrames)
        {
            return options.Prep.IsNone ? (set, false) : Throw.BadInput<(ImageSet, bool)>($"{set.Source}: --resize/--crop/--rgb-to-grey apply to images, not to event frames");
        }

        // Image folders are resized image by image while decoding (they may differ in size); the rest here.
        return (set.ItemNames is null ? options.Prep.Apply(set) : set, isIdx);
    }

    private static (ImageSet Set, bool IsIdx) Read(string? path, string? format, DataOptions options)
    {
        if (options.ImagesFile is { } imagesFile)
        {
            string labelsFile = options.LabelsFile ?? Throw.BadInput<string>("--images needs --labels FILE");
            bool npy = format is "npy" or "frames" || (format is null && imagesFile.EndsWith(".npy", StringComparison.OrdinalIgnoreCase));
            RequireFile(imagesFile, "images file");
            RequireFile(labelsFile, "labels file");
            return npy ? (LoadNpyPair(imagesFile, labelsFile, options.Layout), false) : (IdxReader.LoadPair(imagesFile, labelsFile, options.Layout, imagesFile), true);
        }

        if (string.IsNullOrEmpty(path))
        {
            return Throw.BadInput<(ImageSet, bool)>("no dataset: pass --data PATH");
        }

        if (File.Exists(path))
        {
            return ReadFile(path, format, options);
        }

        if (!Directory.Exists(path))
        {
            Throw.FileMissing(path, "dataset folder");
        }

        return ReadFolder(path, format, options);
    }

    private static (ImageSet Set, bool IsIdx) ReadFile(string path, string? format, DataOptions options)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        format ??= ext switch
        {
            ".npz" => "npz",
            ".npy" => "npy",
            ".bin" => "cifar",
            _ => "idx",
        };
        if (format == "frames")
        {
            // One array [N, T, C, H, W]: an .npz (keys frames/x/images and labels/y) or an .npy with its labels.
            format = ext == ".npz" ? "npz" : "npy";
        }

        switch (format)
        {
            case "npz":
                return (LoadNpz(path, options.Layout), false);
            case "npy":
                string labels = options.LabelsFile ?? NpyLabelsBeside(path);
                return (LoadNpyPair(path, labels, options.Layout), false);
            case "cifar":
                return (CifarReader.Load([path], options.CifarLabels, path), false);
            case "idx":
                string labelsFile = options.LabelsFile ?? IdxLabelsBeside(path);
                return (IdxReader.LoadPair(path, labelsFile, options.Layout, path), true);
            default:
                return Throw.BadInput<(ImageSet, bool)>($"{path}: --data-format {format} takes a folder of class sub-folders, not a file");
        }
    }

    private static (ImageSet Set, bool IsIdx) ReadFolder(string dir, string? format, DataOptions options)
    {
        if (format is null or "idx" && IdxReader.FindPair(dir) is { } idx)
        {
            return (IdxReader.LoadPair(idx.Images, idx.Labels, options.Layout, dir), true);
        }

        if (format is null or "cifar" && CifarReader.FindFiles(dir) is { Count: > 0 } batches)
        {
            return (CifarReader.Load(batches, options.CifarLabels, dir), false);
        }

        if (format is null or "npy" or "frames")
        {
            foreach (var (images, labels) in s_npyPairs)
            {
                if (File.Exists(Path.Combine(dir, images)))
                {
                    return (LoadNpyPair(Path.Combine(dir, images), Path.Combine(dir, labels), options.Layout), false);
                }
            }
        }

        if (format is null or "npz" or "frames" && Directory.EnumerateFiles(dir, "*.npz").Order(StringComparer.Ordinal).ToList() is { Count: > 0 } npz)
        {
            if (npz.Count > 1)
            {
                Throw.BadInput($"{dir}: holds {npz.Count} .npz files; pass --data FILE.npz");
            }

            return (LoadNpz(npz[0], options.Layout), false);
        }

        if (format is null or "frames" && FrameReader.IsFrameFolder(dir))
        {
            return (FrameReader.LoadFolder(dir), false);
        }

        if (format is null or "folder")
        {
            foreach (string list in new[] { ImageFolderReader.LabelsCsv, ImageFolderReader.ValTxt })
            {
                string listPath = Path.Combine(dir, list);
                if (File.Exists(listPath))
                {
                    var (files, labels) = ImageFolderReader.ScanList(dir, listPath);
                    return (ImageFolderReader.Load(files, labels, dir, options.Prep, options.StreamAboveBytes), false);
                }
            }

            if (ImageFolderReader.HasClassFolders(dir))
            {
                var (files, labels, _) = ImageFolderReader.ScanClasses(dir);
                return (ImageFolderReader.Load(files, labels, dir, options.Prep, options.StreamAboveBytes), false);
            }
        }

        string wanted = format switch
        {
            "idx" => "t10k-/train-images-idx3-ubyte[.gz] with its labels file",
            "cifar" => "test_batch.bin, data_batch_N.bin, test.bin or train.bin",
            "npy" => "images.npy + labels.npy or x.npy + y.npy",
            "npz" => "a .npz file",
            "folder" => "class sub-folders of images, or images with labels.csv or val.txt",
            "frames" => "class sub-folders of .npz frame files, frames.npy + labels.npy, or a .npz of frames [N, T, C, H, W]",
            _ => "an IDX pair, CIFAR batches, images.npy/labels.npy, a .npz, class sub-folders of images or of .npz frames, or labels.csv/val.txt",
        };
        return Throw.BadInput<(ImageSet, bool)>($"{dir}: no dataset found (looked for {wanted})");
    }

    private static ImageSet LoadNpyPair(string imagesPath, string labelsPath, string? layout)
    {
        RequireFile(labelsPath, "labels file");
        var images = NpyReader.ReadFile(imagesPath);
        var labels = NpyReader.ReadFile(labelsPath);
        return FromArrays(images, labels, imagesPath, labelsPath, layout, imagesPath);
    }

    private static ImageSet LoadNpz(string path, string? layout)
    {
        var arrays = NpyReader.ReadArchive(path, [.. s_npzImageKeys, .. s_npzLabelKeys]);
        string? imageKey = s_npzImageKeys.FirstOrDefault(arrays.ContainsKey);
        string? labelKey = s_npzLabelKeys.FirstOrDefault(arrays.ContainsKey);
        if (imageKey is null || labelKey is null)
        {
            Throw.BadFile(path, $"needs arrays 'images' (or 'x', or 'frames') and 'labels' (or 'y'); {(imageKey is null ? "no images" : "no labels")} found");
        }

        return FromArrays(arrays[imageKey], arrays[labelKey], $"{path}:{imageKey}", $"{path}:{labelKey}", layout, path);
    }

    private static ImageSet FromArrays(NpyArray images, NpyArray labels, string imagesName, string labelsName, string? layout, string source)
    {
        int[] labelValues = NpyReader.Labels(labels, labelsName);
        if (images.Shape.Length == 5)
        {
            return FrameReader.FromArray(images, labelValues, imagesName, labelsName, source);
        }

        if (images.Shape.Length == 0 || images.Shape[0] != labelValues.Length)
        {
            Throw.BadFile(imagesName, $"{(images.Shape.Length == 0 ? 0 : images.Shape[0])} images but {labelsName} has {labelValues.Length} labels");
        }

        if (images.Shape.Any(d => d == 0))
        {
            Throw.BadFile(imagesName, $"holds no images (shape {string.Join("x", images.Shape)})");
        }

        byte[] bytes = NpyReader.Pixels(images, imagesName);
        var (pixels, channels, rows, cols) = PixelLayout.ToChw(bytes, images.Shape, layout, imagesName);
        return new ImageSet(pixels, labelValues, channels, rows, cols, source) { LabelsFile = labelsName };
    }

    private static string NpyLabelsBeside(string imagesPath)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(imagesPath)) ?? ".";
        string name = Path.GetFileName(imagesPath);
        foreach (var (images, labels) in s_npyPairs)
        {
            if (name == images)
            {
                return Path.Combine(dir, labels);
            }
        }

        return Throw.BadInput<string>($"{imagesPath}: pass --labels FILE.npy (labels are found beside images.npy or x.npy only)");
    }

    private static string IdxLabelsBeside(string imagesPath)
    {
        string name = Path.GetFileName(imagesPath);
        int at = name.IndexOf("-images-idx", StringComparison.Ordinal);
        if (at < 0)
        {
            return Throw.BadInput<string>($"{imagesPath}: pass --labels FILE (an IDX labels file is found beside NAME-images-idx?-ubyte only)");
        }

        string labels = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(imagesPath)) ?? ".", name[..at] + "-labels-idx1-ubyte");
        return File.Exists(labels) ? labels : File.Exists(labels + ".gz") ? labels + ".gz" : Throw.BadInput<string>($"{labels}[.gz]: IDX file not found");
    }

    private static void RequireFile(string path, string what)
    {
        if (!File.Exists(path))
        {
            Throw.FileMissing(path, what);
        }
    }
}
