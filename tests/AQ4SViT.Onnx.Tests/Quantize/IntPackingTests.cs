using AQ4SViT.Onnx.Emit;

namespace AQ4SViT.Onnx.Tests.Quantize;

public sealed class IntPackingTests
{
    [Fact]
    public void PackInt4_OddLengthAndNegatives_LowNibbleFirst()
    {
        // 1 → 0x1, −1 → 0xF, 7 → 0x7, −8 → 0x8, 3 → 0x3; the fifth value's byte is padded with a zero high nibble.
        byte[] bytes = IntPacking.PackInt4([1, -1, 7, -8, 3]);

        Assert.Equal(new byte[] { 0xF1, 0x87, 0x03 }, bytes);
    }

    [Fact]
    public void PackInt4_Unsigned_HandComputed()
    {
        Assert.Equal(new byte[] { 0xF0, 0x5A }, IntPacking.PackInt4([0, 15, 10, 5]));
    }

    [Fact]
    public void PackInt2_OddLengthAndNegatives_LowestBitsFirst()
    {
        // 1 → 01, −1 → 11, 0 → 00, −2 → 10: byte 0 = 10_00_11_01b; 1 → byte 1 = 01b.
        Assert.Equal(new byte[] { 0x8D, 0x01 }, IntPacking.PackInt2([1, -1, 0, -2, 1]));
    }

    [Theory]
    [InlineData(4, true)]
    [InlineData(4, false)]
    [InlineData(2, true)]
    [InlineData(2, false)]
    public void Unpack_InvertsPack_AllLengths(int bits, bool signed)
    {
        var rng = new Random(bits);
        int lo = signed ? -(1 << (bits - 1)) : 0, hi = signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
        for (int n = 0; n <= 33; n++)
        {
            int[] values = Enumerable.Range(0, n).Select(_ => rng.Next(lo, hi + 1)).ToArray();

            byte[] packed = IntPacking.Pack(values, bits);

            Assert.Equal((n * bits + 7) / 8, packed.Length);
            Assert.Equal(values, IntPacking.Unpack(packed, n, bits, signed));
        }
    }
}
