using System.Numerics;
using System.Numerics.Tensors;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;
using Tensor = AQ4SViT.Onnx.Core.Tensor;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// ScatterND (opset 11; reduction from 16, max/min from 18) and ScatterElements (opset 11; reduction from 16, max/min
/// from 18): a copy of data with updates written (or combined) at the indexed places, in index order as ONNX Runtime
/// applies them. Negative indices count from the end; any index still outside its axis is bad input naming the node.
/// </summary>
internal static class Scatter
{
    private enum Reduction
    {
        None,
        Add,
        Mul,
        Max,
        Min,
    }

    public static Tensor ScatterND(Node node, Tensor data, Tensor indicesTensor, Tensor updates)
    {
        var reduction = ReductionOf(node);
        int rank = data.Rank;
        int q = indicesTensor.Rank;
        int k = q == 0 ? 0 : indicesTensor.Shape[q - 1];
        if (q == 0 || k > rank)
        {
            Throw.BadNode(node.OpType, node.DisplayName, $"indices {indicesTensor.ShapeText} do not index data {data.ShapeText}");
        }

        // updates = indices.shape[:-1] ++ data.shape[k:]
        int[] expected = [.. indicesTensor.Shape[..(q - 1)], .. data.Shape[k..]];
        if (!updates.Shape.AsSpan().SequenceEqual(expected))
        {
            Throw.BadNode(node.OpType, node.DisplayName, $"updates {updates.ShapeText} should be [{string.Join(",", expected)}] for data {data.ShapeText} and indices {indicesTensor.ShapeText}");
        }

        CheckKinds(node, data, updates);
        long[] indices = indicesTensor.ToLongArray();
        int slice = Tensor.SizeOf(data.Shape.AsSpan(k));
        long[] strides = StridedCopy.Dense(data.Shape);
        int count = k == 0 ? Tensor.SizeOf(indicesTensor.Shape.AsSpan(0, q - 1)) : indices.Length / k;
        var offsets = new int[count];
        for (int i = 0; i < count; i++)
        {
            long offset = 0;
            for (int j = 0; j < k; j++)
            {
                long idx = indices[(i * k) + j];
                long dim = data.Shape[j];
                long at = idx < 0 ? idx + dim : idx;
                if (at < 0 || at >= dim)
                {
                    Throw.BadNode(node.OpType, node.DisplayName, $"index {idx} out of range for axis {j} of data {data.ShapeText} (indices entry {i})");
                }

                offset += at * strides[j];
            }

            offsets[i] = (int)offset;
        }

        var result = Copy(data);
        if (result.IsFloat)
        {
            var dst = result.Floats;
            var src = updates.Floats;
            for (int i = 0; i < count; i++)
            {
                Combine(dst.Slice(offsets[i], slice), src.Slice(i * slice, slice), reduction);
            }
        }
        else
        {
            var dst = result.Longs;
            var src = updates.Longs;
            for (int i = 0; i < count; i++)
            {
                Combine(dst.Slice(offsets[i], slice), src.Slice(i * slice, slice), reduction);
            }
        }

        return result;
    }

    public static Tensor ScatterElements(Node node, Tensor data, Tensor indicesTensor, Tensor updates)
    {
        var reduction = ReductionOf(node);
        int rank = data.Rank;
        long a = node.Int("axis", 0);
        int axis = (int)(a < 0 ? a + rank : a);
        if (axis < 0 || axis >= rank)
        {
            Throw.BadNode(node.OpType, node.DisplayName, $"axis {a} out of range for data {data.ShapeText}");
        }

        if (indicesTensor.Rank != rank || !updates.Shape.AsSpan().SequenceEqual(indicesTensor.Shape))
        {
            Throw.BadNode(node.OpType, node.DisplayName, $"indices {indicesTensor.ShapeText} and updates {updates.ShapeText} need the same shape, of data {data.ShapeText}'s rank");
        }

        for (int i = 0; i < rank; i++)
        {
            if (i != axis && indicesTensor.Shape[i] > data.Shape[i])
            {
                Throw.BadNode(node.OpType, node.DisplayName, $"indices {indicesTensor.ShapeText} exceed data {data.ShapeText} on axis {i}");
            }
        }

        CheckKinds(node, data, updates);
        int[] targets = ElementOffsets.Along(node, data, indicesTensor, axis);
        var result = Copy(data);
        if (result.IsFloat)
        {
            var dst = result.Floats;
            var src = updates.Floats;
            for (int e = 0; e < targets.Length; e++)
            {
                Combine(dst.Slice(targets[e], 1), src.Slice(e, 1), reduction);
            }
        }
        else
        {
            var dst = result.Longs;
            var src = updates.Longs;
            for (int e = 0; e < targets.Length; e++)
            {
                Combine(dst.Slice(targets[e], 1), src.Slice(e, 1), reduction);
            }
        }

        return result;
    }

    private static Reduction ReductionOf(Node node)
    {
        string r = node.String("reduction") ?? "none";
        return r switch
        {
            "none" => Reduction.None,
            "add" when node.Opset >= 16 => Reduction.Add,
            "mul" when node.Opset >= 16 => Reduction.Mul,
            "max" when node.Opset >= 18 => Reduction.Max,
            "min" when node.Opset >= 18 => Reduction.Min,
            _ => Throw.BadNode<Reduction>(node.OpType, node.DisplayName, $"reduction '{r}' is not supported at opset {node.Opset}"),
        };
    }

    private static void CheckKinds(Node node, Tensor data, Tensor updates)
    {
        if (data.IsFloat != updates.IsFloat)
        {
            Throw.BadNode(node.OpType, node.DisplayName, $"data is {data.Kind} but updates are {updates.Kind}");
        }
    }

    private static Tensor Copy(Tensor data)
    {
        if (data.IsFloat)
        {
            var f = Tensor.Uninitialized(data.Shape, data.Kind);
            data.Floats.CopyTo(f.Floats);
            return f;
        }

        var l = Tensor.NewLongs(data.Shape);
        data.Longs.CopyTo(l.Longs);
        return l;
    }

    /// <summary>Writes <paramref name="src"/> into <paramref name="dst"/> by <paramref name="reduction"/> (float and long data).</summary>
    private static void Combine<T>(Span<T> dst, ReadOnlySpan<T> src, Reduction reduction)
        where T : INumber<T>
    {
        switch (reduction)
        {
            case Reduction.None: src.CopyTo(dst); break;
            case Reduction.Add: TensorPrimitives.Add(dst, src, dst); break;
            case Reduction.Mul: TensorPrimitives.Multiply(dst, src, dst); break;
            case Reduction.Max: TensorPrimitives.Max(dst, src, dst); break;
            default: TensorPrimitives.Min(dst, src, dst); break;
        }
    }
}
