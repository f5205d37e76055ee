using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// C[M×N] = A[M×K]·B[K×N] (row-major, dense). Two strategies, chosen per call by the density of A:
/// <list type="bullet">
/// <item><b>Fma4x16</b>: register-blocked micro-kernel, 4 rows × 16 columns of C in eight Vector256 accumulators,
/// one pass over K (AVX2 + FMA).</item>
/// <item><b>SparseFma</b>: per row of A, gather the non-zeros, then sum a·B[k, up to 96 columns] in registers (<see cref="SparseRow"/>);
/// a spike (0/1) left operand costs only its ones. (<b>SparseAxpy</b> with TensorPrimitives is the fallback without FMA.)</item>
/// </list>
/// Each output element sums over k in order 0..K−1 in both, so results do not depend on the strategy beyond FMA rounding.
/// </summary>
internal static class GemmKernel
{
    private const int BlockK = 128;
    private const int BlockN = 512;

    /// <summary>Below this fraction of non-zeros in A the sparse strategy wins (measured: ~0.5 on AVX2).</summary>
    private const float SparseBelow = 0.5f;

    /// <summary>
    /// The K-block ONNX Runtime's MLAS SGEMM uses for an N×K problem (its MlasSgemmOperation rule): each block is summed
    /// from zero and added to C, so with the same blocks our sums round exactly like ONNX Runtime's (and PyTorch's, measured).
    /// </summary>
    public static int OrtStrideK(int n, int k, bool packedB = false)
    {
        if (packedB)
        {
            return 256; // MLAS_SGEMM_PACKED_STRIDEK: constant B is pre-packed by ONNX Runtime's MatMul and Gemm
        }

        int strideN = 128;
        int strideK = 128;
        if (n >= k)
        {
            while (strideK > 1 && strideK / 2 >= k)
            {
                strideK /= 2;
            }
        }
        else
        {
            while (strideN > 16 && strideN / 2 >= n)
            {
                strideK *= 2;
                strideN /= 2;
            }
        }

        return Math.Max(strideK, 1);
    }

    /// <summary>
    /// Rows [rowStart, rowEnd) of C = A·B summed in K-blocks of <paramref name="strideK"/>; C is overwritten unless
    /// <paramref name="accumulate"/>. An <paramref name="epilogue"/> then finishes each row (the sparse kernel applies it
    /// row by row, while the row is in cache).
    /// </summary>
    public static void Rows(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int rowStart, int rowEnd, int k, int n, int strideK, bool accumulate = false, RowEpilogue? epilogue = null)
    {
        if (rowEnd <= rowStart)
        {
            return;
        }

        if (k == 0)
        {
            if (!accumulate)
            {
                c.Slice(rowStart * n, (rowEnd - rowStart) * n).Clear();
            }
        }
        else if (!Fma.IsSupported)
        {
            SparseAxpy(a, b, c, rowStart, rowEnd, k, n, accumulate);
        }
        else if (n < 16 || Density(a.Slice(rowStart * k, (rowEnd - rowStart) * k)) < SparseBelow)
        {
            // Fewer than 16 columns would leave the dense kernel only its scalar tail.
            SparseFma(a, b, c, rowStart, rowEnd, k, n, strideK, accumulate, epilogue);
            return;
        }
        else
        {
            Fma4x16(a, b, c, rowStart, rowEnd, k, n, strideK, accumulate);
        }

        epilogue?.Apply(c, rowStart, rowEnd, n);
    }

    /// <summary>Fraction of non-zeros, from a sample of up to 4,096 evenly spaced values.</summary>
    public static float Density(ReadOnlySpan<float> a)
    {
        // Sample up to 4096 values: enough to tell spikes from dense activations.
        int step = Math.Max(1, a.Length / 4096);
        int nonZero = 0;
        int seen = 0;
        for (int i = 0; i < a.Length; i += step, seen++)
        {
            nonZero += a[i] != 0 ? 1 : 0;
        }

        return seen == 0 ? 1f : (float)nonZero / seen;
    }

