using System.Numerics.Tensors;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>ReduceSum / ReduceMean / ReduceMax: axes as attribute or, from opset 13 (Sum) / 18 (Mean, Max), as input.</summary>
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
                reduce[a < 0 ? a + rank : a] = true;
            }
        }

        // Move reduced axes last (a strided view), then reduce contiguous rows.
        var order = Enumerable.Range(0, rank).Where(i => !reduce[i]).Concat(Enumerable.Range(0, rank).Where(i => reduce[i])).ToArray();
        long[] dense = StridedCopy.Dense(x.Shape);
        bool identity = order.Select((o, i) => o == i).All(b => b);
        var xf = x.IsFloat ? x : Tensor.FromFloats(x.ToFloatArray(), x.Shape);
        float[] data;
        if (identity)
        {
            data = xf.FloatData!;
        }
        else
        {
            var permShape = order.Select(i => x.Shape[i]).ToArray();
            data = StridedCopy.View(xf, 0, order.Select(i => dense[i]).ToArray(), permShape).FloatData!;
        }

        int keptCount = Enumerable.Range(0, rank).Where(i => !reduce[i]).Aggregate(1, (p, i) => p * x.Shape[i]);
        int rowLength = keptCount == 0 ? 0 : x.Length / Math.Max(keptCount, 1);
        var outShape = keep
            ? x.Shape.Select((d, i) => reduce[i] ? 1 : d).ToArray()
            : x.Shape.Where((_, i) => !reduce[i]).ToArray();
        var result = Tensor.NewFloats(outShape);
        var o = result.Floats;
        for (int r = 0; r < keptCount; r++)
        {
            var row = data.AsSpan(r * rowLength, rowLength);
            o[r] = node.OpType switch
            {
                "ReduceSum" => TensorPrimitives.Sum(row),
                "ReduceMean" => TensorPrimitives.Sum(row) / rowLength,
                "ReduceMax" => rowLength == 0 ? float.NegativeInfinity : TensorPrimitives.Max(row),
                _ => throw new InvalidOperationException(node.OpType),
            };
        }

        return x.IsFloat ? result : Tensor.FromLongs(result.ToLongArray(), outShape);
    }
}
