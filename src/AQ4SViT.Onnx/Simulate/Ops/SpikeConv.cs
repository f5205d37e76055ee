using System.Buffers;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// Spike-driven 2-D convolution of one image and group: only the non-zero inputs (spikes) cost work.
/// Each non-zero input x[ci, iy, ix] is listed under every output pixel its kernel window reaches, with its im2col row
/// k = (ci·kh + ky)·kw + kx. Inputs are visited channel by channel in raster order, so every pixel's list comes out sorted by
/// k; the pixel's outputs then sum w[m, k]·x over the list in K-blocks of <c>strideK</c> exactly as the dense GEMM does.
/// Zero terms add exactly nothing, so the result has the same bits as the dense path, at a cost proportional to the spikes.
/// </summary>
internal static class SpikeConv
{
    /// <param name="x">The group's input channels, cg × h × w.</param>
    /// <param name="wt">The group's weights transposed, kdim × mg (row k = im2col row).</param>
    /// <param name="y">The group's output channels, mg × oh·ow.</param>
    public static unsafe void Image(ReadOnlySpan<float> x, ReadOnlySpan<float> wt, Span<float> y, in ConvGeometry g, int mg, int strideK)
    {
        int p = g.OutH * g.OutW;
        int planeSize = g.InH * g.InW;
        int window = g.KernelH * g.KernelW;
        int[] inputs = ArrayPool<int>.Shared.Rent(x.Length);
        int found = 0;
        for (int at = x.IndexOfAnyExcept(0f); at >= 0;)
        {
            inputs[found++] = at;
            int next = x[(at + 1)..].IndexOfAnyExcept(0f);
            at = next < 0 ? -1 : at + 1 + next;
        }

        int[] start = ArrayPool<int>.Shared.Rent(p + 1);
        int[] index = ArrayPool<int>.Shared.Rent(Math.Max(1, found * window));
        float[] value = ArrayPool<float>.Shared.Rent(Math.Max(1, found * window));
        float[] yt = ArrayPool<float>.Shared.Rent(p * mg);
        try
        {
            Array.Clear(start, 0, p + 1);
            List(x, inputs.AsSpan(0, found), start, index, value, g, planeSize, fill: false);
            for (int i = 0; i < p; i++)
            {
                start[i + 1] += start[i];
            }

            List(x, inputs.AsSpan(0, found), start, index, value, g, planeSize, fill: true);

            // List(fill) advanced start[i] to the end of pixel i's list, i.e. the old start[i + 1]; shift back.
            for (int i = p; i > 0; i--)
            {
                start[i] = start[i - 1];
            }

            start[0] = 0;
            fixed (float* pw = wt, pv = value, pyt = yt)
            fixed (int* pi = index, ps = start)
            {
                for (int i = 0; i < p; i++)
                {
                    SparseRow.Sum(pi + ps[i], pv + ps[i], ps[i + 1] - ps[i], pw, mg, mg, strideK, pyt + ((long)i * mg), accumulate: false);
                }
            }

            Transpose2D.Run(yt.AsSpan(0, p * mg), mg, y, p, p, mg);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(inputs);
            ArrayPool<int>.Shared.Return(start);
            ArrayPool<int>.Shared.Return(index);
            ArrayPool<float>.Shared.Return(value);
            ArrayPool<float>.Shared.Return(yt);
        }
    }

    /// <summary>Counts (fill = false: into start[pixel + 1]) or writes (fill = true: at start[pixel]++) each pixel's (k, x) entries.</summary>
    private static void List(ReadOnlySpan<float> x, ReadOnlySpan<int> inputs, int[] start, int[] index, float[] value, in ConvGeometry g, int planeSize, bool fill)
    {
        foreach (int at in inputs)
        {
            int ci = at / planeSize;
            int iy = (at % planeSize) / g.InW;
            int ix = at % g.InW;
            float v = x[at];
            for (int ky = 0; ky < g.KernelH; ky++)
            {
                int ny = iy + g.PadTop - (ky * g.DilationH);
                if (ny < 0 || ny % g.StrideH != 0 || ny / g.StrideH >= g.OutH)
                {
                    continue;
                }

                int rowBase = ny / g.StrideH * g.OutW;
                int kBase = ((ci * g.KernelH) + ky) * g.KernelW;
                for (int kx = 0; kx < g.KernelW; kx++)
                {
                    int nx = ix + g.PadLeft - (kx * g.DilationW);
                    if (nx < 0 || nx % g.StrideW != 0 || nx / g.StrideW >= g.OutW)
                    {
                        continue;
                    }

                    int pixel = rowBase + (nx / g.StrideW);
                    if (fill)
                    {
                        int slot = start[pixel]++;
                        index[slot] = kBase + kx;
                        value[slot] = v;
                    }
                    else
                    {
                        start[pixel + 1]++;
                    }
                }
            }
        }
    }
}

/// <summary>Shape of a 2-D convolution: input plane, kernel, strides, dilations, leading pads, output plane.</summary>
internal readonly record struct ConvGeometry(
    int InH, int InW, int KernelH, int KernelW, int StrideH, int StrideW, int DilationH, int DilationW, int PadTop, int PadLeft, int OutH, int OutW);
