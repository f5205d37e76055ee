using AQ4SViT.Onnx.Core;


namespace AQ4SViT.Onnx.Data;

/// <summary>
/// Labelled samples, whatever file they came from. An image set: C channels (1 grey, 3 RGB) of H×W bytes, stored CHW
/// per image (plane by plane), images one after the other. A frame set (<see cref="IsFrames"/>, neuromorphic event
/// frames): <see cref="TimeSteps"/> frames of C×H×W floats per sample (event counts may exceed 255), stored TCHW per
/// sample (<see cref="Frames"/>). Every source in <see cref="DataLoader"/> yields one of these. A streamed set
/// (<see cref="IsStreamed"/>, image folders too large to hold) decodes each image when it is read; frame sets are held.
/// </summary>
public sealed class ImageSet
{
    private readonly byte[]? _pixels;

    // Frame sets: every sample's T·C·H·W floats, one sample after the other.
    private readonly float[]? _frames;

    // Streamed sets: decodes the image at a file index into CHW bytes (resized and cropped).
    private readonly Func<int, byte[]>? _decode;

    private int _maxLabel = -1;

    // Index of each image in its file, once a split or selection has reordered the set (null: the same as here).
    private int[]? _origins;

    /// <summary>A grey set (one channel), as read from an MNIST-layout IDX pair.</summary>
    public ImageSet(byte[] pixels, byte[] labels, int rows, int cols, string source)
        : this(pixels, Array.ConvertAll(labels, l => (int)l), 1, rows, cols, source)
    {
    }

    public ImageSet(byte[] pixels, int[] labels, int channels, int rows, int cols, string source, string[]? itemNames = null, SplitInfo? split = null)
        : this(labels, channels, rows, cols, source, itemNames, split ?? SplitInfo.Halves, origins: null)
    {
        if (channels <= 0 || rows <= 0 || cols <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"{source}: image size {channels}x{rows}x{cols} is not positive");
        }

        if (pixels.LongLength != (long)labels.Length * channels * rows * cols)
        {
            throw new ArgumentException($"{source}: {pixels.LongLength} pixels do not make {labels.Length} images of {channels}x{rows}x{cols}");
        }

        if (itemNames is not null && itemNames.Length != labels.Length)
        {
            throw new ArgumentException($"{source}: {itemNames.Length} names for {labels.Length} images");
        }

