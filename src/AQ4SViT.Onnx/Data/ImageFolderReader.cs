using System.Globalization;
using SkiaSharp;
using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Data;

/// <summary>
/// Folders of image files, decoded with SkiaSharp: class sub-folders as torchvision's <c>ImageFolder</c> reads them
/// (classes are the sub-folder names in ordinal order, class i = label i; files found recursively, sorted), or a flat
/// folder with <c>labels.csv</c> (<c>file,label</c>) or <c>val.txt</c> (<c>file label</c>, the ImageNet validation list).
/// A folder whose images are all greyscale-encoded gives 1 channel, otherwise every image is decoded as RGB (as
/// torchvision's loader does, <c>convert('RGB')</c>: alpha dropped, not blended; no colour management or EXIF rotation).
/// </summary>
internal static class ImageFolderReader
{
    public const string LabelsCsv = "labels.csv";
    public const string ValTxt = "val.txt";

    // A decoded image never needs more bytes than deflate can expand its file to; a header that says otherwise lies.
    private const long MaxExpansion = 1100;
    private static readonly string[] s_extensions = [".png", ".jpg", ".jpeg", ".bmp", ".webp"];

    public static bool IsImage(string path) => s_extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>Sub-folders of <paramref name="directory"/> (ordinal order), when it has any and no image files of its own.</summary>
    public static bool HasClassFolders(string directory) =>
        Directory.EnumerateDirectories(directory).Any() && !Directory.EnumerateFiles(directory).Any(IsImage);

    /// <summary>Every image under the class sub-folders, with its class index; an empty class folder is an error.</summary>
    public static (IReadOnlyList<string> Files, int[] Labels, string[] Classes) ScanClasses(string directory) =>
        ScanClasses(directory, IsImage, $"images ({string.Join(", ", s_extensions)})");

    /// <summary>Every file <paramref name="isSample"/> takes under the class sub-folders, with its class index; an empty class folder is an error naming <paramref name="what"/>.</summary>
    public static (IReadOnlyList<string> Files, int[] Labels, string[] Classes) ScanClasses(string directory, Func<string, bool> isSample, string what)
    {
        var classes = Directory.EnumerateDirectories(directory).Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToArray();
        var files = new List<string>();
        var labels = new List<int>();
        for (int c = 0; c < classes.Length; c++)
        {
            string classDir = Path.Combine(directory, classes[c]);
            var found = Directory.EnumerateFiles(classDir, "*", SearchOption.AllDirectories)
                .Where(isSample)
                .OrderBy(f => Path.GetDirectoryName(f), StringComparer.Ordinal)
                .ThenBy(f => Path.GetFileName(f), StringComparer.Ordinal)
                .ToList();
            if (found.Count == 0)
            {
                Throw.BadFile(classDir, $"class folder '{classes[c]}' holds no {what}");
            }

            files.AddRange(found);
            labels.AddRange(Enumerable.Repeat(c, found.Count));
        }

        return (files, labels.ToArray(), classes);
    }

    /// <summary>
    /// A flat folder's images and labels from <c>labels.csv</c> (<c>file,label</c>, an optional <c>file,label</c> header) or
    /// <c>val.txt</c> (<c>file label</c>). Labels are class indices, or class names numbered in ordinal order.
    /// </summary>
    public static (IReadOnlyList<string> Files, int[] Labels) ScanList(string directory, string listPath)
    {
        bool csv = Path.GetFileName(listPath).EndsWith(".csv", StringComparison.OrdinalIgnoreCase);
        var entries = new List<(string File, string Label, int Line)>();
        string[] lines;
        try
        {
            lines = File.ReadAllLines(listPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Throw.BadInput<(IReadOnlyList<string>, int[])>($"{listPath}: cannot read ({e.Message})", e);
        }

        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0)
            {
                continue;
            }

            int at = csv ? line.LastIndexOf(',') : line.LastIndexOfAny([' ', '\t']);
            if (at <= 0)
            {
                Throw.BadFile(listPath, $"line {i + 1} is not '{(csv ? "file,label" : "file label")}': {line}");
            }

            string file = line[..at].Trim().Trim('"');
            string label = line[(at + 1)..].Trim().Trim('"');
            if (csv && entries.Count == 0 && i == 0 && file.Equals("file", StringComparison.OrdinalIgnoreCase))
            {
                continue; // header
            }

            entries.Add((file, label, i + 1));
        }

        if (entries.Count == 0)
        {
            Throw.BadFile(listPath, "lists no images");
        }

