using System.Runtime.Intrinsics;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// 2-D MaxPool (kernel, strides, pads, dilations, ceil_mode), and 1-D as 2-D over H = 1; padding never wins the max.
/// The optional Indices output (the dynamo exporter's max_pool2d_with_indices names it even when nothing reads it) is
/// a separate scalar pass, so the value kernels stay as they are.
/// </summary>
internal static class MaxPool
{
    public static Tensor Run(Node node, Tensor x, ExecContext ctx) => Outputs(node, x, ctx)[0];

    /// <summary>The values, and the indices when the node names its second output.</summary>
    public static Tensor[] Outputs(Node node, Tensor x, ExecContext ctx)
    {
        if (x.Rank is not (3 or 4))
        {
            Throw.BadNode("MaxPool", node.DisplayName, $"only 1-D and 2-D pooling are supported (input {x.ShapeText})");
        }

        bool indices = node.Outputs.Length > 1 && node.Outputs[1].Length > 0;
        long storageOrder = node.Int("storage_order", 0);
        if (storageOrder is not (0 or 1))
        {
            Throw.BadNode("MaxPool", node.DisplayName, $"storage_order {storageOrder} is not 0 or 1");
        }

        long[] k = node.Ints("kernel_shape") ?? Throw.BadNode<long[]>(node.OpType, node.DisplayName, "kernel_shape is required");
        long[] s = node.Ints("strides") ?? (x.Rank == 3 ? [1] : [1, 1]);
        long[] d = node.Ints("dilations") ?? (x.Rank == 3 ? [1] : [1, 1]);
        long[] pads = node.Ints("pads") ?? (x.Rank == 3 ? [0, 0] : [0, 0, 0, 0]);
        if (x.Rank == 3)
        {
            if (k.Length != 1 || s.Length != 1 || d.Length != 1 || pads.Length != 2)
            {
                Throw.BadNode("MaxPool", node.DisplayName, $"kernel_shape {Show(k)}, strides {Show(s)}, dilations {Show(d)} and pads {Show(pads)} must be 1, 1, 1 and 2 values for input {x.ShapeText}");
            }

            // [N, C, L] pools as [N, C, 1, L] with a 1-high window: a view, and the 2-D checks and kernels below.
            k = [1, k[0]];
            s = [1, s[0]];
            d = [1, d[0]];
            pads = [0, pads[0], 0, pads[1]];
            var y = Pool(node, x.WithShape([x.Shape[0], x.Shape[1], 1, x.Shape[2]]), ctx, k, s, d, pads, indices, storageOrder == 1);
            return y.Select(t => t.WithShape([t.Shape[0], t.Shape[1], t.Shape[3]])).ToArray();
        }

        return Pool(node, x, ctx, k, s, d, pads, indices, storageOrder == 1);
    }

