using System.Buffers.Binary;
using System.Runtime.InteropServices;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Import.Proto;
using DataType = AQ4SViT.Onnx.Import.Proto.TensorProto.Types.DataType;

namespace AQ4SViT.Onnx.Import;

/// <summary>
/// Reads the values of a <see cref="TensorProto"/>: raw_data (little-endian), the typed repeated fields, or
/// external data (<c>location</c>, <c>offset</c>, <c>length</c> relative to the model's folder).
/// Every declared size is checked against the bytes before anything large is allocated.
/// </summary>
public static class TensorDecoder
{
    /// <summary>Upper bound on elements of one tensor (16 G floats): anything larger is a corrupt header.</summary>
    private const long MaxElements = 1L << 34;

    public static long[] Dims(TensorProto t)
    {
        var dims = t.Dims.ToArray();
        foreach (long d in dims)
        {
            if (d < 0)
            {
                Throw.BadTensor(t.Name, $"negative dimension in [{string.Join(",", dims)}]");
            }
        }

        return dims;
    }

    public static long ElementCount(TensorProto t)
    {
        long count = 1;
        foreach (long d in Dims(t))
        {
            if (d != 0 && count > MaxElements / d)
            {
                Throw.BadTensor(t.Name, $"dimensions [{string.Join(",", t.Dims)}] are impossibly large");
            }

            count *= d;
        }

        return count;
    }

    /// <summary>Bytes per element in raw_data, or 0 for types packed below a byte or without fixed size.</summary>
    public static int ElementSize(DataType type) => type switch
    {
        DataType.Float or DataType.Int32 or DataType.Uint32 => 4,
        DataType.Double or DataType.Int64 or DataType.Uint64 or DataType.Complex64 => 8,
        DataType.Complex128 => 16,
        DataType.Int16 or DataType.Uint16 or DataType.Float16 or DataType.Bfloat16 => 2,
        DataType.Int8 or DataType.Uint8 or DataType.Bool => 1,
        _ => 0,
    };

    public static DataType TypeOf(TensorProto t) => (DataType)t.DataType;

    /// <summary>Any numeric tensor as float32 values (weights, shapes, scalars).</summary>
    public static float[] ToFloats(TensorProto t, string baseDirectory)
    {
        var type = TypeOf(t);
        long n = ElementCount(t);
        if (HasRawOrExternal(t))
        {
            var bytes = RawBytes(t, baseDirectory, n);
            var result = new float[n];
            switch (type)
            {
                case DataType.Float: MemoryMarshal.Cast<byte, float>(bytes).CopyTo(result); break;
                case DataType.Double: Convert(MemoryMarshal.Cast<byte, double>(bytes), result, v => (float)v); break;
                case DataType.Float16: Convert(MemoryMarshal.Cast<byte, Half>(bytes), result, v => (float)v); break;
                case DataType.Bfloat16: Convert(MemoryMarshal.Cast<byte, ushort>(bytes), result, v => BitConverter.Int32BitsToSingle(v << 16)); break;
                case DataType.Int64: Convert(MemoryMarshal.Cast<byte, long>(bytes), result, v => v); break;
                case DataType.Int32: Convert(MemoryMarshal.Cast<byte, int>(bytes), result, v => v); break;
                case DataType.Int16: Convert(MemoryMarshal.Cast<byte, short>(bytes), result, v => v); break;
                case DataType.Uint16: Convert(MemoryMarshal.Cast<byte, ushort>(bytes), result, v => v); break;
                case DataType.Uint32: Convert(MemoryMarshal.Cast<byte, uint>(bytes), result, v => v); break;
                case DataType.Uint64: Convert(MemoryMarshal.Cast<byte, ulong>(bytes), result, v => v); break;
                case DataType.Int8: Convert(MemoryMarshal.Cast<byte, sbyte>(bytes), result, v => v); break;
                case DataType.Uint8 or DataType.Bool: Convert(bytes, result, v => v); break;
                default: Throw.BadTensor(t.Name, $"data type {type} cannot be read as numbers"); break;
            }

            return result;
        }

        return type switch
        {
            DataType.Float => Typed(t, t.FloatData, n, v => v),
            DataType.Double => Typed(t, t.DoubleData, n, v => (float)v),
            DataType.Int64 => Typed(t, t.Int64Data, n, v => (float)v),
            DataType.Uint32 or DataType.Uint64 => Typed(t, t.Uint64Data, n, v => (float)v),
            DataType.Float16 => Typed(t, t.Int32Data, n, v => (float)BitConverter.UInt16BitsToHalf((ushort)v)),
            DataType.Bfloat16 => Typed(t, t.Int32Data, n, v => BitConverter.Int32BitsToSingle(v << 16)),
            DataType.Int32 or DataType.Int16 or DataType.Int8 or DataType.Uint16 or DataType.Uint8 or DataType.Bool =>
                Typed(t, t.Int32Data, n, v => (float)v),
            _ => Throw.BadInput<float[]>($"tensor '{t.Name}': data type {type} cannot be read as numbers"),
        };
    }