    private static void SparseAxpy(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int rowStart, int rowEnd, int k, int n, bool accumulate)
    {
        if (!accumulate)
        {
            c.Slice(rowStart * n, (rowEnd - rowStart) * n).Clear();
        }

        for (int n0 = 0; n0 < n; n0 += BlockN)
        {
            int nb = Math.Min(BlockN, n - n0);
            for (int k0 = 0; k0 < k; k0 += BlockK)
            {
                int kb = Math.Min(BlockK, k - k0);
                for (int i = rowStart; i < rowEnd; i++)
                {
                    var crow = c.Slice((i * n) + n0, nb);
                    var arow = a.Slice((i * k) + k0, kb);
                    for (int kk = 0; kk < kb; kk++)
                    {
                        float aik = arow[kk];
                        if (aik == 0)
                        {
                            continue;
                        }

                        TensorPrimitives.MultiplyAdd(b.Slice(((k0 + kk) * n) + n0, nb), aik, crow, crow);
                    }
                }
            }
        }
    }

    /// <summary>Per row of A: gather its non-zeros once, then sum a·B[k, j..j+16] for them in registers, block by K-block.</summary>
    internal static unsafe void SparseFma(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int rowStart, int rowEnd, int k, int n, int strideK, bool accumulate, RowEpilogue? epilogue = null)
    {
        int[] index = BufferPool<int>.Shared.Rent(k);
        float[] value = BufferPool<float>.Shared.Rent(k);
        try
        {
            fixed (float* pa = a, pb = b, pc = c, pv = value)
            fixed (int* pi = index)
            {
                for (int i = rowStart; i < rowEnd; i++)
                {
                    float* ar = pa + ((long)i * k);
                    int nnz = NonZeros.Find(ar, k, pi);
                    for (int q = 0; q < nnz; q++)
                    {
                        pv[q] = ar[pi[q]];
                    }

                    SparseRow.Sum(pi, pv, nnz, pb, n, n, strideK, pc + ((long)i * n), accumulate);
                    epilogue?.Apply(new Span<float>(pc + ((long)i * n), n));
                }
            }
        }
        finally
        {
            BufferPool<int>.Shared.Return(index);
            BufferPool<float>.Shared.Return(value);
        }
    }

    /// <summary>Dense: B packed per K-block × 16 columns, 4×16 register tiles of C; each K-block summed from zero and added to C.</summary>
    internal static unsafe void Fma4x16(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int rowStart, int rowEnd, int k, int n, int strideK, bool accumulate)
    {
        float[] panel = BufferPool<float>.Shared.Rent(Math.Min(strideK, k) * 16);
        try
        {
            fixed (float* pa = a, pb = b, pc = c, pp = panel)
            {
                int j = 0;
                for (; j + 16 <= n; j += 16)
                {
                    for (int k0 = 0; k0 < k; k0 += strideK)
                    {
                        int kb = Math.Min(strideK, k - k0);
                        for (int p = 0; p < kb; p++)
                        {
                            float* src = pb + ((k0 + p) * n) + j;
                            Avx.Store(pp + (p * 16), Avx.LoadVector256(src));
                            Avx.Store(pp + (p * 16) + 8, Avx.LoadVector256(src + 8));
                        }

                        bool add = accumulate || k0 > 0;
                        int i = rowStart;
                        for (; i + 4 <= rowEnd; i += 4)
                        {
                            Kernel4x16(pa + (i * k) + k0, k, kb, pp, pc + (i * n) + j, n, add);
                        }

                        for (; i < rowEnd; i++)
                        {
                            Kernel1x16(pa + (i * k) + k0, kb, pp, 16, pc + (i * n) + j, add);
                        }
                    }
                }

                for (; j < n; j++)
                {
                    for (int i = rowStart; i < rowEnd; i++)
                    {
                        float* ar = pa + (i * k);
                        float total = accumulate ? pc[(i * n) + j] : 0f;
                        for (int k0 = 0; k0 < k; k0 += strideK)
                        {
                            int end = Math.Min(k, k0 + strideK);
                            float sum = 0;
                            for (int p = k0; p < end; p++)
                            {
                                sum = MathF.FusedMultiplyAdd(ar[p], pb[(p * n) + j], sum);
                            }

                            total = k0 == 0 && !accumulate ? sum : total + sum;
                        }

                        pc[(i * n) + j] = total;
                    }
                }
            }
        }
        finally
        {
            BufferPool<float>.Shared.Return(panel);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Kernel4x16(float* a, int lda, int k, float* panel, float* c, int ldc, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;

        float* a1 = a + lda;
        float* a2 = a1 + lda;
        float* a3 = a2 + lda;
        for (int p = 0; p < k; p++)
        {
            float* bp = panel + (p * 16);
            var b0 = Avx.LoadVector256(bp);
            var b1 = Avx.LoadVector256(bp + 8);
            var x = Vector256.Create(a[p]);
            c00 = Fma.MultiplyAdd(x, b0, c00);
            c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[p]);
            c10 = Fma.MultiplyAdd(x, b0, c10);
            c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[p]);
            c20 = Fma.MultiplyAdd(x, b0, c20);
            c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[p]);
            c30 = Fma.MultiplyAdd(x, b0, c30);
            c31 = Fma.MultiplyAdd(x, b1, c31);
        }

