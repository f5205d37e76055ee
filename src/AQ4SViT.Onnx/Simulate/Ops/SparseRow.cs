using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// out[j] (+)= Σ over K-blocks of (Σ over the block's entries q of x[q]·B[k[q], j]) for j &lt; n, with the entries sorted by k:
/// one row of a sparse × dense product, summed in exactly the order of the dense GEMM (zero terms add nothing).
/// Each output's sum is a chain of dependent multiply-adds, so up to twelve column vectors are summed side by side to keep
/// the FMA units busy instead of waiting on one chain; 96, 64, 48, 32 and 8 columns per pass, so that the bundled models'
/// widths (48, 96, 192, 768) take whole passes.
/// </summary>
internal static unsafe class SparseRow
{
    public static void Sum(int* k, float* x, int count, float* b, int ldb, int n, int strideK, float* output, bool accumulate)
    {
        if (!accumulate)
        {
            new Span<float>(output, n).Clear();
        }

        int j = 0;
        if (Fma.IsSupported)
        {
            for (; j + 96 <= n; j += 96)
            {
                Sum96(k, x, count, b + j, ldb, strideK, output + j);
            }

            if (j + 64 <= n)
            {
                Sum64(k, x, count, b + j, ldb, strideK, output + j);
                j += 64;
            }

            if (j + 48 <= n)
            {
                Sum48(k, x, count, b + j, ldb, strideK, output + j);
                j += 48;
            }

            if (j + 32 <= n)
            {
                Sum32(k, x, count, b + j, ldb, strideK, output + j);
                j += 32;
            }

            for (; j + 8 <= n; j += 8)
            {
                Sum8(k, x, count, b + j, ldb, strideK, output + j);
            }
        }

        for (; j < n; j++)
        {
            float sum = 0;
            int blockEnd = strideK;
            for (int q = 0; q < count; q++)
            {
                if (k[q] >= blockEnd)
                {
                    output[j] += sum;
                    sum = 0;
                    blockEnd = NextBlockEnd(k[q], strideK);
                }

                sum = MathF.FusedMultiplyAdd(x[q], b[((long)k[q] * ldb) + j], sum);
            }

            output[j] += sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NextBlockEnd(int k, int strideK) => ((k / strideK) + 1) * strideK;

    private static void Sum96(int* k, float* x, int count, float* b, int ldb, int strideK, float* o)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector256<float> c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        int blockEnd = strideK;
        for (int q = 0; q < count; q++)
        {
            if (k[q] >= blockEnd)
            {
                Flush(o, c0, c1, c2, c3);
                Flush(o + 32, c4, c5, c6, c7);
                Flush(o + 64, c8, c9, c10, c11);
                c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = c8 = c9 = c10 = c11 = default;
                blockEnd = NextBlockEnd(k[q], strideK);
            }

            float* w = b + ((long)k[q] * ldb);
            var v = Vector256.Create(x[q]);
            c0 = Fma.MultiplyAdd(v, Avx.LoadVector256(w), c0);
            c1 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 8), c1);
            c2 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 16), c2);
            c3 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 24), c3);
            c4 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 32), c4);
            c5 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 40), c5);
            c6 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 48), c6);
            c7 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 56), c7);
            c8 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 64), c8);
            c9 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 72), c9);
            c10 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 80), c10);
            c11 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 88), c11);
        }

        Flush(o, c0, c1, c2, c3);
        Flush(o + 32, c4, c5, c6, c7);
        Flush(o + 64, c8, c9, c10, c11);
    }

    private static void Sum48(int* k, float* x, int count, float* b, int ldb, int strideK, float* o)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        int blockEnd = strideK;
        for (int q = 0; q < count; q++)
        {
            if (k[q] >= blockEnd)
            {
                Flush(o, c0, c1, c2, c3);
                Avx.Store(o + 32, Avx.LoadVector256(o + 32) + c4);
                Avx.Store(o + 40, Avx.LoadVector256(o + 40) + c5);
                c0 = c1 = c2 = c3 = c4 = c5 = default;
                blockEnd = NextBlockEnd(k[q], strideK);
            }

            float* w = b + ((long)k[q] * ldb);
            var v = Vector256.Create(x[q]);
            c0 = Fma.MultiplyAdd(v, Avx.LoadVector256(w), c0);
            c1 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 8), c1);
            c2 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 16), c2);
            c3 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 24), c3);
            c4 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 32), c4);
            c5 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 40), c5);
        }

        Flush(o, c0, c1, c2, c3);
        Avx.Store(o + 32, Avx.LoadVector256(o + 32) + c4);
        Avx.Store(o + 40, Avx.LoadVector256(o + 40) + c5);
    }

    private static void Sum64(int* k, float* x, int count, float* b, int ldb, int strideK, float* o)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        int blockEnd = strideK;
        for (int q = 0; q < count; q++)
        {
            if (k[q] >= blockEnd)
            {
                Flush(o, c0, c1, c2, c3);
                Flush(o + 32, c4, c5, c6, c7);
                c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = default;
                blockEnd = NextBlockEnd(k[q], strideK);
            }

            float* w = b + ((long)k[q] * ldb);
            var v = Vector256.Create(x[q]);
            c0 = Fma.MultiplyAdd(v, Avx.LoadVector256(w), c0);
            c1 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 8), c1);
            c2 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 16), c2);
            c3 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 24), c3);
            c4 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 32), c4);
            c5 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 40), c5);
            c6 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 48), c6);
            c7 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 56), c7);
        }

        Flush(o, c0, c1, c2, c3);
        Flush(o + 32, c4, c5, c6, c7);
    }

    private static void Sum32(int* k, float* x, int count, float* b, int ldb, int strideK, float* o)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        int blockEnd = strideK;
        for (int q = 0; q < count; q++)
        {
            if (k[q] >= blockEnd)
            {
                Flush(o, c0, c1, c2, c3);
                c0 = c1 = c2 = c3 = default;
                blockEnd = NextBlockEnd(k[q], strideK);
            }

            float* w = b + ((long)k[q] * ldb);
            var v = Vector256.Create(x[q]);
            c0 = Fma.MultiplyAdd(v, Avx.LoadVector256(w), c0);
            c1 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 8), c1);
            c2 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 16), c2);
            c3 = Fma.MultiplyAdd(v, Avx.LoadVector256(w + 24), c3);
        }

        Flush(o, c0, c1, c2, c3);
    }

    private static void Sum8(int* k, float* x, int count, float* b, int ldb, int strideK, float* o)
    {
        Vector256<float> c0 = default;
        int blockEnd = strideK;
        for (int q = 0; q < count; q++)
        {
            if (k[q] >= blockEnd)
            {
                Avx.Store(o, Avx.LoadVector256(o) + c0);
                c0 = default;
                blockEnd = NextBlockEnd(k[q], strideK);
            }

            c0 = Fma.MultiplyAdd(Vector256.Create(x[q]), Avx.LoadVector256(b + ((long)k[q] * ldb)), c0);
        }

        Avx.Store(o, Avx.LoadVector256(o) + c0);
    }

    /// <summary>Adds one K-block's sums of 32 columns to the output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Flush(float* o, Vector256<float> c0, Vector256<float> c1, Vector256<float> c2, Vector256<float> c3)
    {
        Avx.Store(o, Avx.LoadVector256(o) + c0);
        Avx.Store(o + 8, Avx.LoadVector256(o + 8) + c1);
        Avx.Store(o + 16, Avx.LoadVector256(o + 16) + c2);
        Avx.Store(o + 24, Avx.LoadVector256(o + 24) + c3);
    }
}