    /// <summary>Any integer (or bool) tensor as int64 values (shapes, indices, axes).</summary>
    public static long[] ToInt64s(TensorProto t, string baseDirectory)
    {
        var type = TypeOf(t);
        long n = ElementCount(t);
        if (HasRawOrExternal(t))
        {
            var bytes = RawBytes(t, baseDirectory, n);
            var result = new long[n];
            switch (type)
            {
                case DataType.Int64: MemoryMarshal.Cast<byte, long>(bytes).CopyTo(result); break;
                case DataType.Int32: Convert(MemoryMarshal.Cast<byte, int>(bytes), result, v => v); break;
                case DataType.Int16: Convert(MemoryMarshal.Cast<byte, short>(bytes), result, v => v); break;
                case DataType.Uint16: Convert(MemoryMarshal.Cast<byte, ushort>(bytes), result, v => v); break;
                case DataType.Uint32: Convert(MemoryMarshal.Cast<byte, uint>(bytes), result, v => v); break;
                case DataType.Uint64: Convert(MemoryMarshal.Cast<byte, ulong>(bytes), result, v => (long)v); break;
                case DataType.Int8: Convert(MemoryMarshal.Cast<byte, sbyte>(bytes), result, v => v); break;
                case DataType.Uint8 or DataType.Bool: Convert(bytes, result, v => v); break;
                case DataType.Float: Convert(MemoryMarshal.Cast<byte, float>(bytes), result, v => (long)v); break;
                case DataType.Double: Convert(MemoryMarshal.Cast<byte, double>(bytes), result, v => (long)v); break;
                default: Throw.BadTensor(t.Name, $"data type {type} cannot be read as integers"); break;
            }

            return result;
        }

        return type switch
        {
            DataType.Int64 => Typed(t, t.Int64Data, n, v => v),
            DataType.Uint32 or DataType.Uint64 => Typed(t, t.Uint64Data, n, v => (long)v),
            DataType.Int32 or DataType.Int16 or DataType.Int8 or DataType.Uint16 or DataType.Uint8 or DataType.Bool =>
                Typed(t, t.Int32Data, n, v => (long)v),
            DataType.Float => Typed(t, t.FloatData, n, v => (long)v),
            DataType.Double => Typed(t, t.DoubleData, n, v => (long)v),
            _ => Throw.BadInput<long[]>($"tensor '{t.Name}': data type {type} cannot be read as integers"),
        };
    }

    /// <summary>Weights must be numbers: NaN or ±∞ anywhere in <paramref name="values"/> is bad input naming the tensor and the element.</summary>
    public static void RequireFinite(string tensorName, ReadOnlySpan<float> values)
    {
        int bad = System.Numerics.Tensors.TensorPrimitives.IndexOfMaxMagnitude(values);
        if (bad < 0 || float.IsFinite(values[bad]))
        {
            return;
        }

        // IndexOfMaxMagnitude returns the first NaN, else the (first) largest magnitude, so a non-finite value is found if any exists.
        Throw.BadTensor(tensorName, $"element {bad} is {values[bad]}; weights and constants must be finite numbers");
    }

    /// <summary><see cref="ToFloats"/> for weights: NaN or ±∞ is bad input naming the tensor.</summary>
    public static float[] ToFiniteFloats(TensorProto t, string baseDirectory)
    {
        var values = ToFloats(t, baseDirectory);
        RequireFinite(t.Name, values);
        return values;
    }

    public static bool IsExternal(TensorProto t) => t.DataLocation == TensorProto.Types.DataLocation.External;

