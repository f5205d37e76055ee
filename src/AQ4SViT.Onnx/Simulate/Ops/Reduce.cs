using System.Numerics.Tensors;
using AQ4SViT.Onnx.Graph;
using Tensor = AQ4SViT.Onnx.Core.Tensor;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// ReduceSum / ReduceMean / ReduceMax / ReduceMin: axes as attribute or, from opset 13 (Sum) / 18 (the others), as input.
/// Sums round like ONNX Runtime's CPU kernels: a leading or middle reduced block is summed in order (its MLAS/Eigen
/// column sums), a trailing one in Eigen's SSE order (<see cref="EigenSum"/>); the mean then divides by the count.
/// </summary>
internal static class Reduce
{
    public static Tensor Run(Node node, Tensor?[] inputs)
    {
        var x = inputs[0]!;
        int axesFromInput = node.OpType == "ReduceSum" ? 13 : 18;
        long[]? axes = node.Opset >= axesFromInput
            ? (inputs.Length > 1 ? inputs[1]?.ToLongArray() : null)
            : node.Ints("axes");
        bool keep = node.Int("keepdims", 1) != 0;
        int rank = x.Rank;
        var reduce = new bool[rank];
        if (axes is null || axes.Length == 0)
        {
            if (node.Int("noop_with_empty_axes", 0) != 0)
            {
                return x;
            }

            Array.Fill(reduce, true);
        }
        else
        {
            foreach (long a in axes)
            {
                long k = a < 0 ? a + rank : a;
                if (k < 0 || k >= rank)
                {
                    Core.Throw.BadNode(node.OpType, node.DisplayName, $"axis {a} out of range for input {x.ShapeText}");
                }

                reduce[k] = true;
            }
        }

        var outShape = keep
            ? x.Shape.Select((d, i) => reduce[i] ? 1 : d).ToArray()
            : x.Shape.Where((_, i) => !reduce[i]).ToArray();
        var xf = x.IsFloat ? x : Tensor.FromFloats(x.ToFloatArray(), x.Shape);
        var result = Tensor.NewFloats(outShape);

        // Collapse to (outer, reduced, inner) when the reduced axes (ignoring size-1 axes) are one contiguous block.
        int first = -1;
        int last = -1;
        bool contiguous = true;
        for (int i = 0; i < rank; i++)
        {
            if (!reduce[i] || x.Shape[i] == 1)
            {
                continue;
            }

            if (first < 0)
            {
                first = i;
            }
            else if (Enumerable.Range(last + 1, i - last - 1).Any(j => !reduce[j] && x.Shape[j] != 1))
            {
                contiguous = false;
            }

            last = i;
        }

        float[] data;
        int outer;
        int count;
        int inner;
        if (first < 0)
        {
            data = xf.FloatData!;
            outer = x.Length;
            count = 1;
            inner = 1;
        }
        else if (contiguous)
        {
            data = xf.FloatData!;
            outer = Tensor.SizeOf(x.Shape.AsSpan(0, first));
            count = Tensor.SizeOf(x.Shape.AsSpan(first, last - first + 1));
            inner = Tensor.SizeOf(x.Shape.AsSpan(last + 1));
        }
        else
        {
            // General axes: move the reduced ones last (a strided copy), then reduce trailing rows.
            var order = Enumerable.Range(0, rank).Where(i => !reduce[i]).Concat(Enumerable.Range(0, rank).Where(i => reduce[i])).ToArray();
            long[] dense = StridedCopy.Dense(x.Shape);
            data = StridedCopy.View(xf, 0, order.Select(i => dense[i]).ToArray(), order.Select(i => x.Shape[i]).ToArray()).FloatData!;
            inner = 1;
            count = Enumerable.Range(0, rank).Where(i => reduce[i]).Aggregate(1, (p, i) => p * x.Shape[i]);
            outer = count == 0 ? 0 : x.Length / count;
        }

        var o = result.Floats;
        bool mean = node.OpType == "ReduceMean";
        bool max = node.OpType == "ReduceMax";
        bool min = node.OpType == "ReduceMin";
        for (int r = 0; r < outer; r++)
        {
            var dst = o.Slice(r * inner, inner);
            if (count == 0)
            {
                dst.Fill(max ? float.NegativeInfinity : min ? float.PositiveInfinity : mean ? float.NaN : 0f);
                continue;
            }

            int at = r * count * inner;
            if (inner == 1)
            {
                var row = data.AsSpan(at, count);
                dst[0] = max ? TensorPrimitives.Max(row) : min ? TensorPrimitives.Min(row) : EigenSum(row, at);
            }
            else
            {
                data.AsSpan(at, inner).CopyTo(dst);
                for (int k = 1; k < count; k++)
                {
                    var next = data.AsSpan(at + (k * inner), inner);
                    if (max)
                    {
                        TensorPrimitives.Max(dst, next, dst);
                    }
                    else if (min)
                    {
                        TensorPrimitives.Min(dst, next, dst);
                    }
                    else
                    {
                        TensorPrimitives.Add(dst, next, dst);
                    }
                }
            }

            if (mean)
            {
                for (int i = 0; i < dst.Length; i++)
                {
                    dst[i] /= count;
                }
            }
        }

        return x.IsFloat ? result : Tensor.FromLongs(result.ToLongArray(), outShape);
    }

    /// <summary>
    /// Sum in the order of Eigen's vectorised reduction with 4-float (SSE) packets over a row that starts
    /// <paramref name="offset"/> floats into an aligned buffer: scalar head up to the first aligned element, two packet
    /// accumulators over pairs of packets, one more packet, the packet's horizontal sum ((a0+a2)+(a1+a3)), then head and tail.
    /// </summary>
    internal static float EigenSum(ReadOnlySpan<float> row, int offset)
    {
        const int P = 4;
        int size = row.Length;
        int alignedStart = Math.Min((P - (offset % P)) % P, size);
        int alignedSize = (size - alignedStart) / P * P;
        int alignedSize2 = (size - alignedStart) / (2 * P) * (2 * P);
        int alignedEnd = alignedStart + alignedSize;
        int alignedEnd2 = alignedStart + alignedSize2;
        if (alignedSize == 0)
        {
            float s = row[0];
            for (int i = 1; i < size; i++)
            {
                s += row[i];
            }

            return s;
        }

        Span<float> p0 = stackalloc float[P];
        Span<float> p1 = stackalloc float[P];
        row.Slice(alignedStart, P).CopyTo(p0);
        if (alignedSize > P)
        {
            row.Slice(alignedStart + P, P).CopyTo(p1);
            for (int index = alignedStart + (2 * P); index < alignedEnd2; index += 2 * P)
            {
                for (int l = 0; l < P; l++)
                {
                    p0[l] += row[index + l];
                    p1[l] += row[index + P + l];
                }
            }

            for (int l = 0; l < P; l++)
            {
                p0[l] += p1[l];
            }

            if (alignedEnd > alignedEnd2)
            {
                for (int l = 0; l < P; l++)
                {
                    p0[l] += row[alignedEnd2 + l];
                }
            }
        }

        float res = (p0[0] + p0[2]) + (p0[1] + p0[3]);
        for (int i = 0; i < alignedStart; i++)
        {
            res += row[i];
        }

        for (int i = alignedEnd; i < size; i++)
        {
            res += row[i];
        }

        return res;
    }
}
