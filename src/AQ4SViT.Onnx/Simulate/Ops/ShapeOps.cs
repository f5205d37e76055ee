using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>Ops that move or reshape data without arithmetic. Attribute forms follow the node's opset.</summary>
internal static class ShapeOps
{
    private static int Axis(Node node, long axis, int rank)
    {
        long a = axis < 0 ? axis + rank : axis;
        return a < 0 || a >= rank
            ? Throw.BadInput<int>($"node '{node.DisplayName}' ({node.OpType}): axis {axis} out of range for rank {rank}")
            : (int)a;
    }

    public static Tensor Reshape(Node node, Tensor x, Tensor shapeTensor)
    {
        long[] target = shapeTensor.ToLongArray();
        bool allowZero = node.Int("allowzero", 0) != 0;
        var shape = new int[target.Length];
        int infer = -1;
        long known = 1;
        for (int i = 0; i < target.Length; i++)
        {
            long d = target[i];
            if (d == 0 && !allowZero)
            {
                d = i < x.Rank ? x.Shape[i] : Throw.BadInput<long>($"node '{node.DisplayName}' (Reshape): 0 at axis {i} but input {x.ShapeText} has no such axis");
            }

            if (d == -1)
            {
                if (infer >= 0)
                {
                    Throw.BadNode("Reshape", node.DisplayName, "more than one -1 in the shape");
                }

                infer = i;
                continue;
            }

            shape[i] = (int)d;
            known *= d;
        }

        if (infer >= 0)
        {
            shape[infer] = known == 0 ? 0 : (int)(x.Length / known);
        }

        if (Tensor.SizeOf(shape) != x.Length)
        {
            Throw.BadNode("Reshape", node.DisplayName, $"cannot reshape {x.ShapeText} to [{string.Join(",", target)}]");
        }

        return x.WithShape(shape);
    }

    public static Tensor Flatten(Node node, Tensor x)
    {
        int axis = (int)node.Int("axis", 1);
        if (axis < 0)
        {
            axis += x.Rank;
        }

        int outer = Tensor.SizeOf(x.Shape.AsSpan(0, axis));
        return x.WithShape([outer, outer == 0 ? 0 : x.Length / Math.Max(outer, 1)]);
    }

    private static long[]? AxesOf(Node node, Tensor?[] inputs, int inputIndex, int fromOpset)
    {
        if (node.Opset >= fromOpset)
        {
            return inputs.Length > inputIndex && inputs[inputIndex] is { } t ? t.ToLongArray() : null;
        }

        return node.Ints("axes");
    }

    public static Tensor Squeeze(Node node, Tensor?[] inputs)
    {
        var x = inputs[0]!;
        long[]? axes = AxesOf(node, inputs, 1, 13);
        var drop = new bool[x.Rank];
        if (axes is null || axes.Length == 0)
        {
            for (int i = 0; i < x.Rank; i++)
            {
                drop[i] = x.Shape[i] == 1;
            }
        }
        else
        {
            foreach (long a in axes)
            {
                int k = Axis(node, a, x.Rank);
                if (x.Shape[k] != 1)
                {
                    Throw.BadNode("Squeeze", node.DisplayName, $"axis {a} of {x.ShapeText} is not 1");
                }

                drop[k] = true;
            }
        }

        return x.WithShape(x.Shape.Where((_, i) => !drop[i]).ToArray());
    }

    public static Tensor Unsqueeze(Node node, Tensor?[] inputs)
    {
        var x = inputs[0]!;
        long[] axes = AxesOf(node, inputs, 1, 13) ?? Throw.BadNode<long[]>(node.OpType, node.DisplayName, "axes missing");
        int rank = x.Rank + axes.Length;
        var insert = new bool[rank];
        foreach (long a in axes)
        {
            insert[Axis(node, a, rank)] = true;
        }

        var shape = new int[rank];
        int j = 0;
        for (int i = 0; i < rank; i++)
        {
            shape[i] = insert[i] ? 1 : x.Shape[j++];
        }

        return x.WithShape(shape);
    }

