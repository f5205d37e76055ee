using System.Buffers.Binary;
using System.IO.Compression;
using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Data;

/// <summary>
/// Reads the IDX format (MNIST, Fashion-MNIST; also 4-dimensional colour sets): big-endian magic 0x0000_08_DD (unsigned bytes, DD dimensions),
/// then DD big-endian int32 sizes, then the data. Files may be gzipped (<c>.gz</c>) or plain.
/// </summary>
internal static class IdxReader
{
    public const string TestImagesName = "t10k-images-idx3-ubyte";
    public const string TestLabelsName = "t10k-labels-idx1-ubyte";
    private const int UnsignedByteType = 0x08;
    private const long MaxDeflateRatio = 1100;

    public const string TrainImagesName = "train-images-idx3-ubyte";
    public const string TrainLabelsName = "train-labels-idx1-ubyte";

    /// <summary>Loads the evaluation set of a folder in the MNIST layout (t10k images and labels, gzipped or not).</summary>
    public static ImageSet LoadEvaluationSet(string directory)
    {
        if (!Directory.Exists(directory))
        {
            Throw.FileMissing(directory, "dataset folder");
        }

        var (images, labels) = FindPair(directory) ?? (FindFile(directory, TestImagesName), FindFile(directory, TestLabelsName));
        return LoadPair(images, labels, layout: null, directory);
    }

    /// <summary>
    /// The IDX pair of a folder: <c>t10k-*</c> (the test set) first, then <c>train-*</c>, then the one
    /// <c>*-images-idx*-ubyte[.gz]</c> file there with its <c>*-labels-idx1-ubyte[.gz]</c>; null when there is none.
    /// </summary>
    public static (string Images, string Labels)? FindPair(string directory)
    {
        foreach (var (images, labels) in new[] { (TestImagesName, TestLabelsName), (TrainImagesName, TrainLabelsName) })
        {
            if (TryFind(directory, images) is { } found)
            {
                return (found, FindFile(directory, labels));
            }
        }

        var others = Directory.EnumerateFiles(directory, "*-images-idx?-ubyte*").Order(StringComparer.Ordinal).ToList();
        if (others.Count == 0)
        {
            return null;
        }

        string name = Path.GetFileName(others[0]);
        int at = name.IndexOf("-images-idx", StringComparison.Ordinal);
        string labelsName = name[..at] + "-labels-idx1-ubyte";
        return (others[0], FindFile(directory, labelsName));
    }

    /// <summary>An IDX images file ([N,H,W] grey, [N,C,H,W] or [N,H,W,C]) and its labels file ([N]).</summary>
    public static ImageSet LoadPair(string imagesPath, string labelsPath, string? layout, string source)
    {
        var (images, imageDims) = ReadUnsignedBytes(imagesPath);
        var (labels, labelDims) = ReadUnsignedBytes(labelsPath);
        if (imageDims.Length is not (3 or 4))
        {
            Throw.BadFile(imagesPath, $"expected 3 dimensions (count, rows, cols) or 4 (with channels), found {imageDims.Length}");
        }

        if (labelDims.Length != 1)
        {
            Throw.BadFile(labelsPath, $"expected 1 dimension (count), found {labelDims.Length}");
        }

        if (imageDims[0] != labelDims[0])
        {
            Throw.BadFile(imagesPath, $"{imageDims[0]} images but {labelsPath} has {labelDims[0]} labels");
        }

        if (imageDims.Any(d => d == 0))
        {
            Throw.BadFile(imagesPath, $"holds no images ({imageDims[0]} of {string.Join("x", imageDims[1..])})");
        }

        var (pixels, channels, rows, cols) = PixelLayout.ToChw(images, imageDims, layout, imagesPath);
        return new ImageSet(pixels, Array.ConvertAll(labels, l => (int)l), channels, rows, cols, source) { LabelsFile = labelsPath };
    }

    private static string? TryFind(string directory, string name)
    {
        string plain = Path.Combine(directory, name);
        return File.Exists(plain) ? plain : File.Exists(plain + ".gz") ? plain + ".gz" : null;
    }

    private static string FindFile(string directory, string name)
    {
        if (TryFind(directory, name) is { } found)
        {
            return found;
        }

        Throw.FileMissing(Path.Combine(directory, name) + "[.gz]", "IDX file");
        return "";
    }

    /// <summary>Reads one IDX file of unsigned bytes; returns the data and its dimensions.</summary>
    public static (byte[] Data, int[] Dims) ReadUnsignedBytes(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            bool gzip = IsGzip(file);
            using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
            Span<byte> header = stackalloc byte[4];
            ReadExactly(stream, header, path, "magic number");
            if (header[0] != 0 || header[1] != 0)
            {
                Throw.BadFile(path, $"not an IDX file (magic 0x{BinaryPrimitives.ReadUInt32BigEndian(header):X8})");
            }

            if (header[2] != UnsignedByteType)
            {
                Throw.BadFile(path, $"IDX element type 0x{header[2]:X2} is not unsigned byte (0x08)");
            }

            int rank = header[3];
            if (rank is < 1 or > 4)
            {
                Throw.BadFile(path, $"IDX rank {rank} is out of 1..4");
            }

            var dims = new int[rank];
            long total = 1;
            for (int d = 0; d < rank; d++)
            {
                ReadExactly(stream, header, path, $"size of dimension {d}");
                int size = BinaryPrimitives.ReadInt32BigEndian(header);
                if (size < 0)
                {
                    Throw.BadFile(path, $"dimension {d} has negative size {size}");
                }

                dims[d] = size;
                if (size != 0 && total > long.MaxValue / size)
                {
                    Throw.BadFile(path, $"sizes {string.Join("x", dims[..(d + 1)])} declare more bytes than a 64-bit count holds");
                }

                total *= size;
            }

            // Check the declared size before allocating: a corrupt header must not ask for gigabytes.
            if (!gzip && total > file.Length - file.Position)
            {
                Throw.BadFile(path, $"declares {total} bytes of data but holds {file.Length - file.Position}");
            }

            // Deflate expands at most ~1032:1, so a gzip file cannot hold more than that many times its size.
            if (gzip && total > file.Length * MaxDeflateRatio)
            {
                Throw.BadFile(path, $"declares {total} bytes of data, more than its {file.Length} compressed bytes can hold");
            }

            if (total > int.MaxValue / 2)
            {
                Throw.BadFile(path, $"declares {total} bytes of data, more than this reader accepts");
            }

            var data = new byte[total];
            ReadExactly(stream, data, path, $"data ({total} bytes declared)");
            return (data, dims);
        }
        catch (InvalidDataException e)
        {
            return Throw.BadInput<(byte[], int[])>($"{path}: corrupt gzip stream ({e.Message})", e);
        }
        catch (IOException e) when (e is not EndOfStreamException)
        {
            return Throw.BadInput<(byte[], int[])>($"{path}: cannot read ({e.Message})", e);
        }
        catch (UnauthorizedAccessException e)
        {
            return Throw.BadInput<(byte[], int[])>($"{path}: cannot read ({e.Message})", e);
        }
    }

    /// <summary>Gzip is told by its magic bytes (1f 8b), not the file name; the stream is left at its start.</summary>
    private static bool IsGzip(FileStream file)
    {
        Span<byte> magic = stackalloc byte[2];
        int read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string path, string what)
    {
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (read < buffer.Length)
        {
            Throw.BadFile(path, $"truncated while reading {what}: got {read} of {buffer.Length} bytes");
        }
    }
}
