using AQ4SViT.Onnx.Errors;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// 2-D Conv (groups, strides, pads, dilations) as im2col + GEMM per image: colᵀ[P×K] · Wᵀ[K×M] so the GEMM's left operand
/// is the (often spiking, 0/1) input and its zeros are skipped. Images run in parallel with pooled buffers.
/// </summary>
internal static class Conv
{
    /// <summary>Below this fraction of non-zero inputs the spike-driven kernel runs (same bits, work ∝ spikes).</summary>
    private const float SpikesBelow = 0.3f;

    public static Tensor Run(Node node, Tensor x, Tensor w, Tensor? bias, ExecContext ctx)
    {
        if (x.Rank != 4 || w.Rank != 4)
        {
            Throw.BadNode("Conv", node.DisplayName, $"only 2-D convolution is supported (input {x.ShapeText}, weight {w.ShapeText})");
        }

        string autoPad = node.String("auto_pad") ?? "NOTSET";
        int group = (int)node.Int("group", 1);
        int n = x.Shape[0];
        int c = x.Shape[1];
        int h = x.Shape[2];
        int wd = x.Shape[3];
        int m = w.Shape[0];
        int cg = w.Shape[1];
        int kh = w.Shape[2];
        int kw = w.Shape[3];
        if (cg * group != c || m % group != 0)
        {
            Throw.BadNode("Conv", node.DisplayName, $"input {x.ShapeText}, weight {w.ShapeText} and group {group} do not agree");
        }

        long[] strides = node.Ints("strides") ?? [1, 1];
        long[] dil = node.Ints("dilations") ?? [1, 1];
        long[] pads = node.Ints("pads") ?? [0, 0, 0, 0];
        int sh = (int)strides[0];
        int sw = (int)strides[1];
        int dh = (int)dil[0];
        int dw = (int)dil[1];
        int ekh = ((kh - 1) * dh) + 1;
        int ekw = ((kw - 1) * dw) + 1;
        int pt = (int)pads[0];
        int pl = (int)pads[1];
        int pb = (int)pads[2];
        int pr = (int)pads[3];
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            int oh0 = (h + sh - 1) / sh;
            int ow0 = (wd + sw - 1) / sw;
            int padH = Math.Max(0, ((oh0 - 1) * sh) + ekh - h);
            int padW = Math.Max(0, ((ow0 - 1) * sw) + ekw - wd);
            pt = autoPad == "SAME_UPPER" ? padH / 2 : padH - (padH / 2);
            pb = padH - pt;
            pl = autoPad == "SAME_UPPER" ? padW / 2 : padW - (padW / 2);
            pr = padW - pl;
        }
        else if (autoPad == "VALID")
        {
            pt = pl = pb = pr = 0;
        }

        int oh = ((h + pt + pb - ekh) / sh) + 1;
        int ow = ((wd + pl + pr - ekw) / sw) + 1;
        int p = oh * ow;
        int kdim = cg * kh * kw;
        int mg = m / group;
        var result = Tensor.Uninitialized([n, m, oh, ow]);

        float[] xf = x.FloatData!;
        float[] of = result.FloatData!;
        float[]? bf = bias?.FloatData;
        bool pointwise = kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && pb == 0 && pr == 0;

        // Orientation: the GEMM's inner axpy runs over its N; take the larger of P (pixels) and Mg (channels).
        // W·col writes the output directly; colᵀ·Wᵀ skips zero (non-spiking) inputs but needs a transpose back.
        // Measured: colᵀ·Wᵀ with the sparse kernel loses to W·col on 28×28 spike maps (im2colᵀ + transpose back); keep it for few pixels.
        bool pixelsInner = p >= mg;
        int strideK = GemmKernel.OrtStrideK(p, kdim);
        bool spikes = GemmKernel.Density(xf.AsSpan(0, x.Length)) < SpikesBelow;
        var geometry = new ConvGeometry(h, wd, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow);
        float[]? transposed = pixelsInner && !spikes ? null : TransposeWeights(w, group, mg, kdim);
        float[] wt = transposed ?? w.FloatData!;
        ctx.For(n * group, job =>
        {
            int img = job / group;
            int g = job % group;
            if (spikes)
            {
                var dstSpikes = of.AsSpan(((img * m) + (g * mg)) * p, mg * p);
                SpikeConv.Image(xf.AsSpan(((img * c) + (g * cg)) * h * wd, cg * h * wd), wt.AsSpan(g * kdim * mg, kdim * mg), dstSpikes, geometry, mg, strideK);
                AddBias(dstSpikes, bf, g * mg, mg, p);
                return;
            }

            var col = pointwise && pixelsInner ? null : BufferPool<float>.Shared.Rent(p * kdim);
            var outT = pixelsInner ? null : BufferPool<float>.Shared.Rent(p * mg);
            try
            {
                var src = xf.AsSpan(((img * c) + (g * cg)) * h * wd, cg * h * wd);
                var dst = of.AsSpan(((img * m) + (g * mg)) * p, mg * p);
                if (pixelsInner)
                {
                    ReadOnlySpan<float> colSpan = src;
                    if (col is not null)
                    {
                        Im2Col(src, col, cg, h, wd, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow);
                        colSpan = col.AsSpan(0, kdim * p);
                    }

                    GemmKernel.Rows(wt.AsSpan(g * mg * kdim, mg * kdim), colSpan, dst, 0, mg, kdim, p, strideK);
                }
                else
                {
                    if (pointwise)
                    {
                        GemmKernel.Transpose(src, col, cg, p);
                    }
                    else
                    {
                        Im2ColT(src, col!, cg, h, wd, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow);
                    }

                    GemmKernel.Rows(col.AsSpan(0, p * kdim), wt.AsSpan(g * kdim * mg, kdim * mg), outT.AsSpan(0, p * mg), 0, p, kdim, mg, strideK);
                    GemmKernel.Transpose(outT.AsSpan(0, p * mg), dst, p, mg);
                }

                AddBias(dst, bf, g * mg, mg, p);
            }
            finally
            {
                if (col is not null)
                {
                    BufferPool<float>.Shared.Return(col);
                }

                if (outT is not null)
                {
                    BufferPool<float>.Shared.Return(outT);
                }
            }
        });
        if (transposed is not null)
        {
            BufferPool<float>.Shared.Return(transposed);
        }

