using System.Numerics.Tensors;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;
using Tensor = AQ4SViT.Onnx.Core.Tensor;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// Softmax: over one axis from opset 13 (default −1); before it, over the input flattened to 2-D at the axis (default 1).
/// Each row subtracts its max before Exp (no overflow), as ONNX Runtime does. A row that is not contiguous (an inner axis)
/// is gathered into a pooled buffer and written back.
/// </summary>
internal static class Softmax
{
    public static Tensor Run(Node node, Tensor x)
    {
        int rank = x.Rank;
        long a = node.Int("axis", node.Opset >= 13 ? -1 : 1);
        long axis = a < 0 ? a + rank : a;
        if (!x.IsFloat || axis < 0 || axis >= Math.Max(rank, 1))
        {
            Throw.BadNode("Softmax", node.DisplayName, x.IsFloat ? $"axis {a} out of range for input {x.ShapeText}" : "needs a float input");
        }

        int ax = (int)axis;
        int outer = Tensor.SizeOf(x.Shape.AsSpan(0, Math.Min(ax, rank)));
        int count = node.Opset >= 13 ? (rank == 0 ? 1 : x.Shape[ax]) : Tensor.SizeOf(x.Shape.AsSpan(ax));
        int inner = node.Opset >= 13 && rank > 0 ? Tensor.SizeOf(x.Shape.AsSpan(ax + 1)) : 1;
        var result = Tensor.Uninitialized(x.Shape, x.Kind);
        var src = x.Floats;
        var dst = result.Floats;
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++)
            {
                Row(src.Slice(o * count, count), dst.Slice(o * count, count));
            }

            return result;
        }

        float[] row = BufferPool<float>.Shared.Rent(count);
        var r = row.AsSpan(0, count);
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                int at = (o * count * inner) + i;
                for (int j = 0; j < count; j++)
                {
                    r[j] = src[at + (j * inner)];
                }

                Row(r, r);
                for (int j = 0; j < count; j++)
                {
                    dst[at + (j * inner)] = r[j];
                }
            }
        }

        BufferPool<float>.Shared.Return(row);
        return result;
    }

    private static void Row(ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.Length == 0)
        {
            return;
        }

        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        TensorPrimitives.Divide(y, TensorPrimitives.Sum(y), y);
    }
}
