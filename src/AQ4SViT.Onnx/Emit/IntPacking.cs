namespace AQ4SViT.Onnx.Emit;

/// <summary>
/// Sub-byte packing as the ONNX spec stores INT4/UINT4 and INT2/UINT2: consecutive values share a byte, the first in the
/// lowest bits (INT4: element 2k in the low nibble of byte k, 2k+1 in the high nibble); signed values in two's complement;
/// a final partial byte is padded with zero bits.
/// </summary>
internal static class IntPacking
{
    public static byte[] PackInt4(ReadOnlySpan<int> values) => Pack(values, 4);

    public static byte[] PackInt2(ReadOnlySpan<int> values) => Pack(values, 2);

    /// <summary>Packs values of <paramref name="bits"/> (2 or 4) bits each; only the low bits of each value are kept.</summary>
    public static byte[] Pack(ReadOnlySpan<int> values, int bits)
    {
        if (bits is not (2 or 4))
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "2 or 4");
        }

        int perByte = 8 / bits;
        int mask = (1 << bits) - 1;
        var bytes = new byte[(values.Length + perByte - 1) / perByte];
        for (int i = 0; i < values.Length; i++)
        {
            bytes[i / perByte] |= (byte)((values[i] & mask) << (i % perByte * bits));
        }

        return bytes;
    }

    /// <summary>Inverse of <see cref="Pack"/>: <paramref name="count"/> values, sign-extended when <paramref name="signed"/>.</summary>
    public static int[] Unpack(ReadOnlySpan<byte> bytes, int count, int bits, bool signed)
    {
        int perByte = 8 / bits;
        int mask = (1 << bits) - 1;
        var values = new int[count];
        for (int i = 0; i < count; i++)
        {
            int v = (bytes[i / perByte] >> (i % perByte * bits)) & mask;
            values[i] = signed && v >= 1 << (bits - 1) ? v - (1 << bits) : v;
        }

        return values;
    }
}