        return result;
    }

    private static void AddBias(Span<float> dst, float[]? bias, int first, int channels, int pixels)
    {
        if (bias is null)
        {
            return;
        }

        for (int j = 0; j < channels; j++)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(dst.Slice(j * pixels, pixels), bias[first + j], dst.Slice(j * pixels, pixels));
        }
    }

    /// <summary>Wᵀ per group, in a pooled buffer: a fresh array per call left every weight's copy to the collector,
    /// which on SDT-8-768 (53 Convs) held about 180 MB of them.</summary>
    private static float[] TransposeWeights(Tensor w, int group, int mg, int kdim)
    {
        var wt = BufferPool<float>.Shared.Rent(group * kdim * mg);
        for (int g = 0; g < group; g++)
        {
            GemmKernel.Transpose(w.Floats.Slice(g * mg * kdim, mg * kdim), wt.AsSpan(g * kdim * mg, kdim * mg), mg, kdim);
        }

        return wt;
    }

    /// <summary>col[(ci, ky, kx), p] = x[ci, oy·sh − pt + ky·dh, ox·sw − pl + kx·dw] (0 outside).</summary>
    private static void Im2Col(ReadOnlySpan<float> x, Span<float> col, int c, int h, int w, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int oh, int ow)
    {
        int p = oh * ow;
        int r = 0;
        for (int ci = 0; ci < c; ci++)
        {
            var plane = x.Slice(ci * h * w, h * w);
            for (int ky = 0; ky < kh; ky++)
            {
                for (int kx = 0; kx < kw; kx++, r++)
                {
                    var row = col.Slice(r * p, p);
                    for (int oy = 0; oy < oh; oy++)
                    {
                        int iy = (oy * sh) - pt + (ky * dh);
                        var orow = row.Slice(oy * ow, ow);
                        if ((uint)iy >= (uint)h)
                        {
                            orow.Clear();
                            continue;
                        }

                        var irow = plane.Slice(iy * w, w);
                        int shift = (kx * dw) - pl;
                        if (sw == 1)
                        {
                            // ix = ox + shift: one span copy for the columns inside the image, zeros around it.
                            int lo = Math.Clamp(-shift, 0, ow);
                            int hi = Math.Clamp(w - shift, lo, ow);
                            orow[..lo].Clear();
                            irow.Slice(lo + shift, hi - lo).CopyTo(orow[lo..hi]);
                            orow[hi..].Clear();
                            continue;
                        }

                        for (int ox = 0; ox < ow; ox++)
                        {
                            int ix = (ox * sw) + shift;
                            orow[ox] = (uint)ix < (uint)w ? irow[ix] : 0f;
                        }
                    }
                }
            }
        }
    }

    /// <summary>colᵀ[p, (ci, ky, kx)] = x[ci, oy·sh − pt + ky·dh, ox·sw − pl + kx·dw] (0 outside).</summary>
    private static void Im2ColT(ReadOnlySpan<float> x, Span<float> col, int c, int h, int w, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int oh, int ow)
    {
        int kdim = c * kh * kw;
        for (int oy = 0; oy < oh; oy++)
        {
            for (int ox = 0; ox < ow; ox++)
            {
                var row = col.Slice(((oy * ow) + ox) * kdim, kdim);
                int iy0 = (oy * sh) - pt;
                int ix0 = (ox * sw) - pl;
                bool inside = iy0 >= 0 && iy0 + ((kh - 1) * dh) < h && ix0 >= 0 && ix0 + ((kw - 1) * dw) < w;
                int q = 0;
                for (int ci = 0; ci < c; ci++)
                {
                    var plane = x.Slice(ci * h * w, h * w);
                    for (int ky = 0; ky < kh; ky++)
                    {
                        int iy = iy0 + (ky * dh);
                        if (inside && dw == 1)
                        {
                            plane.Slice((iy * w) + ix0, kw).CopyTo(row.Slice(q, kw));
                            q += kw;
                            continue;
                        }

                        if ((uint)iy >= (uint)h)
                        {
                            row.Slice(q, kw).Clear();
                            q += kw;
                            continue;
                        }

                        for (int kx = 0; kx < kw; kx++)
                        {
                            int ix = ix0 + (kx * dw);
                            row[q++] = (uint)ix < (uint)w ? plane[(iy * w) + ix] : 0f;
                        }
                    }
                }
            }
        }
    }
}
