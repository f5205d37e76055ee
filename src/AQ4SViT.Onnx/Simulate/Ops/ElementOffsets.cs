using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// Where each element of an indices tensor points in data, for the ops that index element by element along one axis
/// (GatherElements, ScatterElements): the element's own position with its index in place of the coordinate on
/// <c>axis</c>, as a flat offset into data. Negative indices count from the end; one still outside the axis is bad input
/// naming the node and the element.
/// </summary>
internal static class ElementOffsets
{
    public static int[] Along(Node node, Tensor data, Tensor indicesTensor, int axis)
    {
        int rank = data.Rank;
        long[] indices = indicesTensor.ToLongArray();
        long[] strides = StridedCopy.Dense(data.Shape);
        int dim = data.Shape[axis];
        var offsets = new int[indices.Length];
        Span<int> index = stackalloc int[rank];
        for (int e = 0; e < indices.Length; e++)
        {
            long idx = indices[e];
            long at = idx < 0 ? idx + dim : idx;
            if (at < 0 || at >= dim)
            {
                Throw.BadNode(node.OpType, node.DisplayName, $"index {idx} out of range for axis {axis} of data {data.ShapeText} (indices element {e})");
            }

            long offset = 0;
            for (int i = 0; i < rank; i++)
            {
                offset += (i == axis ? at : index[i]) * strides[i];
            }

            offsets[e] = (int)offset;
            for (int i = rank - 1; i >= 0; i--)
            {
                if (++index[i] < indicesTensor.Shape[i])
                {
                    break;
                }

                index[i] = 0;
            }
        }

        return offsets;
    }
}
