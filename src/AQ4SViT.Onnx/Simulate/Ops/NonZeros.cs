using System.Numerics;
using System.Runtime.Intrinsics;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>Positions of the non-zero values of a span, in order: eight values compared at once, then the set bits walked.</summary>
internal static unsafe class NonZeros
{
    /// <summary>Writes the indices (plus <paramref name="offset"/>) of the non-zeros of x[0..count) into <paramref name="found"/>; returns how many.</summary>
    public static int Find(float* x, int count, int* found, int offset = 0)
    {
        int n = 0;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= count; i += 8)
            {
                uint bits = ~Vector256.Equals(Vector256.Load(x + i), Vector256<float>.Zero).ExtractMostSignificantBits() & 0xFF;
                while (bits != 0)
                {
                    found[n++] = offset + i + BitOperations.TrailingZeroCount(bits);
                    bits &= bits - 1;
                }
            }
        }

        for (; i < count; i++)
        {
            if (x[i] != 0)
            {
                found[n++] = offset + i;
            }
        }

        return n;
    }
}