        _pixels = pixels;
    }

    private ImageSet(Func<int, byte[]> decode, int[] labels, int channels, int rows, int cols, string source, string[]? itemNames, SplitInfo split, int[]? origins)
        : this(labels, channels, rows, cols, source, itemNames, split, origins) => _decode = decode;

    private ImageSet(float[] frames, int[] labels, int timeSteps, int channels, int rows, int cols, string source, string[]? itemNames, SplitInfo split, int[]? origins)
        : this(labels, channels, rows, cols, source, itemNames, split, origins)
    {
        _frames = frames;
        TimeSteps = timeSteps;
    }

    /// <summary>What every kind of set has (the pixels, frames or decoder are the caller's to set).</summary>
    private ImageSet(int[] labels, int channels, int rows, int cols, string source, string[]? itemNames, SplitInfo split, int[]? origins)
    {
        Labels = labels;
        Channels = channels;
        Rows = rows;
        Cols = cols;
        Source = source;
        ItemNames = itemNames;
        Split = split;
        _origins = origins;
    }

    /// <summary>
    /// A frame set: <paramref name="frames"/> holds each sample's <paramref name="timeSteps"/> frames of
    /// <paramref name="channels"/>×<paramref name="rows"/>×<paramref name="cols"/> floats (TCHW), samples one after the other.
    /// </summary>
    public static ImageSet FromFrames(float[] frames, int[] labels, int timeSteps, int channels, int rows, int cols, string source, string[]? itemNames = null, string? labelsFile = null)
    {
        if (timeSteps <= 0 || channels <= 0 || rows <= 0 || cols <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(timeSteps), $"{source}: frame size {timeSteps}x{channels}x{rows}x{cols} is not positive");
        }

        if (frames.LongLength != (long)labels.Length * timeSteps * channels * rows * cols)
        {
            throw new ArgumentException($"{source}: {frames.LongLength} values do not make {labels.Length} samples of {timeSteps}x{channels}x{rows}x{cols}");
        }

        if (itemNames is not null && itemNames.Length != labels.Length)
        {
            throw new ArgumentException($"{source}: {itemNames.Length} names for {labels.Length} samples");
        }

        return new ImageSet(frames, labels, timeSteps, channels, rows, cols, source, itemNames, SplitInfo.Halves, origins: null) { LabelsFile = labelsFile };
    }

    /// <summary>Every image's bytes, one after the other; a streamed set has none (read <see cref="Image"/>), nor has a frame set (read <see cref="Frames"/>).</summary>
    public byte[] Pixels => _pixels ?? throw new InvalidOperationException($"{Source}: a {(IsFrames ? "frame" : "streamed")} set has no pixel array");

    /// <summary>Time steps per sample of a frame set (the frames are data, each its own); 0 for an image set.</summary>
    public int TimeSteps { get; }

    /// <summary>Samples are event frames (<see cref="TimeSteps"/> × C × H × W floats), not images.</summary>
    public bool IsFrames => _frames is not null;

    /// <summary>Floats of one frame-set sample: TimeSteps · Channels · Rows · Cols.</summary>
    public int ValuesPerSample => TimeSteps * Channels * Rows * Cols;

    /// <summary>What one sample is, for messages: "images of CxHxW" or "frames of TxCxHxW".</summary>
    public string SampleText => IsFrames ? $"frames of {TimeSteps}x{Channels}x{Rows}x{Cols}" : $"images of {Channels}x{Rows}x{Cols}";

    /// <summary>Images are decoded when read rather than held (memory: one image per reader at a time).</summary>
    public bool IsStreamed => _decode is not null;

    /// <summary>Class index of each image (0-based; ints because ImageNet has 1,000 classes).</summary>
    public int[] Labels { get; }

    public int Channels { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int Count => Labels.Length;

    /// <summary>Bytes of one image: Channels · Rows · Cols.</summary>
    public int PixelsPerImage => Channels * Rows * Cols;

    public int Plane => Rows * Cols;

    /// <summary>Where the images came from (the folder or file), for messages.</summary>
    public string Source { get; }

    /// <summary>The file each image came from (image folders), else null: messages then name <see cref="Source"/>.</summary>
    public string[]? ItemNames { get; }

    /// <summary>The file the labels came from when it is not <see cref="Source"/> (an IDX or .npy labels file), for messages.</summary>
    public string? LabelsFile { get; init; }

    /// <summary>How the search and test halves were made (<see cref="DataSplits.Stratify"/>).</summary>
    public SplitInfo Split { get; }

    /// <summary>The largest label (cached), -1 for an empty set.</summary>
    public int MaxLabel
    {
        get
        {
            if (_maxLabel < 0 && Labels.Length > 0)
            {
                _maxLabel = Labels.Max();
            }

            return _maxLabel;
        }
    }

    /// <summary>
    /// A set whose image i is <paramref name="decode"/>(i) (CHW bytes of channels × rows × cols), decoded each time it is
    /// read; <paramref name="decode"/> may be called from several threads at once.
    /// </summary>
    internal static ImageSet Streamed(Func<int, byte[]> decode, int[] labels, int channels, int rows, int cols, string source, string[]? itemNames) =>
        new(decode, labels, channels, rows, cols, source, itemNames, SplitInfo.Halves, origins: null);

    /// <summary>The frames of sample <paramref name="index"/> of a frame set: TimeSteps × C × H × W floats.</summary>
    public ReadOnlySpan<float> Frames(int index)
    {
        float[] frames = _frames ?? throw new InvalidOperationException($"{Source}: an image set has no frames; read Image(i)");
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
        return frames.AsSpan(index * ValuesPerSample, ValuesPerSample);
    }

    public ReadOnlySpan<byte> Image(int index)
    {
        if (_frames is not null)
        {
            throw new InvalidOperationException($"{Source}: a frame set has no images; read Frames(i)");
        }

        if (_decode is null)
        {
            return _pixels.AsSpan(index * PixelsPerImage, PixelsPerImage);
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
        byte[] image = _decode(Origin(index));
        return image.Length == PixelsPerImage
            ? image
            : throw new InvalidOperationException($"{NameOf(index)}: decoded {image.Length} bytes, expected {PixelsPerImage}");
    }

    /// <summary>Where image <paramref name="index"/> of this set is in its file (0-based), whatever split or selection made the set.</summary>
    public int Origin(int index) => _origins?[index] ?? index;

    /// <summary>The file image <paramref name="index"/> came from, or "SOURCE (image i)" with i its place in the file.</summary>
    public string NameOf(int index) => ItemNames?[index] ?? $"{Source} (image {Origin(index)})";

    /// <summary>Where the label of image <paramref name="index"/> came from: its file, or "LABELS FILE (image i)".</summary>
    public string LabelNameOf(int index) => ItemNames?[index] ?? $"{LabelsFile ?? Source} (image {Origin(index)})";

    /// <summary>Every label lies in 0..classes-1, or one line naming the first image (and file) that does not.</summary>
    public void CheckLabels(int classes, string model)
    {
        if (MaxLabel < classes)
        {
            return;
        }

        int i = Array.FindIndex(Labels, l => l >= classes);
        Throw.BadInput($"{LabelNameOf(i)}: label {Labels[i]} is outside the {classes} classes (0..{classes - 1}) of {model}");
    }

    /// <summary>The same images and labels with new pixels (resized, cropped, grey), everything else kept.</summary>
    internal ImageSet WithPixels(byte[] pixels, int channels, int rows, int cols) =>
        new(pixels, Labels, channels, rows, cols, Source, ItemNames, Split) { LabelsFile = LabelsFile, _origins = _origins };

    /// <summary>Images <paramref name="indices"/>[0], [1], … as a new set (copies).</summary>
    public ImageSet Select(IReadOnlyList<int> indices) => Select(indices, Split);

    internal ImageSet Select(IReadOnlyList<int> indices, SplitInfo split)
    {
        int[] labels = [.. indices.Select(i => Labels[i])];
        string[]? names = ItemNames is null ? null : [.. indices.Select(i => ItemNames[i])];
        int[] origins = [.. indices.Select(Origin)];
        if (_decode is not null)
        {
            // Streamed: only the bookkeeping moves; images stay in their files.
            return new ImageSet(_decode, labels, Channels, Rows, Cols, Source, names, split, origins) { LabelsFile = LabelsFile };
        }

        if (_frames is not null)
        {
            var frames = new float[(long)indices.Count * ValuesPerSample];
            for (int i = 0; i < indices.Count; i++)
            {
                Frames(indices[i]).CopyTo(frames.AsSpan(i * ValuesPerSample, ValuesPerSample));
            }

            return new ImageSet(frames, labels, TimeSteps, Channels, Rows, Cols, Source, names, split, origins) { LabelsFile = LabelsFile };
        }

        var pixels = new byte[(long)indices.Count * PixelsPerImage];
        for (int i = 0; i < indices.Count; i++)
        {
            Image(indices[i]).CopyTo(pixels.AsSpan(i * PixelsPerImage, PixelsPerImage));
        }

        return new ImageSet(pixels, labels, Channels, Rows, Cols, Source, names, split) { LabelsFile = LabelsFile, _origins = origins };
    }

    /// <summary>A contiguous range of images as a new set (copies).</summary>
    public ImageSet Slice(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Count)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"{Source}: images {start}..{start + count - 1} out of 0..{Count - 1}");
        }

        if (_decode is not null || _frames is not null)
        {
            return Select(Enumerable.Range(start, count).ToArray(), Split);
        }

        return new ImageSet(
            _pixels.AsSpan(start * PixelsPerImage, count * PixelsPerImage).ToArray(),
            Labels.AsSpan(start, count).ToArray(),
            Channels,
            Rows,
            Cols,
            Source,
            ItemNames?.AsSpan(start, count).ToArray(),
            Split)
        {
            LabelsFile = LabelsFile,
            _origins = _origins?.AsSpan(start, count).ToArray() ?? (start == 0 ? null : Enumerable.Range(start, count).ToArray()),
        };
    }
}

/// <summary>
/// How an evaluation set was ordered into its search half (first) and test half (second): <c>first-half</c> (the
/// file's own order, seed null) or <c>stratified</c> (a seeded per-class shuffle); the sizes are those of the whole halves.
/// </summary>
public sealed record SplitInfo(string Method, int? Seed)
{
    public static SplitInfo Halves { get; } = new("first-half", null);
}
