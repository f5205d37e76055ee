using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Simulate;
using AQ4SViT.Onnx.Simulate.Ops;
using BenchmarkDotNet.Attributes;

namespace AQ4SViT.Onnx.Benchmarks;

/// <summary>
/// The bundled models' first pooling on one image and time step, 96 planes of 28 × 28, 3 × 3 windows, stride 2, pad 1,
/// one thread: SDT's dense planes (BatchNorm output, no silent maps) and Spikformer's spike maps (LIF output, 1.2% ones,
/// pooled through row bit masks). The kernel against a scalar loop over each window.
/// </summary>
[MemoryDiagnoser]
public class MaxPoolBenchmarks
{
    private const int Planes = 96;
    private const int Size = 28;
    private const int Out = 14;
    private readonly float[] _y = new float[Planes * Out * Out];
    private readonly ExecContext _oneThread = new(1);
    private Tensor _x = null!;
    private Node _node = null!;

    [Params(false, true)]
    public bool Spikes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(3);
        float Value() => Spikes ? (rng.NextDouble() < 0.012 ? 1f : 0f) : (float)rng.NextDouble() - 0.5f;
        _x = Tensor.FromFloats(Enumerable.Range(0, Planes * Size * Size).Select(_ => Value()).ToArray(), [1, Planes, Size, Size]);
        var attributes = new Dictionary<string, AttributeProto>
        {
            ["kernel_shape"] = Ints("kernel_shape", 3, 3),
            ["strides"] = Ints("strides", 2, 2),
            ["pads"] = Ints("pads", 1, 1, 1, 1),
        };
        _node = new Node("MaxPool", "/sps/MaxPool", "", 18, ["x"], ["y"], attributes);
    }

    private static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    [Benchmark(Baseline = true)]
    public void ScalarLoop()
    {
        float[] x = _x.FloatData!;
        for (int p = 0; p < Planes; p++)
        {
            for (int oy = 0; oy < Out; oy++)
            {
                for (int ox = 0; ox < Out; ox++)
                {
                    float best = float.NegativeInfinity;
                    for (int ky = 0; ky < 3; ky++)
                    {
                        for (int kx = 0; kx < 3; kx++)
                        {
                            int iy = (oy * 2) - 1 + ky, ix = (ox * 2) - 1 + kx;
                            if (iy is >= 0 and < Size && ix is >= 0 and < Size)
                            {
                                best = Math.Max(best, x[(((p * Size) + iy) * Size) + ix]);
                            }
                        }
                    }

                    _y[(((p * Out) + oy) * Out) + ox] = best;
                }
            }
        }
    }

    [Benchmark]
    public Tensor Kernel() => MaxPool.Run(_node, _x, _oneThread);
}