    private static bool HasRawOrExternal(TensorProto t) => IsExternal(t) || !t.RawData.IsEmpty ||
        (t.FloatData.Count == 0 && t.Int32Data.Count == 0 && t.Int64Data.Count == 0 && t.DoubleData.Count == 0 && t.Uint64Data.Count == 0 && ElementCount(t) == 0);

    /// <summary>The tensor's bytes (raw_data or external), checked to be exactly <paramref name="elements"/> elements.</summary>
    public static ReadOnlySpan<byte> RawBytes(TensorProto t, string baseDirectory, long elements)
    {
        int size = ElementSize(TypeOf(t));
        if (size == 0)
        {
            Throw.BadTensor(t.Name, $"data type {TypeOf(t)} has no fixed element size");
        }

        long expected = elements * size;
        // raw_data is read where it lies (no copy): a large model is decoded with one extra tensor's worth of memory at most.
        ReadOnlySpan<byte> bytes = IsExternal(t) ? ReadExternal(t, baseDirectory, expected) : t.RawData.Span;
        if (bytes.Length != expected)
        {
            Throw.BadTensor(t.Name, $"declares {elements} elements of {TypeOf(t)} ({expected} bytes) but holds {bytes.Length} bytes");
        }

        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("ONNX raw data is little-endian; big-endian hosts are not supported");
        }

        return bytes;
    }

    /// <summary>Reads external data: location relative to the model's folder, optional offset and length.</summary>
    public static byte[] ReadExternal(TensorProto t, string baseDirectory, long expectedBytes)
    {
        string? location = null;
        long offset = 0;
        long length = -1;
        foreach (var entry in t.ExternalData)
        {
            switch (entry.Key)
            {
                case "location": location = entry.Value; break;
                case "offset": offset = ParseNonNegative(t, entry); break;
                case "length": length = ParseNonNegative(t, entry); break;
                default: break; // "checksum" and others are informative
            }
        }

        if (string.IsNullOrEmpty(location))
        {
            return Throw.BadTensor<byte[]>(t.Name, "external data without a location");
        }

        if (Path.IsPathRooted(location) || location.Split('/', '\\').Contains(".."))
        {
            return Throw.BadTensor<byte[]>(t.Name, $"external data location '{location}' must stay inside the model's folder");
        }

        string path = Path.Combine(baseDirectory, location);
        if (!File.Exists(path))
        {
            return Throw.BadTensor<byte[]>(t.Name, $"external data file {path} not found");
        }

        if (length < 0)
        {
            length = expectedBytes;
        }

        if (length != expectedBytes)
        {
            return Throw.BadTensor<byte[]>(t.Name, $"external data length {length} does not match the declared {expectedBytes} bytes");
        }

        using var file = File.OpenRead(path);
        // Compared without adding, so a huge offset cannot overflow past the check.
        if (offset > file.Length || length > file.Length - offset)
        {
            return Throw.BadTensor<byte[]>(t.Name, $"external data {path} is too short: needs {length} bytes from offset {offset} but has {file.Length}");
        }

        var buffer = new byte[length];
        file.Position = offset;
        file.ReadExactly(buffer);
        return buffer;
    }

    private static long ParseNonNegative(TensorProto t, StringStringEntryProto entry) =>
        long.TryParse(entry.Value, out long v) && v >= 0
            ? v
            : Throw.BadTensor<long>(t.Name, $"external data {entry.Key} '{entry.Value}' is not a non-negative integer");

    private static T[] Typed<TSource, T>(TensorProto t, IList<TSource> values, long n, Func<TSource, T> convert)
    {
        if (values.Count != n)
        {
            Throw.BadTensor(t.Name, $"declares {n} elements but holds {values.Count} values");
        }

        var result = new T[n];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = convert(values[i]);
        }

        return result;
    }

    private static void Convert<TSource, T>(ReadOnlySpan<TSource> source, T[] destination, Func<TSource, T> convert)
    {
        for (int i = 0; i < source.Length; i++)
        {
            destination[i] = convert(source[i]);
        }
    }

    /// <summary>Reads a big-endian-free little-endian int64 (for callers handling raw bytes directly).</summary>
    internal static long ReadInt64(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadInt64LittleEndian(bytes);
}