    public static Tensor Shape(Node node, Tensor x)
    {
        long start = node.Int("start", 0);
        long end = node.Int("end", x.Rank);
        int r = x.Rank;
        start = Math.Clamp(start < 0 ? start + r : start, 0, r);
        end = Math.Clamp(end < 0 ? end + r : end, 0, r);
        var dims = new List<long>();
        for (long i = start; i < end; i++)
        {
            dims.Add(x.Shape[i]);
        }

        return Tensor.VectorLong(dims.ToArray());
    }

    public static Tensor ConstantOfShape(Node node, Tensor shapeTensor, string baseDirectory)
    {
        int[] shape = shapeTensor.ToLongArray().Select(d => (int)d).ToArray();
        var value = node.TensorAttribute("value");
        if (value is null)
        {
            return Tensor.NewFloats(shape);
        }

        var kind = KindOf(value);
        if (kind == ElementKind.Int64)
        {
            var t = Tensor.NewLongs(shape);
            t.Longs.Fill(TensorDecoder.ToInt64s(value, baseDirectory)[0]);
            return t;
        }

        var f = Tensor.NewFloats(shape, kind);
        f.Floats.Fill(TensorDecoder.ToFloats(value, baseDirectory)[0]);
        return f;
    }

    public static ElementKind KindOf(Import.Proto.TensorProto t) => TensorDecoder.TypeOf(t) switch
    {
        Import.Proto.TensorProto.Types.DataType.Float or Import.Proto.TensorProto.Types.DataType.Double
            or Import.Proto.TensorProto.Types.DataType.Float16 or Import.Proto.TensorProto.Types.DataType.Bfloat16 => ElementKind.Float,
        Import.Proto.TensorProto.Types.DataType.Bool => ElementKind.Bool,
        _ => ElementKind.Int64,
    };

    public static Tensor Expand(Node node, Tensor x, Tensor shapeTensor)
    {
        int[] target = shapeTensor.ToLongArray().Select(d => (int)d).ToArray();
        int[] shape = Broadcast.Shape(x.Shape, target, () => $"node '{node.DisplayName}' (Expand)");
        return StridedCopy.View(x, 0, Broadcast.Strides(x.Shape, shape), shape);
    }

    public static Tensor Tile(Node node, Tensor x, Tensor repeatsTensor)
    {
        long[] repeats = repeatsTensor.ToLongArray();
        if (repeats.Length != x.Rank)
        {
            Throw.BadNode("Tile", node.DisplayName, $"{repeats.Length} repeats for input {x.ShapeText}");
        }

        // View the output as (r0, d0, r1, d1, ...) with stride 0 on the repeat axes.
        int rank = x.Rank;
        var viewShape = new int[rank * 2];
        var viewStrides = new long[rank * 2];
        long[] dense = StridedCopy.Dense(x.Shape);
        var outShape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            if (repeats[i] < 0)
            {
                Throw.BadNode("Tile", node.DisplayName, $"negative repeat {repeats[i]} for axis {i}");
            }

            // Checked: a repeat beyond int must not wrap into a small (or empty) tensor.
            viewShape[2 * i] = checked((int)repeats[i]);
            viewShape[(2 * i) + 1] = x.Shape[i];
            viewStrides[(2 * i) + 1] = dense[i];
            outShape[i] = checked(viewShape[2 * i] * x.Shape[i]);
        }

