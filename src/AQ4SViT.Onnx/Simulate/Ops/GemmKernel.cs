using System.Numerics.Tensors;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// C[M×N] = A[M×K]·B[K×N] (row-major, dense), cache-blocked over K and N, inner loop an axpy over a row of B
/// (TensorPrimitives.MultiplyAdd). Zero entries of A are skipped, so spike (0/1) left operands cost only their ones.
/// </summary>
internal static class GemmKernel
{
    private const int BlockK = 128;
    private const int BlockN = 512;

    /// <summary>Rows [rowStart, rowEnd) of C; C is overwritten.</summary>
    public static void Rows(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int rowStart, int rowEnd, int k, int n)
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

    /// <summary>Whole C, rows split across threads in blocks.</summary>
    public static void Multiply(float[] a, float[] b, float[] c, int aOffset, int bOffset, int cOffset, int m, int k, int n, ExecContext ctx)
    {
        int blocks = ctx.Threads <= 1 ? 1 : Math.Min(m, ctx.Threads * 4);
        int per = (m + blocks - 1) / Math.Max(blocks, 1);
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

    /// <summary>Transposes a rows×cols matrix into cols×rows.</summary>
    public static void Transpose(ReadOnlySpan<float> src, Span<float> dst, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                dst[(c * rows) + r] = src[(r * cols) + c];
            }
        }
    }
}
