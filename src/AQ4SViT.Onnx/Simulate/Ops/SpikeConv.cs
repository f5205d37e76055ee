using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// Spike-driven 2-D convolution of one image and group: only the non-zero inputs (spikes) cost work.
/// Each non-zero input x[ci, iy, ix] is listed under every output pixel its kernel window reaches, with its im2col row
/// k = (ci·kh + ky)·kw + kx. Inputs are visited channel by channel in raster order, so every pixel's list comes out sorted by
/// k; the pixel's outputs then sum w[m, k]·x over the list in K-blocks of <c>strideK</c> exactly as the dense GEMM does.
/// Zero terms add exactly nothing, so the result has the same bits as the dense path, at a cost proportional to the spikes.
/// A 3 × 3 stride-1 convolution of a 0/1 map (the SPS layers) gets the same lists from row bit masks instead
/// (<see cref="SpikeWindows"/>), without visiting each spike and tap.
/// </summary>
internal static class SpikeConv
{
    /// <param name="x">The group's input channels, cg × h × w.</param>
    /// <param name="wt">The group's weights transposed, kdim × mg (row k = im2col row).</param>
    /// <param name="y">The group's output channels, mg × oh·ow.</param>
    /// <param name="listBudget">Ints of pixel lists built at a time by the spike-map path (at least one output row).</param>
    public static unsafe void Image(ReadOnlySpan<float> x, ReadOnlySpan<float> wt, Span<float> y, in ConvGeometry g, int mg, int strideK, int listBudget = 1 << 18)
    {
        int p = g.OutH * g.OutW;
        int planeSize = g.InH * g.InW;
        // Pointwise only when the output has the input's pixels: bottom/right pads alone (a Conv1d's [0, p]) grow it.
        if (g is { KernelH: 1, KernelW: 1, StrideH: 1, StrideW: 1, PadTop: 0, PadLeft: 0 } && g.OutH == g.InH && g.OutW == g.InW)
        {
            Pointwise(x, wt, y, x.Length / planeSize, p, mg, strideK);
            return;
        }

        int channels = x.Length / planeSize;
        if (SpikeWindows.Fits(g) && SpikeMap3x3(x, wt, y, g, mg, strideK, channels, listBudget))
        {
            return;
        }

        int window = g.KernelH * g.KernelW;
        int[] inputs = BufferPool<int>.Shared.Rent(x.Length);
        int found;
        fixed (float* px = x)
        fixed (int* pf = inputs)
        {
            found = NonZeros.Find(px, x.Length, pf);
        }

        int[] start = BufferPool<int>.Shared.Rent(p + 1);
        int[] index = BufferPool<int>.Shared.Rent(Math.Max(1, found * window));
        float[] value = BufferPool<float>.Shared.Rent(Math.Max(1, found * window));
        float[] yt = BufferPool<float>.Shared.Rent(p * mg);
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
            BufferPool<int>.Shared.Return(inputs);
            BufferPool<int>.Shared.Return(start);
            BufferPool<int>.Shared.Return(index);
            BufferPool<float>.Shared.Return(value);
            BufferPool<float>.Shared.Return(yt);
        }
    }

    /// <summary>
    /// A 3 × 3 stride-1 convolution of a 0/1 spike map: the pixels' lists come from row bit masks (<see cref="SpikeWindows"/>),
    /// band of output rows by band, and every value is 1. False, with nothing written, when the input is not a spike map.
    /// </summary>
    private static unsafe bool SpikeMap3x3(ReadOnlySpan<float> x, ReadOnlySpan<float> wt, Span<float> y, in ConvGeometry g, int mg, int strideK, int channels, int listBudget)
    {
        int p = g.OutH * g.OutW;
        int capacity = 9 * channels;
        int bandRows = Math.Clamp(listBudget / (g.OutW * capacity), 1, g.OutH);
        ulong[] masks = BufferPool<ulong>.Shared.Rent(SpikeWindows.MaskLength(channels, g));
        int[] lists = BufferPool<int>.Shared.Rent(bandRows * g.OutW * capacity);
        int[] counts = BufferPool<int>.Shared.Rent(bandRows * g.OutW);
        float[] ones = BufferPool<float>.Shared.Rent(capacity);
        float[] yt = BufferPool<float>.Shared.Rent(p * mg);
        try
        {
            fixed (float* px = x, pw = wt, pOnes = ones, pyt = yt)
            fixed (ulong* pm = masks)
            fixed (int* pl = lists, pc = counts)
            {
                if (!SpikeWindows.Masks(px, channels, g, pm))
                {
                    return false;
                }

                ones.AsSpan(0, capacity).Fill(1f);
                for (int oy0 = 0; oy0 < g.OutH; oy0 += bandRows)
                {
                    int oy1 = Math.Min(g.OutH, oy0 + bandRows);
                    SpikeWindows.Lists(pm, channels, g, oy0, oy1, pl, pc);
                    for (int i = 0; i < (oy1 - oy0) * g.OutW; i++)
                    {
                        long pixel = ((long)oy0 * g.OutW) + i;
                        SparseRow.Sum(pl + ((long)i * capacity), pOnes, pc[i], pw, mg, mg, strideK, pyt + (pixel * mg), accumulate: false);
                    }
                }
            }

            Transpose2D.Run(yt.AsSpan(0, p * mg), mg, y, p, p, mg);
            return true;
        }
        finally
        {
            BufferPool<ulong>.Shared.Return(masks);
            BufferPool<int>.Shared.Return(lists);
            BufferPool<int>.Shared.Return(counts);
            BufferPool<float>.Shared.Return(ones);
            BufferPool<float>.Shared.Return(yt);
        }
    }

    /// <summary>A 1 × 1 convolution is a product per pixel: pixels × channels (transposed input) times the weights.</summary>
    private static void Pointwise(ReadOnlySpan<float> x, ReadOnlySpan<float> wt, Span<float> y, int channels, int pixels, int mg, int strideK)
    {
        float[] xt = BufferPool<float>.Shared.Rent(pixels * channels);
        float[] yt = BufferPool<float>.Shared.Rent(pixels * mg);
        try
        {
            Transpose2D.Run(x, pixels, xt, channels, channels, pixels);
            GemmKernel.SparseFma(xt.AsSpan(0, pixels * channels), wt, yt, 0, pixels, channels, mg, strideK, accumulate: false);
            Transpose2D.Run(yt.AsSpan(0, pixels * mg), mg, y, pixels, pixels, mg);
        }
        finally
        {
            BufferPool<float>.Shared.Return(xt);
            BufferPool<float>.Shared.Return(yt);
        }
    }

    /// <summary>
    /// Counts (fill = false: into start[pixel + 1]) or writes (fill = true: at start[pixel]++) each pixel's (k, x) entries.
    /// Which output row (column) an input row (column) reaches through kernel row ky (column kx) comes from small tables,
    /// so the loop over spikes does no division.
    /// </summary>
    private static void List(ReadOnlySpan<float> x, ReadOnlySpan<int> inputs, int[] start, int[] index, float[] value, in ConvGeometry g, int planeSize, bool fill)
    {
        Span<int> rowOf = g.InH * g.KernelH <= 1024 ? stackalloc int[g.InH * g.KernelH] : new int[g.InH * g.KernelH];
        Span<int> colOf = g.InW * g.KernelW <= 1024 ? stackalloc int[g.InW * g.KernelW] : new int[g.InW * g.KernelW];
        Reach(rowOf, g.InH, g.KernelH, g.PadTop, g.DilationH, g.StrideH, g.OutH);
        Reach(colOf, g.InW, g.KernelW, g.PadLeft, g.DilationW, g.StrideW, g.OutW);
        foreach (int at in inputs)
        {
            int ci = at / planeSize;
            int rest = at - (ci * planeSize);
            int iy = rest / g.InW;
            int ix = rest - (iy * g.InW);
            float v = x[at];
            for (int ky = 0; ky < g.KernelH; ky++)
            {
                int oy = rowOf[(iy * g.KernelH) + ky];
                if (oy < 0)
                {
                    continue;
                }

                int rowBase = oy * g.OutW;
                int kBase = ((ci * g.KernelH) + ky) * g.KernelW;
                for (int kx = 0; kx < g.KernelW; kx++)
                {
                    int ox = colOf[(ix * g.KernelW) + kx];
                    if (ox < 0)
                    {
                        continue;
                    }

                    int pixel = rowBase + ox;
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

    /// <summary>reach[i·kernel + kk] = the output position input i feeds through kernel tap kk, or −1.</summary>
    private static void Reach(Span<int> reach, int size, int kernel, int pad, int dilation, int stride, int outSize)
    {
        for (int i = 0; i < size; i++)
        {
            for (int kk = 0; kk < kernel; kk++)
            {
                int n = i + pad - (kk * dilation);
                reach[(i * kernel) + kk] = n >= 0 && n % stride == 0 && n / stride < outSize ? n / stride : -1;
            }
        }
    }
}

/// <summary>Shape of a 2-D convolution: input plane, kernel, strides, dilations, leading pads, output plane.</summary>
internal readonly record struct ConvGeometry(
    int InH, int InW, int KernelH, int KernelW, int StrideH, int StrideW, int DilationH, int DilationW, int PadTop, int PadLeft, int OutH, int OutW);
