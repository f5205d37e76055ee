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
        ctx.For(n, plane =>
        {
            var src = xf.AsSpan(plane * h * w, h * w);
            var dst = yf.AsSpan(plane * oh * ow, oh * ow);
            for (int oy = 0; oy < oh; oy++)
            {
                for (int ox = 0; ox < ow; ox++)
                {
                    float best = float.NegativeInfinity;
                    for (int ky = 0; ky < k0; ky++)
                    {
                        int iy = (oy * s0) - p0 + (ky * d0);
                        if ((uint)iy >= (uint)h)
                        {
                            continue;
                        }

                        for (int kx = 0; kx < k1; kx++)
                        {
                            int ix = (ox * s1) - p1 + (kx * d1);
                            if ((uint)ix < (uint)w)
                            {
                                float v = src[(iy * w) + ix];
                                if (v > best || float.IsNaN(v))
                                {
                                    best = v;
                                }
                            }
                        }
                    }

                    dst[(oy * ow) + ox] = best;
                }
            }
        });
        return result;
    }

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