        return StridedCopy.View(x, 0, viewStrides, viewShape).WithShape(outShape);
    }

    public static Tensor Concat(Node node, Tensor?[] inputs)
    {
        var parts = inputs.Where(t => t is not null).Select(t => t!).ToArray();
        var first = parts[0];
        int rank = first.Rank;
        int axis = Axis(node, node.RequiredInt("axis"), rank);
        var shape = (int[])first.Shape.Clone();
        shape[axis] = 0;
        foreach (var p in parts)
        {
            if (p.Rank != rank)
            {
                Throw.BadNode("Concat", node.DisplayName, $"inputs of rank {rank} and {p.Rank}");
            }

            shape[axis] += p.Shape[axis];
        }

        int outer = Tensor.SizeOf(shape.AsSpan(0, axis));
        int inner = Tensor.SizeOf(shape.AsSpan(axis + 1));
        bool isFloat = first.IsFloat;
        var result = isFloat ? Tensor.Uninitialized(shape, first.Kind) : Tensor.NewLongs(shape);
        int rowOut = shape[axis] * inner;
        int at = 0;
        foreach (var p in parts)
        {
            int row = p.Shape[axis] * inner;
            for (int o = 0; o < outer; o++)
            {
                if (isFloat)
                {
                    p.Floats.Slice(o * row, row).CopyTo(result.Floats.Slice((o * rowOut) + at, row));
                }
                else
                {
                    p.ToLongArray().AsSpan(o * row, row).CopyTo(result.Longs.Slice((o * rowOut) + at, row));
                }
            }

            at += row;
        }

        return result;
    }

    public static Tensor Slice(Node node, Tensor?[] inputs)
    {
        var x = inputs[0]!;
        long[] starts;
        long[] ends;
        long[]? axes;
        long[]? steps = null;
        if (node.Opset >= 10)
        {
            starts = inputs[1]!.ToLongArray();
            ends = inputs[2]!.ToLongArray();
            axes = inputs.Length > 3 ? inputs[3]?.ToLongArray() : null;
            steps = inputs.Length > 4 ? inputs[4]?.ToLongArray() : null;
        }
        else
        {
            starts = node.Ints("starts") ?? [];
            ends = node.Ints("ends") ?? [];
            axes = node.Ints("axes");
        }

        int rank = x.Rank;
        var shape = (int[])x.Shape.Clone();
        long[] dense = StridedCopy.Dense(x.Shape);
        var strides = (long[])dense.Clone();
        long offset = 0;
        for (int i = 0; i < starts.Length; i++)
        {
            int axis = Axis(node, axes is null ? i : axes[i], rank);
            long dim = x.Shape[axis];
            long step = steps is null ? 1 : steps[i];
            if (step == 0)
            {
                Throw.BadNode("Slice", node.DisplayName, "step 0");
            }

            long s = starts[i] < 0 ? starts[i] + dim : starts[i];
            long e = ends[i] < 0 ? ends[i] + dim : ends[i];
            long count;
            if (step > 0)
            {
                s = Math.Clamp(s, 0, dim);
                e = Math.Clamp(e, 0, dim);
                count = e > s ? (e - s + step - 1) / step : 0;
            }
            else
            {
                s = Math.Clamp(s, 0, dim - 1);
                e = Math.Clamp(e, -1, dim - 1);
                count = s > e ? (s - e + (-step) - 1) / (-step) : 0;
            }

            shape[axis] = (int)count;
            offset += s * dense[axis];
            strides[axis] = dense[axis] * step;
        }

        return StridedCopy.View(x, Tensor.SizeOf(shape) == 0 ? 0 : offset, strides, shape);
    }

    public static Tensor Gather(Node node, Tensor x, Tensor indicesTensor)
    {
        int axis = Axis(node, node.Int("axis", 0), x.Rank);
        long[] indices = indicesTensor.ToLongArray();
        int dim = x.Shape[axis];
        int outer = Tensor.SizeOf(x.Shape.AsSpan(0, axis));
        int inner = Tensor.SizeOf(x.Shape.AsSpan(axis + 1));
        var shape = x.Shape[..axis].Concat(indicesTensor.Shape).Concat(x.Shape[(axis + 1)..]).ToArray();
        bool isFloat = x.IsFloat;
        var result = isFloat ? Tensor.Uninitialized(shape, x.Kind) : Tensor.NewLongs(shape);
        for (int o = 0; o < outer; o++)
        {
            for (int j = 0; j < indices.Length; j++)
            {
                long idx = indices[j] < 0 ? indices[j] + dim : indices[j];
                if (idx < 0 || idx >= dim)
                {
                    Throw.BadNode("Gather", node.DisplayName, $"index {indices[j]} out of range for axis {axis} of {x.ShapeText}");
                }

                int src = (int)(((o * dim) + idx) * inner);
                int dst = ((o * indices.Length) + j) * inner;
                if (isFloat)
                {
                    x.Floats.Slice(src, inner).CopyTo(result.Floats.Slice(dst, inner));
                }
                else
                {
                    x.Longs.Slice(src, inner).CopyTo(result.Longs.Slice(dst, inner));
                }
            }
        }

        return result;
    }

    public static Tensor Transpose(Node node, Tensor x, ExecContext ctx)
    {
        int rank = x.Rank;
        long[] perm = node.Ints("perm") ?? Enumerable.Range(0, rank).Reverse().Select(i => (long)i).ToArray();
        if (perm.Length != rank)
        {
            Throw.BadNode("Transpose", node.DisplayName, $"perm of length {perm.Length} for input {x.ShapeText}");
        }

        long[] dense = StridedCopy.Dense(x.Shape);
        var shape = new int[rank];
        var strides = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            shape[i] = x.Shape[perm[i]];
            strides[i] = dense[perm[i]];
        }

        return StridedCopy.View(x, 0, strides, shape, ctx);
    }

    public static Tensor[] Split(Node node, Tensor?[] inputs)
    {
        var x = inputs[0]!;
        int axis = Axis(node, node.Int("axis", 0), x.Rank);
        long[]? split = node.Opset >= 13 ? (inputs.Length > 1 ? inputs[1]?.ToLongArray() : null) : node.Ints("split");
        int n = node.Outputs.Length;
        if (split is null)
        {
            int dim = x.Shape[axis];
            int each = (dim + n - 1) / n;
            split = Enumerable.Range(0, n).Select(i => (long)Math.Min(each, Math.Max(0, dim - (i * each)))).ToArray();
        }

        var results = new Tensor[split.Length];
        long start = 0;
        for (int i = 0; i < split.Length; i++)
        {
            var starts = Tensor.VectorLong([start]);
            var ends = Tensor.VectorLong([start + split[i]]);
            var axes = Tensor.VectorLong([axis]);
            results[i] = Slice(new Node("Slice", node.Name, "", 13, [], [], node.Attributes), [x, starts, ends, axes]);
            start += split[i];
        }

        return results;
    }

    /// <summary>
    /// Range(start, limit, delta): ⌈(limit − start) / delta⌉ values (none when negative). Floats accumulate start + delta + …
    /// in float, as ONNX Runtime's kernel does, rather than start + i·delta.
    /// </summary>
    public static Tensor Range(Node node, Tensor start, Tensor limit, Tensor delta)
    {
        if (start.Length != 1 || limit.Length != 1 || delta.Length != 1)
        {
            Throw.BadNode("Range", node.DisplayName, $"start {start.ShapeText}, limit {limit.ShapeText} and delta {delta.ShapeText} must be scalars");
        }

        if (start.IsFloat)
        {
            float s = start.ToFloatArray()[0];
            float d = delta.ToFloatArray()[0];
            // The count in double throughout (ONNX Runtime 1.31 gives 999 for 0.1..100 by 0.1; a float difference gives 1000).
            double count = Math.Ceiling((limit.ToFloatArray()[0] - (double)s) / d);
            if (d == 0 || double.IsNaN(count) || count > int.MaxValue)
            {
                Throw.BadNode("Range", node.DisplayName, $"delta {d} gives no finite count");
            }

            var f = Tensor.Uninitialized([(int)Math.Max(count, 0)]);
            var span = f.Floats;
            float v = s;
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = v;
                v += d;
            }

            return f;
        }

        long ls = start.ToLongArray()[0];
        long ll = limit.ToLongArray()[0];
        long ld = delta.ToLongArray()[0];
        if (ld == 0)
        {
            Throw.BadNode("Range", node.DisplayName, "delta 0");
        }

        // Ceiling division of integers without going through double (exact for any int64 span below int range).
        long diff = ll - ls;
        long n = (diff / ld) + ((diff % ld != 0 && (diff > 0) == (ld > 0)) ? 1 : 0);
        if (n > int.MaxValue)
        {
            Throw.BadNode("Range", node.DisplayName, $"{n} values are too many");
        }

        var l = Tensor.NewLongs([(int)Math.Max(n, 0)]);
        var ls2 = l.Longs;
        for (int i = 0; i < ls2.Length; i++)
        {
            ls2[i] = ls + (i * ld);
        }

        return l;
    }
}
