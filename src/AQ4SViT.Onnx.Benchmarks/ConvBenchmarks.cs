using AQ4SViT.Onnx.Simulate.Ops;
using BenchmarkDotNet.Attributes;

namespace AQ4SViT.Onnx.Benchmarks;

/// <summary>
/// One image of the bundled Spikformer's third patch-splitting convolution (48 → 96 channels, 3 × 3, 28 × 28, spike input):
/// im2col + the dense GEMM kernel against the spike-driven convolution, at the firing rates the bundled models show:
/// on the 0/1 spike map (lists read off row bit masks) and on the same map with its ones doubled (not a spike map, so
/// listed spike by spike).
/// </summary>
[MemoryDiagnoser]
public class ConvBenchmarks
{
    private const int C = 48;
    private const int M = 96;
    private const int Size = 28;
    private const int KDim = C * 9;
    private const int Pixels = Size * Size;
    private readonly float[] _col = new float[KDim * Pixels];
    private readonly float[] _y = new float[M * Pixels];
    private float[] _x = [];
    private float[] _doubled = [];
    private float[] _w = [];
    private float[] _wt = [];

    [Params(0.05, 0.2)]
    public double FiringRate { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(2);
        _x = Enumerable.Range(0, C * Pixels).Select(_ => rng.NextDouble() < FiringRate ? 1f : 0f).ToArray();
        _doubled = _x.Select(v => 2 * v).ToArray();
        _w = Enumerable.Range(0, M * KDim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        _wt = new float[KDim * M];
        GemmKernel.Transpose(_w, _wt, M, KDim);
    }

    [Benchmark(Baseline = true)]
    public void Im2ColDense()
    {
        for (int ci = 0; ci < C; ci++)
        {
            for (int ky = 0; ky < 3; ky++)
            {
                for (int kx = 0; kx < 3; kx++)
                {
                    var row = _col.AsSpan((((ci * 3) + ky) * 3 + kx) * Pixels, Pixels);
                    for (int oy = 0; oy < Size; oy++)
                    {
                        for (int ox = 0; ox < Size; ox++)
                        {
                            int iy = oy - 1 + ky, ix = ox - 1 + kx;
                            row[(oy * Size) + ox] = iy is >= 0 and < Size && ix is >= 0 and < Size ? _x[(ci * Pixels) + (iy * Size) + ix] : 0f;
                        }
                    }
                }
            }
        }

        GemmKernel.Fma4x16(_w, _col, _y, 0, M, KDim, Pixels, GemmKernel.OrtStrideK(Pixels, KDim), accumulate: false);
    }

    [Benchmark]
    public void SpikeDriven() =>
        SpikeConv.Image(_x, _wt, _y, new ConvGeometry(Size, Size, 3, 3, 1, 1, 1, 1, 1, 1, Size, Size), M, GemmKernel.OrtStrideK(Pixels, KDim));

    [Benchmark]
    public void SpikeDrivenListedPerSpike() =>
        SpikeConv.Image(_doubled, _wt, _y, new ConvGeometry(Size, Size, 3, 3, 1, 1, 1, 1, 1, 1, Size, Size), M, GemmKernel.OrtStrideK(Pixels, KDim));
}
