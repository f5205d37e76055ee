using System.Buffers.Binary;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Quantize;
using Google.Protobuf;
using DataType = AQ4SViT.Onnx.Import.Proto.TensorProto.Types.DataType;

namespace AQ4SViT.Onnx.Emit;

/// <summary>Turns a <see cref="QuantizedTensor"/> into ONNX initializers: the integers, the scales and the zero points.</summary>
internal static class QuantizedTensors
{
    /// <summary>
    /// The ONNX integer type a quantized tensor is stored in: signed for symmetric, unsigned for asymmetric;
    /// 2 bits in INT2 only with <see cref="StorageWidths.Int2"/>, ≤ 4 bits INT4, ≤ 8 INT8, 16 INT16.
    /// </summary>
    public static DataType StorageType(int bits, bool symmetric, StorageWidths widths = StorageWidths.Int4) =>
        (MemoryAccounting.StorageBits(bits, widths), symmetric) switch
        {
            (2, true) => DataType.Int2,
            (2, false) => DataType.Uint2,
            (4, true) => DataType.Int4,
            (4, false) => DataType.Uint4,
            (8, true) => DataType.Int8,
            (8, false) => DataType.Uint8,
            (_, true) => DataType.Int16,
            (_, false) => DataType.Uint16,
        };

    /// <summary>The lowest default-domain opset whose DequantizeLinear takes <paramref name="type"/> (per axis).</summary>
    public static int MinimumOpset(DataType type) => type switch
    {
        DataType.Int8 or DataType.Uint8 => 13,
        DataType.Int4 or DataType.Uint4 or DataType.Int16 or DataType.Uint16 => 21,
        DataType.Int2 or DataType.Uint2 => 25,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a quantized storage type"),
    };

    /// <summary>An integer tensor of <paramref name="type"/> holding <paramref name="values"/> (packed for 2/4-bit types, little-endian for 16-bit).</summary>
    public static TensorProto IntegerTensor(string name, long[] dims, ReadOnlySpan<int> values, DataType type)
    {
        byte[] bytes;
        switch (type)
        {
            case DataType.Int4 or DataType.Uint4:
                bytes = IntPacking.Pack(values, 4);
                break;
            case DataType.Int2 or DataType.Uint2:
                bytes = IntPacking.Pack(values, 2);
                break;
            case DataType.Int8 or DataType.Uint8:
                bytes = new byte[values.Length];
                for (int i = 0; i < values.Length; i++)
                {
                    bytes[i] = unchecked((byte)values[i]);
                }

                break;
            case DataType.Int16 or DataType.Uint16:
                bytes = new byte[values.Length * 2];
                for (int i = 0; i < values.Length; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), unchecked((ushort)values[i]));
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "not a quantized storage type");
        }

        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = UnsafeByteOperations.UnsafeWrap(bytes) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    public static TensorProto FloatTensor(string name, long[] dims, ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Float, RawData = UnsafeByteOperations.UnsafeWrap(bytes) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    public static TensorProto Int64Tensor(string name, long[] dims, ReadOnlySpan<long> values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        }

        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Int64, RawData = UnsafeByteOperations.UnsafeWrap(bytes) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }
}
