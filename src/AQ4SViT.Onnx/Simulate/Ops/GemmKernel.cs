using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// C[M×N] = A[M×K]·B[K×N] (row-major, dense). Two strategies, chosen per call by the density of A:
/// <list type="bullet">
/// <item><b>Fma4x16</b>: register-blocked micro-kernel, 4 rows × 16 columns of C in eight Vector256 accumulators,
/// one pass over K (AVX2 + FMA).</item>
/// <item><b>SparseAxpy</b>: per row of A, skip zeros and add a·B[k,:] (TensorPrimitives.MultiplyAdd), cache-blocked;
/// a spike (0/1) left operand costs only its ones.</item>
/// </list>
/// Each output element sums over k in order 0..K−1 in both, so results do not depend on the strategy beyond FMA rounding.
/// </summary>
internal static class GemmKernel
{
    private const int BlockK = 128;
    private const int BlockN = 512;

    /// <summary>Below this fraction of non-zeros in A the sparse strategy wins.</summary>
    private const float SparseBelow = 0.3f;

    /// <summary>Rows [rowStart, rowEnd) of C; C is overwritten.</summary>
    public static void Rows(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int rowStart, int rowEnd, int k, int n)
    {
        if (rowEnd <= rowStart)
        {
            return;
        }

        if (Fma.IsSupported && n >= 8 && k > 0 && Density(a.Slice(rowStart * k, (rowEnd - rowStart) * k)) >= SparseBelow)
        {
            Fma4x16(a, b, c, rowStart, rowEnd, k, n);
        }
        else
        {
            SparseAxpy(a, b, c, rowStart, rowEnd, k, n);
        }
    }

    private static float Density(ReadOnlySpan<float> a)
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

    private static void SparseAxpy(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int rowStart, int rowEnd, int k, int n)
    {
        c.Slice(rowStart * n, (rowEnd - rowStart) * n).Clear();
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

    private static unsafe void Fma4x16(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int rowStart, int rowEnd, int k, int n)
    {
        fixed (float* pa = a, pb = b, pc = c)
        {
            int j = 0;
            for (; j + 16 <= n; j += 16)
            {
                int i = rowStart;
                for (; i + 4 <= rowEnd; i += 4)
                {
                    Kernel4x16(pa + (i * k), k, pb + j, n, pc + (i * n) + j, n);
                }

                for (; i < rowEnd; i++)
                {
                    Kernel1x16(pa + (i * k), k, pb + j, n, pc + (i * n) + j);
                }
            }

            for (; j + 8 <= n; j += 8)
            {
                for (int i = rowStart; i < rowEnd; i++)
                {
                    Kernel1x8(pa + (i * k), k, pb + j, n, pc + (i * n) + j);
                }
            }

            for (; j < n; j++)
            {
                for (int i = rowStart; i < rowEnd; i++)
                {
                    float sum = 0;
                    float* ar = pa + (i * k);
                    for (int p = 0; p < k; p++)
                    {
                        sum = MathF.FusedMultiplyAdd(ar[p], pb[(p * n) + j], sum);
                    }

                    pc[(i * n) + j] = sum;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Kernel4x16(float* a, int k, float* b, int ldb, float* c, int ldc)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        float* a1 = a + k;
        float* a2 = a1 + k;
        float* a3 = a2 + k;
        for (int p = 0; p < k; p++)
        {
            float* bp = b + (p * ldb);
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
    private static unsafe void Kernel1x16(float* a, int k, float* b, int ldb, float* c)
    {
        Vector256<float> c0 = default, c1 = default;
        for (int p = 0; p < k; p++)
        {
            float* bp = b + (p * ldb);
            var x = Vector256.Create(a[p]);
            c0 = Fma.MultiplyAdd(x, Avx.LoadVector256(bp), c0);
            c1 = Fma.MultiplyAdd(x, Avx.LoadVector256(bp + 8), c1);
        }

        Avx.Store(c, c0);
        Avx.Store(c + 8, c1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Kernel1x8(float* a, int k, float* b, int ldb, float* c)
    {
        Vector256<float> c0 = default;
        for (int p = 0; p < k; p++)
        {
            c0 = Fma.MultiplyAdd(Vector256.Create(a[p]), Avx.LoadVector256(b + (p * ldb)), c0);
        }

        Avx.Store(c, c0);
    }

    /// <summary>Whole C, rows split across threads in blocks.</summary>
    public static void Multiply(float[] a, float[] b, float[] c, int aOffset, int bOffset, int cOffset, int m, int k, int n, ExecContext ctx)
    {
        int blocks = ctx.Threads <= 1 ? 1 : Math.Min((m + 3) / 4, ctx.Threads * 4);
        int per = (((m + blocks - 1) / Math.Max(blocks, 1)) + 3) / 4 * 4;
        ctx.For(blocks, blk =>
        {
            int r0 = blk * per;
            int r1 = Math.Min(m, r0 + per);
            if (r0 < r1)
            {
                Rows(a.AsSpan(aOffset, m * k), b.AsSpan(bOffset, k * n), c.AsSpan(cOffset, m * n), r0, r1, k, n);
            }
        });
    }

    /// <summary>Transposes a rows×cols matrix into cols×rows, in 16×16 tiles.</summary>
    public static void Transpose(ReadOnlySpan<float> src, Span<float> dst, int rows, int cols)
    {
        const int Tile = 16;
        for (int r0 = 0; r0 < rows; r0 += Tile)
        {
            int r1 = Math.Min(rows, r0 + Tile);
            for (int c0 = 0; c0 < cols; c0 += Tile)
            {
                int c1 = Math.Min(cols, c0 + Tile);
                for (int r = r0; r < r1; r++)
                {
                    for (int c = c0; c < c1; c++)
                    {
                        dst[(c * rows) + r] = src[(r * cols) + c];
                    }
                }
            }
        }
    }
}
