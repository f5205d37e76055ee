using System.Runtime.Intrinsics.X86;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// dst[c, r] = src[r, c] for a rows × cols matrix with row strides <c>srcLd</c> / <c>dstLd</c>: 8 × 8 tiles transposed in
/// AVX registers (unpack, shuffle, lane permute), scalar edges. Pure data movement, so every path gives the same bits.
/// </summary>
internal static class Transpose2D
{
    public static unsafe void Run(ReadOnlySpan<float> src, int srcLd, Span<float> dst, int dstLd, int rows, int cols)
    {
        if (rows == 0 || cols == 0)
        {
            return;
        }

        if ((long)(rows - 1) * srcLd + cols > src.Length || (long)(cols - 1) * dstLd + rows > dst.Length)
        {
            throw new ArgumentException($"transpose of {rows}×{cols} does not fit the spans");
        }

        fixed (float* s = src, d = dst)
        {
            Run(s, srcLd, d, dstLd, rows, cols);
        }
    }

    public static unsafe void Run(float* src, int srcLd, float* dst, int dstLd, int rows, int cols)
    {
        int r = 0;
        if (Avx.IsSupported)
        {
            for (; r + 8 <= rows; r += 8)
            {
                int c = 0;
                for (; c + 8 <= cols; c += 8)
                {
                    Tile8(src + ((long)r * srcLd) + c, srcLd, dst + ((long)c * dstLd) + r, dstLd);
                }

                Scalar(src, srcLd, dst, dstLd, r, r + 8, c, cols);
            }
        }

        Scalar(src, srcLd, dst, dstLd, r, rows, 0, cols);
    }

    private static unsafe void Scalar(float* src, int srcLd, float* dst, int dstLd, int r0, int r1, int c0, int c1)
    {
        for (int r = r0; r < r1; r++)
        {
            float* row = src + ((long)r * srcLd);
            for (int c = c0; c < c1; c++)
            {
                dst[((long)c * dstLd) + r] = row[c];
            }
        }
    }

    private static unsafe void Tile8(float* s, int ld, float* d, int dld)
    {
        var r0 = Avx.LoadVector256(s);
        var r1 = Avx.LoadVector256(s + ld);
        var r2 = Avx.LoadVector256(s + (2 * ld));
        var r3 = Avx.LoadVector256(s + (3 * ld));
        var r4 = Avx.LoadVector256(s + (4 * ld));
        var r5 = Avx.LoadVector256(s + (5 * ld));
        var r6 = Avx.LoadVector256(s + (6 * ld));
        var r7 = Avx.LoadVector256(s + (7 * ld));

        // Interleave pairs of rows, then pairs of pairs: each 128-bit lane then holds a 4 × 4 transposed quarter.
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);

        // Join the low lanes (columns 0–3) and the high lanes (columns 4–7) of rows 0–3 and 4–7.
        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + dld, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + (2 * dld), Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + (3 * dld), Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + (4 * dld), Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + (5 * dld), Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + (6 * dld), Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + (7 * dld), Avx.Permute2x128(u3, u7, 0x31));
    }
}
