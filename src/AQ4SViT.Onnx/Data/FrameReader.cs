using AQ4SViT.Onnx.Core;


namespace AQ4SViT.Onnx.Data;

/// <summary>
/// Neuromorphic event frames (CIFAR10-DVS, DVS128 Gesture as SpikingJelly integrates them): SpikingJelly's per-sample
/// frame files — class sub-folders of <c>.npz</c> files, each with key <c>frames</c> of shape <c>[T, 2, H, W]</c>
/// (float32 or integer event counts), classes in ordinal order as torchvision's <c>DatasetFolder</c> numbers them — or
/// one array <c>[N, T, 2, H, W]</c> in a <c>.npy</c> (labels in their own <c>.npy</c>) or a <c>.npz</c>. Values are kept
/// as float32 as they are (counts may exceed 255; no scaling). Every sample must have the same shape; the whole set is
/// held in memory (frame sets are not streamed).
/// </summary>
internal static class FrameReader
{
    public const string FramesKey = "frames";

    /// <summary>Floats a frame set may hold: 2^28 (1 GiB); frame sets are held, not streamed.</summary>
    private const long MaxValues = 1L << 28;

    public static bool IsFrameFile(string path) => Path.GetExtension(path).Equals(".npz", StringComparison.OrdinalIgnoreCase);

    /// <summary>Class sub-folders holding <c>.npz</c> files (and no images): SpikingJelly's frame folder layout.</summary>
    public static bool IsFrameFolder(string directory)
    {
        if (!Directory.EnumerateDirectories(directory).Any() || Directory.EnumerateFiles(directory).Any(f => ImageFolderReader.IsImage(f) || IsFrameFile(f)))
        {
            return false;
        }

        var files = Directory.EnumerateDirectories(directory).SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories)).Take(64).ToList();
        return files.Any(IsFrameFile) && !files.Any(ImageFolderReader.IsImage);
    }

    /// <summary>Reads a frame folder: every <c>.npz</c> under its class sub-folders, key <c>frames</c>, one shape for all.</summary>
    public static ImageSet LoadFolder(string directory)
    {
        var (files, labels, _) = ImageFolderReader.ScanClasses(directory, IsFrameFile, "frame files (.npz)");
        int[]? shape = null;
        string first = files[0];
        float[] values = [];
        int perSample = 0;
        for (int i = 0; i < files.Count; i++)
        {
            var arrays = NpyReader.ReadArchive(files[i], [FramesKey]);
            if (!arrays.TryGetValue(FramesKey, out var frames))
            {
                Throw.BadFile(files[i], $"has no array '{FramesKey}' (SpikingJelly's frame files hold frames [T, 2, H, W])");
            }

            string name = $"{files[i]}:{FramesKey}";
            if (shape is null)
            {
                shape = CheckShape(frames.Shape, 4, name, "[T, 2, H, W]");
                perSample = (int)frames.Length;
                if ((long)perSample * files.Count > MaxValues)
                {
                    Throw.BadInput($"{directory}: {files.Count} samples of {Shape(shape)} values are more than this tool holds in memory (frame sets are not streamed)");
                }

                values = new float[(long)perSample * files.Count];
            }
            else if (!frames.Shape.SequenceEqual(shape))
            {
                string what = frames.Shape.Length == 4 && frames.Shape[0] != shape[0] && frames.Shape.AsSpan(1).SequenceEqual(shape.AsSpan(1))
                    ? $"has T = {frames.Shape[0]} time steps but {first} has T = {shape[0]}; every sample needs the same T"
                    : $"frames of shape {Shape(frames.Shape)} differ from {first}'s {Shape(shape)}; every sample needs one shape";
                Throw.BadFile(files[i], what);
            }

            NpyReader.Floats(frames, name).CopyTo(values.AsSpan(i * perSample, perSample));
        }

        return ImageSet.FromFrames(values, labels, shape![0], shape[1], shape[2], shape[3], directory, [.. files]);
    }

    /// <summary>
    /// A frame set from one array <c>[N, T, C, H, W]</c> (<paramref name="framesName"/> names it, e.g. <c>FILE.npz:frames</c>)
    /// and its labels.
    /// </summary>
    public static ImageSet FromArray(NpyArray frames, int[] labels, string framesName, string labelsName, string source)
    {
        int[] shape = CheckShape(frames.Shape, 5, framesName, "[N, T, 2, H, W]");
        if (shape[0] != labels.Length)
        {
            Throw.BadFile(framesName, $"{shape[0]} samples but {labelsName} has {labels.Length} labels");
        }

        if (frames.Length > MaxValues)
        {
            Throw.BadInput($"{framesName}: {frames.Length} values are more than this tool holds in memory (frame sets are not streamed)");
        }

        return ImageSet.FromFrames(NpyReader.Floats(frames, framesName), labels, shape[1], shape[2], shape[3], shape[4], source, labelsFile: labelsName);
    }

    private static int[] CheckShape(int[] shape, int rank, string name, string expected)
    {
        if (shape.Length != rank || shape.Any(d => d == 0))
        {
            Throw.BadFile(name, $"frames must have shape {expected} with no empty axis; found {Shape(shape)}");
        }

        return shape;
    }

    private static string Shape(int[] shape) => $"({string.Join(", ", shape)})";
}
