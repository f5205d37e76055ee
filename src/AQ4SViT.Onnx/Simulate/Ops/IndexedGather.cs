using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// GatherElements (opset 11/13) and GatherND (opset 11; batch_dims from 12): the reads that mirror <see cref="Scatter"/>.
/// Negative indices count from the end; any index still outside its axis is bad input naming the node.
/// </summary>
internal static class IndexedGather
{
    public static Tensor GatherElements(Node node, Tensor data, Tensor indicesTensor)
    {
        int rank = data.Rank;
        long a = node.Int("axis", 0);
        int axis = (int)(a < 0 ? a + rank : a);
        if (axis < 0 || axis >= rank)
        {
            Throw.BadNode(node.OpType, node.DisplayName, $"axis {a} out of range for data {data.ShapeText}");
        }

        if (indicesTensor.Rank != rank)
        {
            Throw.BadNode(node.OpType, node.DisplayName, $"indices {indicesTensor.ShapeText} need data {data.ShapeText}'s rank");
        }

        for (int i = 0; i < rank; i++)
        {
            if (i != axis && indicesTensor.Shape[i] > data.Shape[i])
            {
                Throw.BadNode(node.OpType, node.DisplayName, $"indices {indicesTensor.ShapeText} exceed data {data.ShapeText} on axis {i}");
            }
        }

        int[] sources = ElementOffsets.Along(node, data, indicesTensor, axis);
        return Read(data, sources, 1, indicesTensor.Shape);
    }

    public static Tensor GatherND(Node node, Tensor data, Tensor indicesTensor)
    {
        int rank = data.Rank;
        int q = indicesTensor.Rank;
        int b = (int)node.Int("batch_dims", 0);
        int k = q == 0 ? 0 : indicesTensor.Shape[q - 1];
        if (q == 0 || b < 0 || b >= q || b + k > rank || !data.Shape.AsSpan(0, b).SequenceEqual(indicesTensor.Shape.AsSpan(0, b)))
        {
            Throw.BadNode(node.OpType, node.DisplayName, $"indices {indicesTensor.ShapeText} with batch_dims {b} do not index data {data.ShapeText}");
        }

        // Per batch: data slab [data.shape[b:]], tuples of k indices, each reading a slice of data.shape[b + k:].
        long[] indices = indicesTensor.ToLongArray();
        int slab = Tensor.SizeOf(data.Shape.AsSpan(b));
        int slice = Tensor.SizeOf(data.Shape.AsSpan(b + k));
        long[] strides = StridedCopy.Dense(data.Shape);
        int count = Tensor.SizeOf(indicesTensor.Shape.AsSpan(0, q - 1));
        int perBatch = Tensor.SizeOf(indicesTensor.Shape.AsSpan(b, q - 1 - b));
        var sources = new int[count];
        for (int i = 0; i < count; i++)
        {
            long offset = perBatch == 0 ? 0 : (long)(i / perBatch) * slab;
            for (int j = 0; j < k; j++)
            {
                long idx = indices[(i * k) + j];
                long dim = data.Shape[b + j];
                long at = idx < 0 ? idx + dim : idx;
                if (at < 0 || at >= dim)
                {
                    Throw.BadNode(node.OpType, node.DisplayName, $"index {idx} out of range for axis {b + j} of data {data.ShapeText} (indices entry {i})");
                }

                offset += at * strides[b + j];
            }

            sources[i] = (int)offset;
        }

        return Read(data, sources, slice, [.. indicesTensor.Shape[..(q - 1)], .. data.Shape[(b + k)..]]);
    }

    /// <summary>Output slice i = data[sources[i] .. + slice].</summary>
    private static Tensor Read(Tensor data, int[] sources, int slice, int[] shape)
    {
        if (data.IsFloat)
        {
            var f = Tensor.Uninitialized(shape, data.Kind);
            var src = data.Floats;
            var dst = f.Floats;
            for (int i = 0; i < sources.Length; i++)
            {
                src.Slice(sources[i], slice).CopyTo(dst.Slice(i * slice, slice));
            }

            return f;
        }

        var l = Tensor.NewLongs(shape);
        var ls = data.Longs;
        var ld = l.Longs;
        for (int i = 0; i < sources.Length; i++)
        {
            ls.Slice(sources[i], slice).CopyTo(ld.Slice(i * slice, slice));
        }

        return l;
    }
}
