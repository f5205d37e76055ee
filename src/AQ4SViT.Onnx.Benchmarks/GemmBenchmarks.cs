using AQ4SViT.Onnx.Simulate.Ops;
using BenchmarkDotNet.Attributes;

namespace AQ4SViT.Onnx.Benchmarks;

/// <summary>
/// One Spikformer linear layer (49 tokens × 4 steps of a dim-192 model into 768 features): the dense register-blocked
/// kernel, the spike-driven kernel and a scalar loop, on spike inputs at the firing rates the bundled models show.
/// </summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private const int M = 196;
    private const int K = 192;
    private const int N = 768;
    private float[] _a = [];
    private float[] _b = [];
    private readonly float[] _c = new float[M * N];

    [Params(0.05, 0.2, 1.0)]
    public double FiringRate { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _a = Enumerable.Range(0, M * K).Select(_ => rng.NextDouble() < FiringRate ? 1f : 0f).ToArray();
        _b = Enumerable.Range(0, K * N).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
    }

    [Benchmark(Baseline = true)]
    public void Scalar()
    {
        for (int i = 0; i < M; i++)
        {
            for (int j = 0; j < N; j++)
            {
                float sum = 0;
                for (int p = 0; p < K; p++)
                {
                    sum = MathF.FusedMultiplyAdd(_a[(i * K) + p], _b[(p * N) + j], sum);
                }

                _c[(i * N) + j] = sum;
            }
        }
    }

    [Benchmark]
    public void Dense() => GemmKernel.Fma4x16(_a, _b, _c, 0, M, K, N, 256, accumulate: false);

    [Benchmark]
    public void Sparse() => GemmKernel.SparseFma(_a, _b, _c, 0, M, K, N, 256, accumulate: false);
}