        bool numeric = entries.All(e => int.TryParse(e.Label, NumberStyles.None, CultureInfo.InvariantCulture, out _));
        var names = numeric ? null : entries.Select(e => e.Label).Distinct().Order(StringComparer.Ordinal).Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i);
        var files = new List<string>(entries.Count);
        var labels = new int[entries.Count];
        for (int i = 0; i < entries.Count; i++)
        {
            string path = Path.Combine(directory, entries[i].File);
            if (!File.Exists(path))
            {
                Throw.FileMissing(path, $"image listed on line {entries[i].Line} of {listPath}");
            }

            files.Add(path);
            labels[i] = numeric ? int.Parse(entries[i].Label, CultureInfo.InvariantCulture) : names![entries[i].Label];
        }

        return (files, labels);
    }

    /// <summary>
    /// Decodes <paramref name="files"/> into one set, each image resized and cropped as <paramref name="prep"/> says
    /// (one at a time, so memory is the output set plus one decoded image). Without a resize or crop every image must
    /// have the first one's size. A set of more than <paramref name="streamAboveBytes"/> is streamed: every header is
    /// checked now, and each image decoded when it is read.
    /// </summary>
    public static ImageSet Load(IReadOnlyList<string> files, int[] labels, string source, ImagePrep prep, long streamAboveBytes = DataOptions.DefaultStreamAboveBytes)
    {
        // Pass 1: headers only (sizes, colour), so a bad file is named before anything large is allocated.
        var infos = new (int Width, int Height, bool Grey)[files.Count];
        for (int i = 0; i < files.Count; i++)
        {
            infos[i] = Header(files[i]);
        }

        bool grey = infos.All(h => h.Grey);
        int channels = grey ? 1 : 3;
        int outChannels = prep.OutputChannels(channels);
        var (rows, cols) = prep.OutputSize(infos[0].Height, infos[0].Width);
        for (int i = 1; i < files.Count; i++)
        {
            var size = prep.OutputSize(infos[i].Height, infos[i].Width);
            if (size != (rows, cols))
            {
                Throw.BadFile(files[i], $"image is {infos[i].Width}x{infos[i].Height} but {Path.GetFileName(files[0])} is {infos[0].Width}x{infos[0].Height}; pass --resize N --crop N to bring them to one size");
            }
        }

        int perImage = outChannels * rows * cols;
        string[] names = [.. files];
        if ((long)perImage * files.Count > streamAboveBytes)
        {
            return ImageSet.Streamed(i => prep.Apply(Decode(names[i], infos[i].Width, infos[i].Height, grey), channels, infos[i].Height, infos[i].Width), labels, outChannels, rows, cols, source, names);
        }

        if ((long)perImage * files.Count > int.MaxValue / 2)
        {
            Throw.BadInput($"{source}: {files.Count} images of {outChannels}x{rows}x{cols} are more than this reader holds in memory; pass a smaller --crop");
        }

        var pixels = new byte[perImage * files.Count];
        for (int i = 0; i < files.Count; i++)
        {
            byte[] chw = Decode(files[i], infos[i].Width, infos[i].Height, grey);
            byte[] image = prep.Apply(chw, channels, infos[i].Height, infos[i].Width);
            image.CopyTo(pixels.AsSpan(i * perImage, perImage));
        }

        return new ImageSet(pixels, labels, outChannels, rows, cols, source, names);
    }

    private static (int Width, int Height, bool Grey) Header(string path)
    {
        using var codec = Open(path);
        var info = codec.Info;
        long bytes = (long)info.Width * info.Height * 4;
        long fileLength = new FileInfo(path).Length;
        if (info.Width <= 0 || info.Height <= 0 || bytes > fileLength * MaxExpansion || bytes > 1L << 28)
        {
            Throw.BadFile(path, $"declares a {info.Width}x{info.Height} image, more than its {fileLength} bytes can hold");
        }

        return (info.Width, info.Height, info.ColorType == SKColorType.Gray8);
    }

    private static SKCodec Open(string path)
    {
        SKCodec? codec;
        SKCodecResult result;
        try
        {
            codec = SKCodec.Create(path, out result);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Throw.BadInput<SKCodec>($"{path}: cannot read ({e.Message})", e);
        }

        return codec ?? Throw.BadInput<SKCodec>($"{path}: not a readable PNG, JPEG, BMP or WebP image ({result})");
    }

    /// <summary>The image as CHW bytes: its grey plane, or R, G, B planes (alpha dropped, values unpremultiplied).</summary>
    private static unsafe byte[] Decode(string path, int width, int height, bool grey)
    {
        using var codec = Open(path);
        var info = new SKImageInfo(width, height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, grey ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
        var buffer = new byte[info.BytesSize];
        SKCodecResult result;
        fixed (byte* p = buffer)
        {
            result = codec.GetPixels(info, (IntPtr)p);
        }

        if (result != SKCodecResult.Success)
        {
            Throw.BadFile(path, result == SKCodecResult.IncompleteInput ? "image is truncated" : $"image cannot be decoded ({result})");
        }

        if (grey)
        {
            return buffer;
        }

        int plane = width * height;
        var chw = new byte[3 * plane];
        for (int p = 0; p < plane; p++)
        {
            chw[p] = buffer[4 * p];
            chw[plane + p] = buffer[(4 * p) + 1];
            chw[(2 * plane) + p] = buffer[(4 * p) + 2];
        }

        return chw;
    }
}
