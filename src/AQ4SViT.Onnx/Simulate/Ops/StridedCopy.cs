using AQ4SViT.Onnx.Core;

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

        if (IsBatchOfTransposes(strides, shape))
        {
            TransposeLastTwo(src, offset, strides, shape, dst);
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

    private static bool IsBatchOfTransposes(ReadOnlySpan<long> strides, ReadOnlySpan<int> shape)
    {
        int rank = shape.Length;
        return rank >= 2 && strides[rank - 1] != 1 && strides[rank - 2] == 1 && shape[rank - 1] > 1 && shape[rank - 2] > 1;
    }

    /// <summary>Floats: each 2-D transpose in AVX tiles, the batch of them split across threads.</summary>
    private static void TransposeFloats(float[] src, long offset, long[] strides, int[] shape, float[] dst, ExecContext ctx)
    {
        int rank = shape.Length;
        int rows = shape[rank - 2];
        int cols = shape[rank - 1];
        long colStride = strides[rank - 1];
        int outer = Tensor.SizeOf(shape.AsSpan(0, rank - 2));
        ctx.ForRanges(outer, (first, end) =>
        {
            for (int o = first; o < end; o++)
            {
                long s = offset;
                int rem = o;
                for (int k = rank - 3; k >= 0; k--)
                {
                    s += rem % shape[k] * strides[k];
                    rem /= shape[k];
                }

                // The source block is cols × rows with row stride colStride; its transpose is this output block.
                int span = (int)((cols - 1) * colStride) + rows;
                Transpose2D.Run(src.AsSpan((int)s, span), (int)colStride, dst.AsSpan(o * rows * cols, rows * cols), cols, cols, rows);
            }
        });
    }

    /// <summary>The last two output axes read the source transposed (a batch of 2-D transposes): copy in tiles.</summary>
    private static void TransposeLastTwo<T>(ReadOnlySpan<T> src, long offset, ReadOnlySpan<long> strides, ReadOnlySpan<int> shape, Span<T> dst)
    {
        const int Tile = 8;
        int rank = shape.Length;
        int rows = shape[rank - 2];
        int cols = shape[rank - 1];
        long colStride = strides[rank - 1];
        int outer = Tensor.SizeOf(shape[..(rank - 2)]);
        Span<int> index = stackalloc int[Math.Max(rank - 2, 1)];
        for (int o = 0; o < outer; o++)
        {
            long s = offset;
            for (int k = 0; k < rank - 2; k++)
            {
                s += index[k] * strides[k];
            }

            var block = dst.Slice(o * rows * cols, rows * cols);
            for (int r0 = 0; r0 < rows; r0 += Tile)
            {
                int r1 = Math.Min(rows, r0 + Tile);
                for (int c0 = 0; c0 < cols; c0 += Tile)
                {
                    int c1 = Math.Min(cols, c0 + Tile);
                    for (int c = c0; c < c1; c++)
                    {
                        long sc = s + (c * colStride);
                        for (int r = r0; r < r1; r++)
                        {
                            block[(r * cols) + c] = src[(int)(sc + r)];
                        }
                    }
                }
            }

            for (int k = rank - 3; k >= 0; k--)
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
    public static Tensor View(Tensor x, long offset, long[] strides, int[] shape, ExecContext? ctx = null)
    {
        if (x.IsFloat)
        {
            var r = Tensor.Uninitialized(shape, x.Kind);
            if (IsBatchOfTransposes(strides, shape))
            {
                TransposeFloats(x.FloatData!, offset, strides, shape, r.FloatData!, ctx ?? ExecContext.Serial);
            }
            else
            {
                Copy<float>(x.Floats, offset, strides, shape, r.Floats);
            }

            return r;
        }

        var l = Tensor.NewLongs(shape);
        Copy<long>(x.Longs, offset, strides, shape, l.Longs);
        return l;
    }
}
