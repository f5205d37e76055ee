using System.Numerics.Tensors;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;
using Tensor = AQ4SViT.Onnx.Core.Tensor;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>BatchNormalization in inference mode: y = (x − mean)/√(var + ε)·scale + bias over axis 1.</summary>
internal static class BatchNorm
{
    public static Tensor Run(Node node, Tensor x, Tensor scale, Tensor bias, Tensor mean, Tensor variance, ExecContext ctx)
    {
        if (node.Int("training_mode", 0) != 0)
        {
            Throw.BadNode("BatchNormalization", node.DisplayName, "training_mode is not supported");
        }

        int n = x.Shape[0];
        int c = x.Rank > 1 ? x.Shape[1] : 1;
        int inner = x.Rank > 2 ? Tensor.SizeOf(x.Shape.AsSpan(2)) : 1;
        var (a, b) = Affine(node, c, scale, bias, mean, variance);

        var result = Tensor.Uninitialized(x.Shape);
        float[] xf = x.FloatData!;
        float[] yf = result.FloatData!;
        ctx.For(n, img =>
        {
            for (int ch = 0; ch < c; ch++)
            {
                int at = ((img * c) + ch) * inner;
                var dst = yf.AsSpan(at, inner);
                TensorPrimitives.Multiply(xf.AsSpan(at, inner), a[ch], dst);
                TensorPrimitives.Add(dst, b[ch], dst);
            }
        });
        return result;
    }

    /// <summary>
    /// The fused Transpose → BatchNormalization → Transpose of a (N, L, C) tensor: normalises the last axis, with the
    /// same multiply-then-add per element as <see cref="Run"/> on the transposed tensor.
    /// </summary>
    public static Tensor RunLastAxis(Node node, Tensor x, Tensor scale, Tensor bias, Tensor mean, Tensor variance, ExecContext ctx)
    {
        if (x.Rank != 3)
        {
            Throw.BadNode(node.OpType, node.DisplayName, $"expects a rank-3 input, got {x.ShapeText}");
        }

        int c = x.Shape[2];
        int rows = x.Shape[0] * x.Shape[1];
        var (a, b) = Affine(node, c, scale, bias, mean, variance);
        var result = Tensor.Uninitialized(x.Shape);
        float[] xf = x.FloatData!;
        float[] yf = result.FloatData!;
        ctx.ForRanges(rows, (first, end) =>
        {
            for (int r = first; r < end; r++)
            {
                var dst = yf.AsSpan(r * c, c);
                TensorPrimitives.Multiply(xf.AsSpan(r * c, c), a, dst);
                TensorPrimitives.Add(dst, b, dst);
            }
        });
        return result;
    }

    /// <summary>Per channel y = x·a + b, with a and b as ONNX Runtime computes them.</summary>
    internal static (float[] A, float[] B) Affine(Node node, int c, Tensor scale, Tensor bias, Tensor mean, Tensor variance)
    {
        if (scale.Length < c || bias.Length < c || mean.Length < c || variance.Length < c)
        {
            Throw.BadNode(node.OpType, node.DisplayName, $"parameters hold fewer than the {c} channels of the input");
        }

        float eps = node.Float("epsilon", 1e-5f);
        var a = new float[c];
        var b = new float[c];
        for (int i = 0; i < c; i++)
        {
            // As ONNX Runtime: inv_std = 1/√(var + ε), scale' = inv_std·scale, bias' = bias − mean·scale'.
            a[i] = (1f / MathF.Sqrt(variance.Floats[i] + eps)) * scale.Floats[i];
            b[i] = bias.Floats[i] - (mean.Floats[i] * a[i]);
        }

        return (a, b);
    }
}
