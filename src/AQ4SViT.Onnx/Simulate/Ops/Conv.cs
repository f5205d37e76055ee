using AQ4SViT.Onnx.Core;
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
        if (node.Ints("kernel_shape") is { } ks && (w.Rank < 3 || !ks.AsSpan().SequenceEqual(w.Shape[2..].Select(d => (long)d).ToArray())))
        {
            Throw.BadNode("Conv", node.DisplayName, $"kernel_shape [{string.Join(",", ks)}] does not match weight {w.ShapeText}");
        }

        if (node.String("auto_pad") is { } autoPad && autoPad is not ("NOTSET" or "SAME_UPPER" or "SAME_LOWER" or "VALID"))
        {
            Throw.BadNode("Conv", node.DisplayName, $"auto_pad '{autoPad}' is not supported");
        }

        if (x.Rank == 3 && w.Rank == 3)
        {
            return Run1D(node, x, w, bias, ctx);
        }

        if (x.Rank != 4 || w.Rank != 4)
        {
            Throw.BadNode("Conv", node.DisplayName, $"only 1-D and 2-D convolution are supported (input {x.ShapeText}, weight {w.ShapeText})");
        }

        return Run2D(node, x, w, bias, ctx, Spatial(node, "strides", 2, 1), Spatial(node, "dilations", 2, 1), Spatial(node, "pads", 4, 0));
    }

    /// <summary>
    /// Conv1d (QKFormer) as a 2-D Conv over [N, C, 1, L]: views of the same buffers, rebuilt every call, so a weight
    /// overridden by name (fake quantization) is what the kernel reads, and H = 1 keeps it off the 3 × 3 spike-map path.
    /// </summary>
    private static Tensor Run1D(Node node, Tensor x, Tensor w, Tensor? bias, ExecContext ctx)
    {
        long[] s = Spatial(node, "strides", 1, 1);
        long[] d = Spatial(node, "dilations", 1, 1);
        long[] p = Spatial(node, "pads", 2, 0);
        var x2 = x.WithShape([x.Shape[0], x.Shape[1], 1, x.Shape[2]]);
        var w2 = w.WithShape([w.Shape[0], w.Shape[1], 1, w.Shape[2]]);
        var y = Run2D(node, x2, w2, bias, ctx, [1, s[0]], [1, d[0]], [0, p[0], 0, p[1]]);
        return y.WithShape([y.Shape[0], y.Shape[1], y.Shape[3]]);
    }

    /// <summary>A per-axis attribute, checked for the length the input's rank needs and for values the kernel can run.</summary>
    private static long[] Spatial(Node node, string name, int length, long fallback)
    {
        long[]? v = node.Ints(name);
        if (v is null)
        {
            return Enumerable.Repeat(fallback, length).ToArray();
        }

        if (v.Length != length)
        {
            Throw.BadNode("Conv", node.DisplayName, $"'{name}' has {v.Length} values, the input's rank needs {length}");
        }

        long min = name == "pads" ? 0 : 1;
        foreach (long e in v)
        {
            if (e < min || e > int.MaxValue)
            {
                Throw.BadNode("Conv", node.DisplayName, $"'{name}' value {e} is not supported ([{string.Join(",", v)}])");
            }
        }

        return v;
    }

    private static Tensor Run2D(Node node, Tensor x, Tensor w, Tensor? bias, ExecContext ctx, long[] strides, long[] dil, long[] pads)
    {
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
        if (group < 1 || cg * group != c || m % group != 0)
        {
            Throw.BadNode("Conv", node.DisplayName, $"input {x.ShapeText}, weight {w.ShapeText} and group {group} do not agree");
        }

        if (bias is not null && bias.Length != m)
        {
            Throw.BadNode("Conv", node.DisplayName, $"bias {bias.ShapeText} for {m} output channels");
        }

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
        if (h + pt + pb < ekh || wd + pl + pr < ekw)
        {
            Throw.BadNode("Conv", node.DisplayName, $"kernel {w.ShapeText} (dilated) is larger than the padded input {x.ShapeText}");
        }

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