        if (accumulate)
        {
            c00 += Avx.LoadVector256(c);
            c01 += Avx.LoadVector256(c + 8);
            c10 += Avx.LoadVector256(c + ldc);
            c11 += Avx.LoadVector256(c + ldc + 8);
            c20 += Avx.LoadVector256(c + (2 * ldc));
            c21 += Avx.LoadVector256(c + (2 * ldc) + 8);
            c30 += Avx.LoadVector256(c + (3 * ldc));
            c31 += Avx.LoadVector256(c + (3 * ldc) + 8);
        }

        Avx.Store(c, c00);
        Avx.Store(c + 8, c01);
        Avx.Store(c + ldc, c10);
        Avx.Store(c + ldc + 8, c11);
        Avx.Store(c + (2 * ldc), c20);
        Avx.Store(c + (2 * ldc) + 8, c21);
        Avx.Store(c + (3 * ldc), c30);
        Avx.Store(c + (3 * ldc) + 8, c31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Kernel1x16(float* a, int k, float* b, int ldb, float* c, bool accumulate)
    {
        Vector256<float> c0 = default, c1 = default;
        for (int p = 0; p < k; p++)
        {
            float* bp = b + (p * ldb);
            var x = Vector256.Create(a[p]);
            c0 = Fma.MultiplyAdd(x, Avx.LoadVector256(bp), c0);
            c1 = Fma.MultiplyAdd(x, Avx.LoadVector256(bp + 8), c1);
        }

        if (accumulate)
        {
            c0 += Avx.LoadVector256(c);
            c1 += Avx.LoadVector256(c + 8);
        }

        Avx.Store(c, c0);
        Avx.Store(c + 8, c1);
    }

    /// <summary>Whole C, rows split across threads in blocks.</summary>
    public static void Multiply(float[] a, float[] b, float[] c, int aOffset, int bOffset, int cOffset, int m, int k, int n, ExecContext ctx, bool accumulate = false, bool packedB = false, RowEpilogue? epilogue = null)
    {
        int strideK = OrtStrideK(n, k, packedB);
        int blocks = ctx.Threads <= 1 ? 1 : Math.Min((m + 3) / 4, ctx.Threads * 4);
        int per = (((m + blocks - 1) / Math.Max(blocks, 1)) + 3) / 4 * 4;
        ctx.For(blocks, blk =>
        {
            int r0 = blk * per;
            int r1 = Math.Min(m, r0 + per);
            if (r0 < r1)
            {
                Rows(a.AsSpan(aOffset, m * k), b.AsSpan(bOffset, k * n), c.AsSpan(cOffset, m * n), r0, r1, k, n, strideK, accumulate, epilogue);
            }
        });
    }

    /// <summary>Transposes a rows×cols matrix into cols×rows.</summary>
    public static void Transpose(ReadOnlySpan<float> src, Span<float> dst, int rows, int cols) =>
        Transpose2D.Run(src, cols, dst, rows, rows, cols);
}
