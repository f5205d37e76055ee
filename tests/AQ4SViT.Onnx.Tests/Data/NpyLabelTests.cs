using System.Buffers.Binary;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;

namespace AQ4SViT.Onnx.Tests.Data;

/// <summary>Labels from every numeric dtype a NumPy user saves them in, and the ones that are not class indices.</summary>
public sealed class NpyLabelTests
{
    private static NpyArray Array(string descr, int size, params double[] values)
    {
        var data = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
        {
            var at = data.AsSpan(i * size);
            switch (descr)
            {
                case "|u1": data[i] = (byte)values[i]; break;
                case "<i2": BinaryPrimitives.WriteInt16LittleEndian(at, (short)values[i]); break;
                case "<i8": BinaryPrimitives.WriteInt64LittleEndian(at, (long)values[i]); break;
                case "<u8": BinaryPrimitives.WriteUInt64LittleEndian(at, (ulong)values[i]); break;
                case "<f4": BinaryPrimitives.WriteSingleLittleEndian(at, (float)values[i]); break;
                default: BinaryPrimitives.WriteDoubleLittleEndian(at, values[i]); break;
            }
        }

        return new NpyArray(descr, [values.Length], data);
    }

    [Theory]
    [InlineData("|u1", 1)]
    [InlineData("<i2", 2)]
    [InlineData("<i8", 8)]
    [InlineData("<u8", 8)]
    [InlineData("<f4", 4)]
    [InlineData("<f8", 8)]
    public void Labels_AnyNumericDtype_ReadAsClassIndices(string descr, int size)
    {
        Assert.Equal([0, 7, 3, 255], NpyReader.Labels(Array(descr, size, 0, 7, 3, 255), "y.npy"));
    }

    [Theory]
    [InlineData("<f4", 4, 1.5, "y.npy: label 1.5 of image 1 is not an integer")]
    [InlineData("<f8", 8, double.NaN, "y.npy: label NaN of image 1 is not an integer")]
    [InlineData("<i8", 8, -1.0, "label -1 of image 1 is not a class index")]
    [InlineData("<u8", 8, 3e9, "label 3000000000 of image 1 is not a class index")]
    public void Labels_NotAClassIndex_IsBadInputNamingFileAndImage(string descr, int size, double bad, string message)
    {
        var e = Assert.Throws<BadInputException>(() => NpyReader.Labels(Array(descr, size, 2, bad), "y.npy"));

        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Contains("y.npy", e.Message, StringComparison.Ordinal);
    }
}
