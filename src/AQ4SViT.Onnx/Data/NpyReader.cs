using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Data;

/// <summary>One array of a <c>.npy</c> file: its dtype text (e.g. <c>|u1</c>, <c>&lt;f4</c>, <c>&lt;i8</c>), shape and raw C-order bytes.</summary>
internal sealed record NpyArray(string Descr, int[] Shape, byte[] Data)
{
    public long Length => Shape.Aggregate(1L, (a, d) => a * d);
}

/// <summary>
/// Reads NumPy's <c>.npy</c> format (magic <c>\x93NUMPY</c>, version, a little-endian header length — 2 bytes in
/// version 1, 4 in 2 and 3 — then a Python dict literal with <c>descr</c>, <c>fortran_order</c>, <c>shape</c>, then the
/// data) and <c>.npz</c> (a ZIP of <c>NAME.npy</c> entries). Declared sizes are checked against the bytes there are
/// before anything is allocated.
/// </summary>
internal static partial class NpyReader
{
    private const long MaxDeflateRatio = 1100;
    private static readonly byte[] s_magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static NpyArray ReadFile(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            return Read(file, file.Length, path);
        }
        catch (IOException e) when (e is not EndOfStreamException)
        {
            return Throw.BadInput<NpyArray>($"{path}: cannot read ({e.Message})", e);
        }
        catch (UnauthorizedAccessException e)
        {
            return Throw.BadInput<NpyArray>($"{path}: cannot read ({e.Message})", e);
        }
    }

    /// <summary>The arrays of an <c>.npz</c> by key (entry name without <c>.npy</c>), only those named in <paramref name="wanted"/>.</summary>
    public static Dictionary<string, NpyArray> ReadArchive(string path, IReadOnlyCollection<string> wanted)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var arrays = new Dictionary<string, NpyArray>();
            foreach (var entry in zip.Entries)
            {
                string key = entry.FullName.EndsWith(".npy", StringComparison.Ordinal) ? entry.FullName[..^4] : entry.FullName;
                if (!wanted.Contains(key))
                {
                    continue;
                }

                // The entry's declared size must itself be one its compressed bytes can hold.
                if (entry.Length > Math.Max(entry.CompressedLength, 1) * MaxDeflateRatio)
                {
                    Throw.BadFile(path, $"entry '{entry.FullName}' declares {entry.Length} bytes, more than its {entry.CompressedLength} compressed bytes can hold");
                }

                using var stream = entry.Open();
                arrays[key] = Read(stream, entry.Length, $"{path}:{entry.FullName}");
            }

            return arrays;
        }
        catch (InvalidDataException e)
        {
            return Throw.BadInput<Dictionary<string, NpyArray>>($"{path}: not a readable .npz (ZIP) archive ({e.Message})", e);
        }
        catch (IOException e) when (e is not EndOfStreamException)
        {
            return Throw.BadInput<Dictionary<string, NpyArray>>($"{path}: cannot read ({e.Message})", e);
        }
    }

    /// <summary>Reads one array from <paramref name="stream"/>, which holds <paramref name="length"/> bytes.</summary>
    private static NpyArray Read(Stream stream, long length, string name)
    {
        Span<byte> prefix = stackalloc byte[10];
        ReadExactly(stream, prefix[..8], name, "the .npy magic and version");
        if (!prefix[..6].SequenceEqual(s_magic))
        {
            Throw.BadFile(name, "not a .npy file (no \\x93NUMPY magic)");
        }

        int major = prefix[6];
        long headerLength;
        int prefixLength;
        if (major == 1)
        {
            ReadExactly(stream, prefix.Slice(8, 2), name, "the header length");
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix.Slice(8, 2));
            prefixLength = 10;
        }
        else if (major is 2 or 3)
        {
            Span<byte> four = stackalloc byte[4];
            ReadExactly(stream, four, name, "the header length");
            headerLength = BinaryPrimitives.ReadUInt32LittleEndian(four);
            prefixLength = 12;
        }
        else
        {
            return Throw.BadInput<NpyArray>($"{name}: .npy version {major}.{prefix[7]} is not 1, 2 or 3");
        }

        if (headerLength > length - prefixLength || headerLength > 1 << 20)
        {
            Throw.BadFile(name, $"declares a {headerLength}-byte header in {length} bytes");
        }

        var headerBytes = new byte[headerLength];
        ReadExactly(stream, headerBytes, name, "the header");
        string header = Encoding.Latin1.GetString(headerBytes);
        string descr = Field(DescrPattern(), header, name, "descr");
        if (Field(FortranPattern(), header, name, "fortran_order") == "True")
        {
            Throw.BadFile(name, "is in Fortran order; save it C-ordered (np.ascontiguousarray)");
        }

        string shapeText = Field(ShapePattern(), header, name, "shape");
        // A Python tuple: "(5,)" ends in a comma, "()" is a scalar; an empty entry anywhere else ("(1, , 4)") is not a tuple.
        string[] entries = shapeText.Split(',', StringSplitOptions.TrimEntries);
        int[] shape = entries.Where((d, i) => !(d.Length == 0 && i == entries.Length - 1))
            .Select(d => int.TryParse(d, out int v) && v >= 0 ? v : Throw.BadInput<int>($"{name}: shape ({shapeText}) is not a tuple of sizes"))
            .ToArray();
        int itemSize = ItemSize(descr, name);
        long total = itemSize;
        foreach (int d in shape)
        {
            // A product past 2^63 would wrap (to a negative or small size); NumPy itself calls such an array too big.
            total = d == 0 || total <= long.MaxValue / d ? total * d : Throw.BadInput<long>($"{name}: shape ({shapeText}) of {descr} declares more bytes than a 64-bit count holds");
        }

        long available = length - prefixLength - headerLength;
        if (total > available)
        {
            Throw.BadFile(name, $"declares {total} bytes of data (shape ({shapeText}), {descr}) but holds {available}");
        }

        if (total > int.MaxValue / 2)
        {
            Throw.BadFile(name, $"declares {total} bytes of data, more than this reader accepts");
        }

        var data = new byte[total];
        ReadExactly(stream, data, name, $"data ({total} bytes declared)");
        return new NpyArray(descr, shape, data);
    }

    private static int ItemSize(string descr, string name) => descr switch
    {
        "|u1" or "|i1" or "|b1" or "u1" or "i1" => 1,
        "<u2" or "<i2" => 2,
        "<u4" or "<i4" or "<f4" => 4,
        "<u8" or "<i8" or "<f8" => 8,
        _ => Throw.BadInput<int>($"{name}: dtype '{descr}' is not supported (uint8, float32/64 images; integer labels; little-endian)"),
    };

    private static string Field(Regex pattern, string header, string name, string key)
    {
        var m = pattern.Match(header);
        return m.Success ? m.Groups[1].Value : Throw.BadInput<string>($"{name}: .npy header has no '{key}' ({header.Trim()})");
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string name, string what)
    {
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (read < buffer.Length)
        {
            Throw.BadFile(name, $"truncated while reading {what}: got {read} of {buffer.Length} bytes");
        }
    }

    /// <summary>Labels as ints, from any integer dtype (or integral floats); one per image.</summary>
    public static int[] Labels(NpyArray array, string name)
    {
        if (array.Shape.Length != 1 && !(array.Shape.Length == 2 && array.Shape[1] == 1))
        {
            Throw.BadFile(name, $"labels must be one number per image, shape (N,); found ({string.Join(", ", array.Shape)})");
        }

        int n = array.Shape[0];
        var labels = new int[n];
        bool floats = array.Descr is "<f4" or "<f8";
        if (!floats && !IsInteger(array.Descr))
        {
            Throw.BadInput($"{name}: labels of dtype '{array.Descr}' are not supported");
        }

        for (int i = 0; i < n; i++)
        {
            double v = Element(array.Data, array.Descr, i);
            if (floats && (v != Math.Floor(v) || !double.IsFinite(v)))
            {
                Throw.BadInput($"{name}: label {v} of image {i} is not an integer");
            }

            if (v is < 0 or > int.MaxValue)
            {
                Throw.BadFile(name, $"label {v} of image {i} is not a class index");
            }

            labels[i] = (int)v;
        }

        return labels;
    }

    /// <summary>
    /// Pixels as bytes: uint8 as they are; float32/64 images in [0, 1] (what <c>ToTensor</c> gives) times 255, or in
    /// [0, 255], rounded to the nearest byte (exact for data that came from bytes).
    /// </summary>
    public static byte[] Pixels(NpyArray array, string name)
    {
        if (array.Descr is "|u1" or "u1")
        {
            return array.Data;
        }

        if (array.Descr is not ("<f4" or "<f8"))
        {
            return Throw.BadInput<byte[]>($"{name}: images of dtype '{array.Descr}' are not supported (uint8, float32 or float64)");
        }

        int size = array.Descr == "<f4" ? 4 : 8;
        int n = array.Data.Length / size;
        double Value(int i) => size == 4
            ? BinaryPrimitives.ReadSingleLittleEndian(array.Data.AsSpan(i * 4))
            : BinaryPrimitives.ReadDoubleLittleEndian(array.Data.AsSpan(i * 8));

        // Two passes over the data (range, then bytes) rather than a copy as doubles.
        double max = 0;
        for (int i = 0; i < n; i++)
        {
            double v = Value(i);
            if (!double.IsFinite(v) || v < 0 || v > 255)
            {
                Throw.BadFile(name, $"pixel value {v} (element {i}) is outside [0, 1] and [0, 255]; pass images before Normalize");
            }

            max = Math.Max(max, v);
        }

        double factor = max <= 1.0 ? 255.0 : 1.0;
        var pixels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            pixels[i] = (byte)Math.Round(Value(i) * factor, MidpointRounding.AwayFromZero);
        }

        return pixels;
    }

    /// <summary>
    /// Values as float32, from any numeric dtype (event counts as uint8/int16/int32/int64, float32/64 frames), as they are:
    /// no scaling (frames are data, not pixels). Non-finite values are bad input.
    /// </summary>
    public static float[] Floats(NpyArray array, string name)
    {
        int size = ItemSize(array.Descr, name);
        int n = array.Data.Length / size;
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            double v = Element(array.Data, array.Descr, i);
            values[i] = (float)v;
            if (!float.IsFinite(values[i]))
            {
                Throw.BadFile(name, $"value {v} (element {i}) is not a finite float32");
            }
        }

        return values;
    }

    private static bool IsInteger(string descr) => descr is "|u1" or "u1" or "|b1" or "|i1" or "i1" or "<u2" or "<i2" or "<u4" or "<i4" or "<i8" or "<u8";

    /// <summary>Element <paramref name="i"/> of a little-endian numeric array (a dtype <see cref="ItemSize"/> accepts), as a double.</summary>
    private static double Element(ReadOnlySpan<byte> d, string descr, int i) => descr switch
    {
        "|u1" or "u1" or "|b1" => d[i],
        "|i1" or "i1" => (sbyte)d[i],
        "<u2" => BinaryPrimitives.ReadUInt16LittleEndian(d[(2 * i)..]),
        "<i2" => BinaryPrimitives.ReadInt16LittleEndian(d[(2 * i)..]),
        "<u4" => BinaryPrimitives.ReadUInt32LittleEndian(d[(4 * i)..]),
        "<i4" => BinaryPrimitives.ReadInt32LittleEndian(d[(4 * i)..]),
        "<i8" => BinaryPrimitives.ReadInt64LittleEndian(d[(8 * i)..]),
        "<u8" => BinaryPrimitives.ReadUInt64LittleEndian(d[(8 * i)..]),
        "<f4" => BinaryPrimitives.ReadSingleLittleEndian(d[(4 * i)..]),
        _ => BinaryPrimitives.ReadDoubleLittleEndian(d[(8 * i)..]),
    };

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