    private static Tensor[] Pool(Node node, Tensor x, ExecContext ctx, long[] k, long[] s, long[] d, long[] pads, bool indices, bool columnMajor)
    {
        string autoPad = node.String("auto_pad") ?? "NOTSET";
        if (autoPad is not "NOTSET" and not "VALID")
        {
            Throw.UnsupportedOp("MaxPool", node.DisplayName, $"auto_pad {autoPad}");
        }

        if (autoPad == "VALID")
        {
            pads = [0, 0, 0, 0];
        }

        if (k.Length != 2 || s.Length != 2 || d.Length != 2 || pads.Length != 4 || k.Any(v => v < 1) || s.Any(v => v < 1) || d.Any(v => v < 1) || pads.Any(v => v < 0))
        {
            Throw.BadNode("MaxPool", node.DisplayName, $"kernel_shape {Show(k)}, strides {Show(s)}, dilations {Show(d)} and pads {Show(pads)} must be 2, 2, 2 and 4 values, the pads at least 0 and the rest at least 1");
        }

        bool ceil = node.Int("ceil_mode", 0) != 0;
        int n = x.Shape[0] * x.Shape[1];
        int h = x.Shape[2];
        int w = x.Shape[3];
        int oh = OutSize(h, (int)k[0], (int)s[0], (int)d[0], (int)pads[0], (int)pads[2], ceil);
        int ow = OutSize(w, (int)k[1], (int)s[1], (int)d[1], (int)pads[1], (int)pads[3], ceil);
        if (oh < 1 || ow < 1)
        {
            Throw.BadNode("MaxPool", node.DisplayName, $"the window ({Show(k)}, dilations {Show(d)}) does not fit the padded input {x.ShapeText}");
        }

        var result = Tensor.Uninitialized([x.Shape[0], x.Shape[1], oh, ow]);
        float[] xf = x.FloatData!;
        float[] yf = result.FloatData!;
        int k0 = (int)k[0], k1 = (int)k[1], s0 = (int)s[0], s1 = (int)s[1], d0 = (int)d[0], d1 = (int)d[1], p0 = (int)pads[0], p1 = (int)pads[1];
        var g = new Window(h, w, oh, ow, k0, k1, s0, s1, d0, d1, p0, p1);

        // A window always holds at least one input when the leading pads are smaller than the kernel's extent.
        bool windowsHoldInput = p0 < ((k0 - 1) * d0) + 1 && p1 < ((k1 - 1) * d1) + 1;
        bool masks = windowsHoldInput && g.PadLeft + w <= 64 && g.Starts + ((k1 - 1) * d1) <= 64;
        ctx.ForRanges(n, (first, end) =>
        {
            float[] row = BufferPool<float>.Shared.Rent(g.PaddedRow);
            float[] columns = BufferPool<float>.Shared.Rent(g.Starts);
            ulong[] rowBits = BufferPool<ulong>.Shared.Rent(masks ? h : 0);
            row.AsSpan(0, g.PaddedRow).Fill(float.NegativeInfinity); // the pads stay -inf: they never win
            for (int plane = first; plane < end; plane++)
            {
                var src = xf.AsSpan(plane * h * w, h * w);
                var dst = yf.AsSpan(plane * oh * ow, oh * ow);
                if (masks && SpikePlane(src, dst, rowBits, g))
                {
                    continue;
                }

                if (!masks && windowsHoldInput && src.IndexOfAnyExcept(0f) < 0)
                {
                    dst.Clear(); // a silent spike map pools to zeros
                    continue;
                }

                Plane(src, dst, row, columns, g);
            }

            BufferPool<ulong>.Shared.Return(rowBits);
            BufferPool<float>.Shared.Return(columns);
            BufferPool<float>.Shared.Return(row);
        });
        return indices ? [result, Indices(xf, result.Shape, g, columnMajor, ctx)] : [result];
    }

    /// <summary>
    /// Flat input index of each window's max, over the whole [N, C, H, W] input (plane · H·W + iy·W + ix, or ix·H + iy in
    /// column-major storage order), the first of equal maxima winning and pads never, as ONNX Runtime's kernel does.
    /// </summary>
    private static Tensor Indices(float[] x, int[] shape, Window g, bool columnMajor, ExecContext ctx)
    {
        int planes = shape[0] * shape[1];
        var result = Tensor.NewLongs(shape);
        long[] dst = result.LongData!;
        int planeSize = g.H * g.W;
        ctx.ForRanges(planes, (first, end) =>
        {
            for (int plane = first; plane < end; plane++)
            {
                int at = plane * g.OutH * g.OutW;
                for (int oy = 0; oy < g.OutH; oy++)
                {
                    for (int ox = 0; ox < g.OutW; ox++, at++)
                    {
                        float best = float.NegativeInfinity;
                        long found = -1;
                        for (int ky = 0; ky < g.KH; ky++)
                        {
                            int iy = (oy * g.SH) - g.PadTop + (ky * g.DH);
                            if ((uint)iy >= (uint)g.H)
                            {
                                continue;
                            }

                            for (int kx = 0; kx < g.KW; kx++)
                            {
                                int ix = (ox * g.SW) - g.PadLeft + (kx * g.DW);
                                if ((uint)ix < (uint)g.W && (found < 0 || x[(plane * planeSize) + (iy * g.W) + ix] > best))
                                {
                                    best = x[(plane * planeSize) + (iy * g.W) + ix];
                                    found = (long)plane * planeSize + (columnMajor ? ((long)ix * g.H) + iy : ((long)iy * g.W) + ix);
                                }
                            }
                        }

                        dst[at] = found;
                    }
                }
            }
        });
        return result;
    }

