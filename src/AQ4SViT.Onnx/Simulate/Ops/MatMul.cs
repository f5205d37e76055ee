using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>MatMul with numpy semantics (batched, broadcast batch dims, 1-D operands promoted).</summary>
internal static class MatMul
{
    /// <param name="epilogue">Finishes each output row (a fused Linear layer's bias and normalisation).</param>
    public static Tensor Run(Node node, Tensor a, Tensor b, ExecContext ctx, RowEpilogue? epilogue = null)
    {
        int[] sa = a.Rank == 1 ? [1, a.Shape[0]] : a.Shape;
        int[] sb = b.Rank == 1 ? [b.Shape[0], 1] : b.Shape;
        int m = sa[^2];
        int k = sa[^1];
        int n = sb[^1];
        if (sb[^2] != k)
        {
            Throw.BadNode("MatMul", node.DisplayName, $"inner dimensions differ: {a.ShapeText} × {b.ShapeText}");
        }

        int[] batchA = sa[..^2];
        int[] batchB = sb[..^2];
        int[] batch = Broadcast.Shape(batchA, batchB, () => $"node '{node.DisplayName}' (MatMul)");
        var outShape = new List<int>(batch);
        if (a.Rank != 1)
        {
            outShape.Add(m);
        }

        if (b.Rank != 1)
        {
            outShape.Add(n);
        }

        var result = Tensor.Uninitialized(outShape.ToArray());
        float[] fa = a.FloatData!;
        float[] fb = b.FloatData!;
        float[] fc = result.FloatData!;
        int batchCount = Tensor.SizeOf(batch);
        if (batchB.Length == 0 || Tensor.SizeOf(batchB) == 1 && batchCount == Tensor.SizeOf(batchA))
        {
            // One weight matrix for every row of A: a single tall GEMM.
            bool packed = ctx.IsConstant?.Invoke(node.Inputs[1]) == true;
            GemmKernel.Multiply(fa, fb, fc, 0, 0, 0, batchCount * m, k, n, ctx, packedB: packed, epilogue: epilogue);
            return result;
        }

        int strideK = GemmKernel.OrtStrideK(n, k);
        long[] stA = Broadcast.Strides(batchA, batch);
        long[] stB = Broadcast.Strides(batchB, batch);
        ctx.For(batchCount, bi =>
        {
            long oa = 0;
            long ob = 0;
            int rem = bi;
            for (int d = batch.Length - 1; d >= 0; d--)
            {
                int idx = rem % batch[d];
                rem /= batch[d];
                oa += idx * stA[d];
                ob += idx * stB[d];
            }

            GemmKernel.Rows(fa.AsSpan((int)(oa * m * k), m * k), fb.AsSpan((int)(ob * k * n), k * n), fc.AsSpan(bi * m * n, m * n), 0, m, k, n, strideK, epilogue: epilogue);
        });
        return result;
    }

    /// <summary>
    /// A fused Linear layer (<see cref="LinearFusion"/>): MatMul(A, B), + bias, and with the <paramref name="norm"/>
    /// parameters the last-axis normalisation of <see cref="BatchNorm.RunLastAxis"/> (which needs a rank-3 product),
    /// applied row by row.
    /// </summary>
    public static Tensor Linear(Node node, Tensor a, Tensor b, Tensor bias, (Tensor Scale, Tensor Bias, Tensor Mean, Tensor Variance)? norm, ExecContext ctx)
    {
        int n = b.Rank == 1 ? 1 : b.Shape[^1];
        if (bias.Length != n)
        {
            Throw.BadNode(node.OpType, node.DisplayName, $"bias {bias.ShapeText} does not match the product's {n} columns");
        }

        float[]? scale = null, shift = null;
        if (norm is { } p)
        {
            if (a.Rank != 3)
            {
                Throw.BadNode(node.OpType, node.DisplayName, $"the normalisation expects a rank-3 input, got {a.ShapeText}");
            }

            (scale, shift) = BatchNorm.Affine(node, n, p.Scale, p.Bias, p.Mean, p.Variance);
        }

        return Run(node, a, b, ctx, new RowEpilogue(bias.FloatData!, scale, shift));
    }

    /// <summary>Gemm: Y = alpha·A'·B' + beta·C (A' = Aᵀ if transA, B' = Bᵀ if transB), C broadcast to (M, N).</summary>
    public static Tensor Gemm(Node node, Tensor a, Tensor b, Tensor? c, ExecContext ctx)
    {
        bool ta = node.Int("transA", 0) != 0;
        bool tb = node.Int("transB", 0) != 0;
        float alpha = node.Float("alpha", 1f);
        float beta = node.Float("beta", 1f);
        if (a.Rank != 2 || b.Rank != 2)
        {
            Throw.BadNode("Gemm", node.DisplayName, $"expects 2-D inputs, got {a.ShapeText} and {b.ShapeText}");
        }

        int m = ta ? a.Shape[1] : a.Shape[0];
        int k = ta ? a.Shape[0] : a.Shape[1];
        int n = tb ? b.Shape[0] : b.Shape[1];
        if ((tb ? b.Shape[1] : b.Shape[0]) != k)
        {
            Throw.BadNode("Gemm", node.DisplayName, $"inner dimensions differ: {a.ShapeText} × {b.ShapeText} (transA {ta}, transB {tb})");
        }

        float[] fa = a.FloatData!;
        float[] fb = b.FloatData!;
        if (ta)
        {
            fa = new float[m * k];
            GemmKernel.Transpose(a.Floats, fa, k, m);
        }

        if (tb)
        {
            fb = new float[k * n];
            GemmKernel.Transpose(b.Floats, fb, n, k);
        }

        bool packedB = ctx.IsConstant?.Invoke(node.Inputs[1]) == true;

        // As ONNX Runtime: Y = beta·C broadcast first, then Y += alpha·(A·B) block by block.
        var result = Tensor.Uninitialized([m, n]);
        var y = result.Floats;
        bool hasC = c is not null && beta != 0f;
        if (hasC)
        {
            StridedCopy.Copy<float>(c!.Floats, 0, Broadcast.Strides(c.Shape, [m, n]), [m, n], y);
            if (beta != 1f)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(y, beta, y);
            }
        }

        if (alpha == 1f)
        {
            GemmKernel.Multiply(fa, fb, result.FloatData!, 0, 0, 0, m, k, n, ctx, accumulate: hasC, packedB: packedB);
        }
        else
        {
            var product = new float[m * n];
            GemmKernel.Multiply(fa, fb, product, 0, 0, 0, m, k, n, ctx, packedB: packedB);
            System.Numerics.Tensors.TensorPrimitives.Multiply(product, alpha, product);
            if (hasC)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(y, product, y);
            }
            else
            {
                product.CopyTo(y);
            }
        }

        return result;
    }
}
