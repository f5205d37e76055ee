using System.Runtime.Intrinsics;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// A row of a spike map as a bit mask. Only +0 and +1 count as spikes' values (compared as bits, so −0 and NaN do not):
/// the kernels that work on masks then give exactly the bits of the float path.
/// </summary>
internal static unsafe class SpikeRows
{
    private const uint ZeroBits = 0;
    private const uint OneBits = 0x3F80_0000;

    /// <summary>Bit i set where row[i] is 1; false as soon as a value is neither +0 nor +1.</summary>
    public static bool TryBits(float* row, int width, out ulong bits)
    {
        bits = 0;
        ulong found = 0; // a local, not the out parameter: it stays in a register
        int i = 0;
        if (Vector256.IsHardwareAccelerated && width >= 8)
        {
            var one = Vector256.Create(OneBits);
            for (; i < width; i += 8)
            {
                // A short tail is one more vector ending at the last value; its overlap sets the same bits again.
                int at = Math.Min(i, width - 8);
                var v = Vector256.Load((uint*)row + at);
                uint ones = Vector256.Equals(v, one).ExtractMostSignificantBits();
                if ((ones | Vector256.Equals(v, Vector256<uint>.Zero).ExtractMostSignificantBits()) != 0xFF)
                {
                    return false;
                }

                found |= (ulong)ones << at;
            }
        }

        for (; i < width; i++)
        {
            uint v = ((uint*)row)[i];
            if (v == OneBits)
            {
                found |= 1UL << i;
            }
            else if (v != ZeroBits)
            {
                return false;
            }
        }

        bits = found;
        return true;
    }
}
