using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// The per-pixel entry lists of a 3 × 3, stride-1 convolution over a 0/1 spike map, read off bit masks of its rows.
/// A pixel's window in one channel is a 9-bit pattern (bit ky·3 + kx) taken from three row masks; a table turns the
/// pattern into its im2col rows k = ci·9 + ky·3 + kx in ascending order. Channels are visited in order, so each pixel's
/// list comes out sorted by k, as <see cref="SparseRow"/> needs. The work is per (channel, pixel) whose window holds a
/// spike, with no division and no branch per tap: on SPS-sized maps about half the time of listing spike by spike.
/// </summary>
internal static unsafe class SpikeWindows
{
    /// <summary>Zero rows kept above and below each channel's masks, so that windows reaching into the pads read zeros.</summary>
    private const int Margin = 2;

    /// <summary>Taps[p·16 + i] = the i-th set bit of pattern p (slots past its count are zero, written but not counted).</summary>
    private static readonly byte[] Taps = BuildTaps();

    /// <summary>Whether this geometry fits: 3 × 3, stride and dilation 1, pads of at most 2, a padded row in 64 bits.</summary>
    public static bool Fits(in ConvGeometry g) =>
        Avx2.IsSupported
        && g is { KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1 }
        && g.PadTop <= Margin && g.OutH - g.InH - g.PadTop + 2 <= Margin && g.PadLeft <= Margin
        && g.InW + g.PadLeft <= 64 && g.OutW <= 62;

    /// <summary>Longs of row masks for <paramref name="channels"/> channels of this geometry.</summary>
    public static int MaskLength(int channels, in ConvGeometry g) => channels * (g.InH + (2 * Margin));

    /// <summary>
    /// Fills <paramref name="masks"/>: per channel, <see cref="Margin"/> zero rows, then one mask per input row with bit
    /// ix + pad_left set where x is 1, then zero rows again. False when a value is neither 0 nor 1 (<see cref="SpikeRows"/>).
    /// </summary>
    public static bool Masks(float* x, int channels, in ConvGeometry g, ulong* masks)
    {
        int rows = g.InH + (2 * Margin);
        for (int ci = 0; ci < channels; ci++)
        {
            ulong* m = masks + ((long)ci * rows);
            m[0] = m[1] = m[rows - 2] = m[rows - 1] = 0;
            for (int iy = 0; iy < g.InH; iy++)
            {
                if (!SpikeRows.TryBits(x + ((((long)ci * g.InH) + iy) * g.InW), g.InW, out ulong bits))
                {
                    return false;
                }

                m[iy + Margin] = bits << g.PadLeft;
            }
        }

        return true;
    }

    /// <summary>
    /// The lists of output rows [<paramref name="oy0"/>, <paramref name="oy1"/>): pixel i of the band (row-major) gets
    /// counts[i] entries at lists[i · 9·channels ...] (slots past the count hold leftovers).
    /// </summary>
    public static void Lists(ulong* masks, int channels, in ConvGeometry g, int oy0, int oy1, int* lists, int* counts)
    {
        int rows = g.InH + (2 * Margin);
        int capacity = 9 * channels;
        int ow = g.OutW;
        ulong inside = (1UL << ow) - 1;
        new Span<int>(counts, (oy1 - oy0) * ow).Clear();
        fixed (byte* taps = Taps)
        {
            for (int ci = 0; ci < channels; ci++)
            {
                // Output row oy reads input rows oy − pad_top + 0..2, stored Margin rows down.
                ulong* m = masks + ((long)ci * rows) + Margin - g.PadTop;
                var kBase = Vector256.Create(ci * 9);
                for (int oy = oy0; oy < oy1; oy++)
                {
                    ulong r0 = m[oy], r1 = m[oy + 1], r2 = m[oy + 2];
                    ulong any = r0 | r1 | r2;

                    // Pixel ox's window covers mask bits ox..ox+2: it holds a spike where this has bit ox.
                    ulong reached = (any | (any >> 1) | (any >> 2)) & inside;
                    int* rowCounts = counts + ((oy - oy0) * ow);
                    int* rowLists = lists + ((long)(oy - oy0) * ow * capacity);
                    while (reached != 0)
                    {
                        int ox = BitOperations.TrailingZeroCount(reached);
                        reached &= reached - 1;
                        uint pattern = (uint)((r0 >> ox) & 7) | (uint)(((r1 >> ox) & 7) << 3) | (uint)(((r2 >> ox) & 7) << 6);
                        int count = rowCounts[ox];
                        int* at = rowLists + ((long)ox * capacity) + count;
                        byte* tap = taps + (pattern * 16);
                        Vector256.Store(Avx2.ConvertToVector256Int32(tap) + kBase, at);
                        at[8] = tap[8] + (ci * 9);
                        rowCounts[ox] = count + BitOperations.PopCount(pattern);
                    }
                }
            }
        }
    }

    private static byte[] BuildTaps()
    {
        var taps = new byte[512 * 16];
        for (int pattern = 0; pattern < 512; pattern++)
        {
            int n = 0;
            for (int tap = 0; tap < 9; tap++)
            {
                if (((pattern >> tap) & 1) != 0)
                {
                    taps[(pattern * 16) + n++] = (byte)tap;
                }
            }
        }

        return taps;
    }
}
