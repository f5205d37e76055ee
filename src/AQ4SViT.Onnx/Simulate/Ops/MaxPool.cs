using System.Runtime.Intrinsics;
using AQ4SViT.Onnx.Errors;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>2-D MaxPool (kernel, strides, pads, dilations, ceil_mode); padding never wins the max.</summary>
internal static class MaxPool
{
    public static Tensor Run(Node node, Tensor x, ExecContext ctx)
    {
        if (x.Rank != 4)
        {
            Throw.BadNode("MaxPool", node.DisplayName, $"only 2-D pooling is supported (input {x.ShapeText})");
        }

        if (node.Outputs.Length > 1 && node.Outputs[1].Length > 0)
        {
            Throw.UnsupportedOp("MaxPool", node.DisplayName, "the Indices output is not supported");
        }

        long[] k = node.Ints("kernel_shape") ?? Throw.BadNode<long[]>(node, "kernel_shape is required");
        long[] s = node.Ints("strides") ?? [1, 1];
        long[] d = node.Ints("dilations") ?? [1, 1];
        long[] pads = node.Ints("pads") ?? [0, 0, 0, 0];
        string autoPad = node.String("auto_pad") ?? "NOTSET";
        if (autoPad is not "NOTSET" and not "VALID")
        {
            Throw.UnsupportedOp("MaxPool", node.DisplayName, $"auto_pad {autoPad}");
        }

        if (autoPad == "VALID")
        {
            pads = [0, 0, 0, 0];
        }

        bool ceil = node.Int("ceil_mode", 0) != 0;
        int n = x.Shape[0] * x.Shape[1];
        int h = x.Shape[2];
        int w = x.Shape[3];
        int oh = OutSize(h, (int)k[0], (int)s[0], (int)d[0], (int)pads[0], (int)pads[2], ceil);
        int ow = OutSize(w, (int)k[1], (int)s[1], (int)d[1], (int)pads[1], (int)pads[3], ceil);
        var result = Tensor.Uninitialized([x.Shape[0], x.Shape[1], oh, ow]);
        float[] xf = x.FloatData!;
        float[] yf = result.FloatData!;
        int k0 = (int)k[0], k1 = (int)k[1], s0 = (int)s[0], s1 = (int)s[1], d0 = (int)d[0], d1 = (int)d[1], p0 = (int)pads[0], p1 = (int)pads[1];
        var g = new Window(h, w, oh, ow, k0, k1, s0, s1, d0, d1, p0, p1);

        // A window always holds at least one input when the leading pads are smaller than the kernel's extent.
        bool windowsHoldInput = p0 < ((k0 - 1) * d0) + 1 && p1 < ((k1 - 1) * d1) + 1;
        ctx.ForRanges(n, (first, end) =>
        {
            float[] rowMax = BufferPool<float>.Shared.Rent(w);
            for (int plane = first; plane < end; plane++)
            {
                var src = xf.AsSpan(plane * h * w, h * w);
                var dst = yf.AsSpan(plane * oh * ow, oh * ow);
                if (windowsHoldInput && src.IndexOfAnyExcept(0f) < 0)
                {
                    dst.Clear(); // a silent spike map pools to zeros
                    continue;
                }

                Plane(src, dst, rowMax, g);
            }

            BufferPool<float>.Shared.Return(rowMax);
        });
        return result;
    }

    private readonly record struct Window(int H, int W, int OutH, int OutW, int KH, int KW, int SH, int SW, int DH, int DW, int PadTop, int PadLeft);

    /// <summary>
    /// Max is separable: for each output row, first the window's input rows element by element (eight at a time), then
    /// the window's columns of that row.
    /// </summary>
    private static unsafe void Plane(ReadOnlySpan<float> src, Span<float> dst, float[] rowMax, in Window g)
    {
        fixed (float* ps = src, pd = dst, pm = rowMax)
        {
            for (int oy = 0; oy < g.OutH; oy++)
            {
                new Span<float>(pm, g.W).Fill(float.NegativeInfinity);
                int iy0 = (oy * g.SH) - g.PadTop;
                for (int ky = 0; ky < g.KH; ky++)
                {
                    int iy = iy0 + (ky * g.DH);
                    if ((uint)iy < (uint)g.H)
                    {
                        LargerInto(pm, ps + (iy * g.W), g.W);
                    }
                }

                float* orow = pd + (oy * g.OutW);
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    float best = float.NegativeInfinity;
                    int ix0 = (ox * g.SW) - g.PadLeft;
                    for (int kx = 0; kx < g.KW; kx++)
                    {
                        int ix = ix0 + (kx * g.DW);
                        if ((uint)ix < (uint)g.W)
                        {
                            best = Larger(best, pm[ix]);
                        }
                    }

                    orow[ox] = best;
                }
            }
        }
    }

    /// <summary>acc[i] = Larger(acc[i], row[i]), with the same comparisons as the scalar form.</summary>
    private static unsafe void LargerInto(float* acc, float* row, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= count; i += 8)
            {
                var v = Vector256.Load(row + i);
                var best = Vector256.Load(acc + i);
                var wins = Vector256.GreaterThan(v, best) | ~Vector256.Equals(v, v);
                Vector256.ConditionalSelect(wins, v, best).Store(acc + i);
            }
        }

        for (; i < count; i++)
        {
            acc[i] = Larger(acc[i], row[i]);
        }
    }

    /// <summary>The larger value; NaN wins (as ONNX Runtime's MaxPool).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static float Larger(float best, float v) => v > best || float.IsNaN(v) ? v : best;

    private static int OutSize(int size, int k, int s, int d, int padBegin, int padEnd, bool ceil)
    {
        int span = size + padBegin + padEnd - (((k - 1) * d) + 1);
        int o = (ceil ? (span + s - 1) / s : span / s) + 1;
        if (ceil && (o - 1) * s >= size + padBegin)
        {
            o--;
        }

        return o;
    }
}