    private readonly record struct Window(int H, int W, int OutH, int OutW, int KH, int KW, int SH, int SW, int DH, int DW, int PadTop, int PadLeft)
    {
        /// <summary>Window starts covered by the column pass: every position from the first window's to the last's.</summary>
        public int Starts => ((OutW - 1) * SW) + 1;

        /// <summary>A row with the left pad before it and room after it for the last window's reach.</summary>
        public int PaddedRow => Math.Max(PadLeft + W, Starts + ((KW - 1) * DW));
    }

    /// <summary>
    /// Max is separable: for each output row, first the window's input rows element by element, then the window's columns
    /// of that row, for every window start at once (the row lies between -inf pads, so no tap needs a bounds test), and
    /// the strided starts are picked out. Eight lanes at a time, with the comparisons of the scalar form in the same order.
    /// </summary>
    private static unsafe void Plane(ReadOnlySpan<float> src, Span<float> dst, float[] paddedRow, float[] columns, in Window g)
    {
        fixed (float* ps = src, pd = dst, pr = paddedRow, pc = columns)
        {
            float* pm = pr + g.PadLeft;
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

                new Span<float>(pc, g.Starts).Fill(float.NegativeInfinity);
                for (int kx = 0; kx < g.KW; kx++)
                {
                    LargerInto(pc, pr + (kx * g.DW), g.Starts);
                }

                float* orow = pd + (oy * g.OutW);
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    orow[ox] = pc[ox * g.SW];
                }
            }
        }
    }

    /// <summary>
    /// A 0/1 spike map pools to 1 exactly where a window holds a 1 (every window holds an input, and the pads never win):
    /// each row becomes a bit mask, a window row is the OR of its input rows, and its columns the OR of shifted copies.
    /// False, with nothing written, when a value is neither +0 nor +1 (<see cref="SpikeRows"/>).
    /// </summary>
    private static unsafe bool SpikePlane(ReadOnlySpan<float> src, Span<float> dst, ulong[] rowBits, in Window g)
    {
        fixed (float* ps = src, pd = dst)
        fixed (ulong* rows = rowBits)
        {
            for (int iy = 0; iy < g.H; iy++)
            {
                if (!SpikeRows.TryBits(ps + (iy * g.W), g.W, out ulong bits))
                {
                    return false;
                }

                rows[iy] = bits << g.PadLeft; // bit s: padded column s
            }

            for (int oy = 0; oy < g.OutH; oy++)
            {
                ulong any = 0;
                int iy0 = (oy * g.SH) - g.PadTop;
                for (int ky = 0; ky < g.KH; ky++)
                {
                    int iy = iy0 + (ky * g.DH);
                    if ((uint)iy < (uint)g.H)
                    {
                        any |= rows[iy];
                    }
                }

                // Bit s: the window starting at padded column s holds a 1.
                ulong window = 0;
                for (int kx = 0; kx < g.KW; kx++)
                {
                    window |= any >> (kx * g.DW);
                }

                float* orow = pd + (oy * g.OutW);
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    orow[ox] = (int)(window >> (ox * g.SW)) & 1;
                }
            }
        }

        return true;
    }

    /// <summary>
    /// acc[i] = Larger(acc[i], row[i]), with the same comparisons as the scalar form. A short tail is covered by one more
    /// vector ending at the last element, computed from the values before any store: where it overlaps the others it
    /// stores what they store, and it spares unpredictable scalar branches.
    /// </summary>
    private static unsafe void LargerInto(float* acc, float* row, int count)
    {
        if (Vector256.IsHardwareAccelerated && count >= 8)
        {
            int last = count - 8;
            var tail = Larger(Vector256.Load(acc + last), Vector256.Load(row + last));
            for (int i = 0; i + 8 <= count; i += 8)
            {
                Larger(Vector256.Load(acc + i), Vector256.Load(row + i)).Store(acc + i);
            }

            tail.Store(acc + last);
            return;
        }

        for (int i = 0; i < count; i++)
        {
            acc[i] = Larger(acc[i], row[i]);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Larger(Vector256<float> best, Vector256<float> v) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(v, best) | ~Vector256.Equals(v, v), v, best);

    /// <summary>The larger value; NaN wins (as ONNX Runtime's MaxPool).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static float Larger(float best, float v) => v > best || float.IsNaN(v) ? v : best;

    private static string Show(long[] values) => "[" + string.Join(",", values) + "]";

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
