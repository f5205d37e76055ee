namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// Copies a strided view of a source into a dense destination: out[i0..in] = src[offset + Σ ik·stride_k].
/// Used by Transpose, Expand, Tile, Slice and Gather; the innermost axis is a span copy when its stride is 1.
/// </summary>
internal static class StridedCopy
{
    public static void Copy<T>(ReadOnlySpan<T> src, long offset, ReadOnlySpan<long> strides, ReadOnlySpan<int> shape, Span<T> dst)
    {
        int rank = shape.Length;
        int total = Tensor.SizeOf(shape);
        if (total == 0)
        {
            return;
        }

        if (rank == 0)
        {
            dst[0] = src[(int)offset];
            return;
        }

        int inner = shape[rank - 1];
        long innerStride = strides[rank - 1];
        Span<int> index = stackalloc int[rank];
        int outer = total / inner;
        for (int o = 0; o < outer; o++)
        {
            long s = offset;
            for (int k = 0; k < rank - 1; k++)
            {
                s += index[k] * strides[k];
            }

            var d = dst.Slice(o * inner, inner);
            if (innerStride == 1)
            {
                src.Slice((int)s, inner).CopyTo(d);
            }
            else if (innerStride == 0)
            {
                d.Fill(src[(int)s]);
            }
            else
            {
                for (int i = 0; i < inner; i++)
                {
                    d[i] = src[(int)(s + (i * innerStride))];
                }
            }

            for (int k = rank - 2; k >= 0; k--)
            {
                if (++index[k] < shape[k])
                {
                    break;
                }

                index[k] = 0;
            }
        }
    }

    /// <summary>Dense row-major strides of a shape.</summary>
    public static long[] Dense(ReadOnlySpan<int> shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= shape[i];
        }

        return strides;
    }

    /// <summary>Applies a view (strides per output axis) of <paramref name="x"/> into a new dense tensor of <paramref name="shape"/>.</summary>
    public static Tensor View(Tensor x, long offset, long[] strides, int[] shape)
    {
        if (x.IsFloat)
        {
            var r = Tensor.NewFloats(shape, x.Kind);
            Copy<float>(x.Floats, offset, strides, shape, r.Floats);
            return r;
        }

        var l = Tensor.NewLongs(shape);
        Copy<long>(x.Longs, offset, strides, shape, l.Longs);
        return l;
    }
}
