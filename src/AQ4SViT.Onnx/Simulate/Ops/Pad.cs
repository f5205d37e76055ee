using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// Pad (opset 2 attributes; opset 11 pads / constant_value inputs; opset 18 axes input), modes constant, reflect and edge.
/// Negative pads crop first (as ONNX Runtime does), then the positive pads grow the cropped axis. Each axis gets a map from
/// output index to source index (−1 for the constant); rows copy their interior as one span.
/// </summary>
internal static class Pad
{
    public static Tensor Run(Node node, Tensor x, Tensor? padsInput, Tensor? valueInput, Tensor? axesInput)
    {
        int rank = x.Rank;
        string mode = node.String("mode") ?? "constant";
        if (mode is not ("constant" or "reflect" or "edge"))
        {
            Throw.BadNode("Pad", node.DisplayName, $"mode '{mode}' is not supported (constant, reflect, edge)");
        }

        long[] pads;
        long[]? axes = null;
        if (node.Opset >= 11)
        {
            pads = padsInput?.ToLongArray() ?? Throw.BadNode<long[]>(node.OpType, node.DisplayName, "input 'pads' is missing");
            axes = node.Opset >= 18 ? axesInput?.ToLongArray() : null;
        }
        else
        {
            pads = node.Ints("pads") ?? Throw.BadNode<long[]>(node.OpType, node.DisplayName, "attribute 'pads' is required");
        }

        int[] axisList = new int[axes?.Length ?? rank];
        for (int i = 0; i < axisList.Length; i++)
        {
            long a = axes is null ? i : axes[i];
            long k = a < 0 ? a + rank : a;
            if (k < 0 || k >= rank)
            {
                Throw.BadNode("Pad", node.DisplayName, $"axis {a} out of range for input {x.ShapeText}");
            }

            axisList[i] = (int)k;
        }

        if (pads.Length != 2 * axisList.Length)
        {
            Throw.BadNode("Pad", node.DisplayName, $"{pads.Length} pads for {axisList.Length} axes of input {x.ShapeText} (needs {2 * axisList.Length})");
        }

        if (pads.Any(p => Math.Abs(p) > int.MaxValue))
        {
            Throw.BadNode("Pad", node.DisplayName, $"pads [{string.Join(",", pads)}] are beyond any tensor's size");
        }

        var begin = new long[rank];
        var end = new long[rank];
        for (int i = 0; i < axisList.Length; i++)
        {
            begin[axisList[i]] = pads[i];
            end[axisList[i]] = pads[i + axisList.Length];
        }

        var outShape = new int[rank];
        var maps = new int[rank][];
        var lead = new int[rank];
        var crop = new int[rank];
        var kept = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            long dim = x.Shape[i];
            long keptLong = dim + Math.Min(begin[i], 0) + Math.Min(end[i], 0);
            long grow0 = Math.Max(begin[i], 0);
            long grow1 = Math.Max(end[i], 0);
            long size = keptLong + grow0 + grow1;
            if (keptLong < 0 || size > int.MaxValue)
            {
                Throw.BadNode("Pad", node.DisplayName, $"pads [{string.Join(",", pads)}] crop axis {i} of {x.ShapeText} below zero");
            }

            if ((grow0 > 0 || grow1 > 0) && mode != "constant" && (keptLong == 0 || (mode == "reflect" && Math.Max(grow0, grow1) >= keptLong)))
            {
                Throw.BadNode("Pad", node.DisplayName, $"{mode} padding of {Math.Max(grow0, grow1)} on axis {i} needs more than the {keptLong} values there ({x.ShapeText})");
            }

            outShape[i] = (int)size;
            lead[i] = (int)grow0;
            crop[i] = (int)-Math.Min(begin[i], 0);
            kept[i] = (int)keptLong;
            maps[i] = AxisMap(outShape[i], lead[i], crop[i], kept[i], mode);
        }

        if (x.IsFloat)
        {
            float value = valueInput is null || valueInput.Length == 0 ? node.Float("value", 0f) : valueInput.ToFloatArray()[0];
            var result = Tensor.Uninitialized(outShape, x.Kind);
            Copy(x.Floats, result.Floats, x.Shape, outShape, maps, lead, crop, kept, value);
            return result;
        }

        long fill = valueInput is null || valueInput.Length == 0 ? 0 : valueInput.ToLongArray()[0];
        var longs = Tensor.NewLongs(outShape);
        Copy<long>(x.Longs, longs.Longs, x.Shape, outShape, maps, lead, crop, kept, fill);
        return longs;
    }

    /// <summary>Source index on the uncropped axis of each output index, −1 where the constant goes.</summary>
    private static int[] AxisMap(int size, int lead, int crop, int kept, string mode)
    {
        var map = new int[size];
        for (int o = 0; o < size; o++)
        {
            int j = o - lead;
            if ((uint)j >= (uint)kept)
            {
                j = mode switch
                {
                    "edge" => Math.Clamp(j, 0, kept - 1),
                    "reflect" => j < 0 ? -j : (2 * (kept - 1)) - j,
                    _ => -1 - crop,
                };
            }

            map[o] = j + crop;
        }

        return map;
    }

    private static void Copy<T>(ReadOnlySpan<T> src, Span<T> dst, int[] inShape, int[] outShape, int[][] maps, int[] lead, int[] crop, int[] kept, T value)
    {
        int rank = outShape.Length;
        int total = dst.Length;
        if (total == 0)
        {
            return;
        }

        if (rank == 0)
        {
            dst[0] = src[0];
            return;
        }

        long[] strides = StridedCopy.Dense(inShape);
        int inner = outShape[rank - 1];
        int[] last = maps[rank - 1];
        Span<int> index = stackalloc int[rank];
        for (int row = 0; row * inner < total; row++)
        {
            var d = dst.Slice(row * inner, inner);
            long s = 0;
            bool constant = false;
            for (int k = 0; k < rank - 1; k++)
            {
                int m = maps[k][index[k]];
                constant |= m < 0;
                s += m * strides[k];
            }

            if (constant)
            {
                d.Fill(value);
            }
            else
            {
                int lo = lead[rank - 1];
                int n = kept[rank - 1];
                for (int o = 0; o < lo; o++)
                {
                    d[o] = last[o] < 0 ? value : src[(int)s + last[o]];
                }

                src.Slice((int)s + crop[rank - 1], n).CopyTo(d.Slice(lo, n));
                for (int o = lo + n; o < inner; o++)
                {
                    d[o] = last[o] < 0 ? value : src[(int)s + last[o]];
                }
            }

            for (int k = rank - 2; k >= 0; k--)
            {
                if (++index[k] < outShape[k])
                {
                    break;
                }

                index[k] = 0;
            }
        }
    }
}
