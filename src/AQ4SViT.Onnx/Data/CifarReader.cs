using AQ4SViT.Onnx.Core;


namespace AQ4SViT.Onnx.Data;

/// <summary>
/// CIFAR-10 and CIFAR-100 binary batches. A CIFAR-10 record is 1 label byte then 3,072 pixel bytes (the 32×32 red
/// plane, then green, then blue: CHW already); a CIFAR-100 record has a coarse (20 superclasses) and a fine (100
/// classes) label byte before the pixels. CIFAR-10 files are <c>data_batch_N.bin</c> and <c>test_batch.bin</c>,
/// CIFAR-100's <c>train.bin</c> and <c>test.bin</c>; other names are told by which record size divides the file.
/// </summary>
internal static class CifarReader
{
    public const int Side = 32;
    public const int PixelBytes = 3 * Side * Side;
    private static readonly string[] s_subfolders = ["", "cifar-10-batches-bin", "cifar-100-binary"];

    /// <summary>The CIFAR files of a folder (or a subfolder as the archives unpack): the test batch, else the training batches; empty when none.</summary>
    public static IReadOnlyList<string> FindFiles(string directory)
    {
        foreach (string sub in s_subfolders)
        {
            string dir = Path.Combine(directory, sub);
            if (!Directory.Exists(dir))
            {
                continue;
            }

            foreach (string test in new[] { "test_batch.bin", "test.bin" })
            {
                if (File.Exists(Path.Combine(dir, test)))
                {
                    return [Path.Combine(dir, test)];
                }
            }

            var batches = Directory.EnumerateFiles(dir, "data_batch_*.bin").Order(StringComparer.Ordinal).ToList();
            if (batches.Count > 0)
            {
                return batches;
            }

            if (File.Exists(Path.Combine(dir, "train.bin")))
            {
                return [Path.Combine(dir, "train.bin")];
            }
        }

        return [];
    }

    /// <summary>Reads and concatenates <paramref name="files"/>; <paramref name="labels"/> is <c>fine</c> or <c>coarse</c> (CIFAR-100 only).</summary>
    public static ImageSet Load(IReadOnlyList<string> files, string labels, string source)
    {
        bool coarse = labels.ToLowerInvariant() switch
        {
            "fine" => false,
            "coarse" => true,
            _ => Throw.BadInput<bool>($"--cifar-labels must be fine or coarse, got '{labels}'"),
        };
        var sizes = files.Select(f => RecordSize(f)).ToArray();
        long count = 0;
        for (int f = 0; f < files.Count; f++)
        {
            count += new FileInfo(files[f]).Length / sizes[f];
        }

        if (count * PixelBytes > int.MaxValue / 2)
        {
            Throw.BadFile(files[0], $"{count} images are more than this reader holds in memory");
        }

        var pixels = new byte[count * PixelBytes];
        var labelValues = new int[count];
        int at = 0;
        for (int f = 0; f < files.Count; f++)
        {
            int size = sizes[f];
            byte[] bytes = ReadAll(files[f]);
            int header = size - PixelBytes;
            if (coarse && header != 2)
            {
                Throw.BadFile(files[f], "--cifar-labels coarse: a CIFAR-10 file has no coarse labels");
            }

            for (int r = 0; r < bytes.Length / size; r++, at++)
            {
                labelValues[at] = bytes[(r * size) + (coarse ? 0 : header - 1)];
                bytes.AsSpan((r * size) + header, PixelBytes).CopyTo(pixels.AsSpan(at * PixelBytes, PixelBytes));
            }
        }

        return new ImageSet(pixels, labelValues, 3, Side, Side, source);
    }

    /// <summary>3,073 (CIFAR-10) or 3,074 (CIFAR-100) bytes a record, from the name or, failing that, the length.</summary>
    private static int RecordSize(string path)
    {
        if (!File.Exists(path))
        {
            Throw.FileMissing(path, "CIFAR batch");
        }

        long length = new FileInfo(path).Length;
        string name = Path.GetFileName(path);
        int size = name is "train.bin" or "test.bin" ? PixelBytes + 2
            : name.Contains("_batch", StringComparison.Ordinal) ? PixelBytes + 1
            : length % (PixelBytes + 1) == 0 ? PixelBytes + 1
            : length % (PixelBytes + 2) == 0 ? PixelBytes + 2
            : 0;
        if (size == 0 || length == 0 || length % size != 0)
        {
            Throw.BadFile(path, $"{length} bytes are not whole CIFAR records (3,073 bytes for CIFAR-10, 3,074 for CIFAR-100); truncated?");
        }

        return size;
    }

    private static byte[] ReadAll(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Throw.BadInput<byte[]>($"{path}: cannot read ({e.Message})", e);
        }
    }
}
