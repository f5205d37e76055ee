using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Ort;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Runners;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Simulate;
using Xunit.Abstractions;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>
/// The drift proxy in ONNX Runtime (CPU provider) against the simulator, the oracle: every term's sums from the simulator's
/// own membrane potentials (recorded, then compared here in double), and the total as the search's simulator backend
/// computes it; then the gate's decisions on both. Issue 23: relative difference ≤ 1e-5 per term and in total.
/// </summary>
public sealed class OrtDriftTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-5;
    private const int Calibration = 16;

    private static readonly Lazy<ImageSet> s_images = new(() => IdxReader.LoadEvaluationSet(RepoPaths.FashionMnist));

    public static TheoryData<string> Models => RepoPaths.BundledModels;

    [Theory]
    [MemberData(nameof(Models))]
    public void OrtDrift_BundledModel_EqualsSimulatorPerTermAndGateDecisions(string name)
    {
        var (sim, proxy, backend, weights, input) = Load(RepoPaths.Model(name));
        using var sessions = proxy;
        var settings = Settings(weights);
        var reference = Record(sim, input, null);
        var sims = new List<double>();
        var orts = new List<double>();
        double worst = 0;

        foreach (var (label, setting) in settings)
        {
            var oracle = Terms(reference, Record(sim, input, weights.Overrides(setting.Bits)), sim.LifLayers);
            var ort = proxy.Drift(setting, CancellationToken.None);
            double searchDrift = backend.Proxy(setting, CancellationToken.None).Drift;

            Assert.Equal(oracle.Count, ort.Terms.Count);
            for (int l = 0; l < oracle.Count; l++)
            {
                worst = Math.Max(worst, Check($"{name} {label} term {l} diff", oracle[l].Diff, ort.Terms[l].Diff));
                worst = Math.Max(worst, Check($"{name} {label} term {l} norm", oracle[l].Norm, ort.Terms[l].Norm));
                Assert.Equal(oracle[l].Spikes, ort.Terms[l].Spikes);
                Assert.Equal(oracle[l].Mismatches, ort.Terms[l].Mismatches);
            }

            double oracleDrift = oracle.Average(t => t.Diff / (t.Norm + MembraneDrift.Epsilon));
            worst = Math.Max(worst, Check($"{name} {label} drift", oracleDrift, ort.Drift));
            worst = Math.Max(worst, Check($"{name} {label} drift (search backend)", searchDrift, ort.Drift));
            output.WriteLine($"{name} {label}: drift sim {searchDrift:R}, ort {ort.Drift:R}, spike mismatch {ort.SpikeMismatch:P3}");
            sims.Add(searchDrift);
            orts.Add(ort.Drift);
        }

        output.WriteLine($"{name}: max relative difference {worst:E2}");
        Assert.Equal(GateDecisions(sims, settings), GateDecisions(orts, settings));
    }

    [Fact]
    public void OrtDrift_FloatSetting_IsZeroAndMismatchFree()
    {
        var (_, proxy, _, weights, _) = Load(RepoPaths.Model("tests/spikformer-d64"));
        using var sessions = proxy;

        var drift = proxy.Drift(BitVector.AllFloat(weights.Weights.Count), CancellationToken.None);

        Assert.Equal(0, drift.Drift);
        Assert.Equal(0, drift.SpikeMismatch);
        Assert.All(drift.Terms, t => Assert.True(t.Norm > 0));
    }

    private static (Simulator Sim, OrtDriftProxy Proxy, SimulatorBackend Backend, WeightTable Weights, float[] Input) Load(string path)
    {
        var model = OnnxModelFile.Load(path);
        var catalog = WeightCatalog.Find(model);
        var weights = new WeightTable(model, catalog, QuantizationOptions.Default);
        var sim = Simulator.Load(path, threads: 2);
        var calibration = s_images.Value.Slice(0, Calibration);
        var proxy = new OrtDriftProxy(sim.Graph, model, weights, calibration, InputScaling.PixelOver255, DevicePool.Of(ComputeDevice.Cpu), threads: 2, batch: 8);
        var backend = new SimulatorBackend(sim, weights, calibration, calibration, InputScaling.PixelOver255, batch: 8);
        var input = new float[Calibration * sim.ImageSize];
        InputScaling.PixelOver255.FillSamples(calibration, 0, Calibration, sim.ImageDims, input);
        return (sim, proxy, backend, weights, input);
    }

    /// <summary>Uniform 8, 4, 3 and 2 bits, the first block alone at 2, the last weight alone at 2, and a mix.</summary>
    private static List<(string Label, BitVector Setting)> Settings(WeightTable weights)
    {
        int n = weights.Weights.Count;
        var all = Enumerable.Range(0, n).ToArray();
        var fp32 = BitVector.AllFloat(n);
        string firstBlock = weights.Weights[0].Block;
        int[] first = [.. all.Where(i => weights.Weights[i].Block == firstBlock)];
        return
        [
            ("all-8", fp32.With(all, 8)),
            ("all-4", fp32.With(all, 4)),
            ("all-3", fp32.With(all, 3)),
            ("all-2", fp32.With(all, 2)),
            ("first-block-2", fp32.With(first, 2)),
            ("last-weight-2", fp32.With([n - 1], 2)),
            ("mixed", fp32.With([.. all.Where(i => i % 2 == 0)], 3).With([.. all.Where(i => i % 2 == 1)], 6)),
        ];
    }

    /// <summary>The gate fed each engine's drifts with the same outcomes (pass: 4 bits or more everywhere): what it admits at each step.</summary>
    private static List<bool> GateDecisions(List<double> drifts, List<(string Label, BitVector Setting)> settings)
    {
        var gate = new DriftGate(margin: 1.0);
        var decisions = new List<bool>();
        for (int i = 0; i < drifts.Count; i++)
        {
            decisions.AddRange(drifts.Select(gate.Admits));
            gate.Learn(drifts[i], settings[i].Setting.Bits.All(b => b >= 4));
        }

        return decisions;
    }

    private double Check(string what, double expected, double actual)
    {
        double relative = expected == actual ? 0 : Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), 1e-300);
        Assert.True(relative <= Tolerance, $"{what}: simulator {expected:R}, ONNX Runtime {actual:R} (relative {relative:E2})");
        return relative;
    }

    /// <summary>One run's V[l][t] per layer (steps and batch chunks in call order) and its logits.</summary>
    private sealed record Run(Dictionary<int, SortedDictionary<(int T, int BatchStart), float[]>> Steps, float[] Logits);

    private static Run Record(Simulator sim, float[] input, IReadOnlyDictionary<string, float[]>? overrides)
    {
        var recorder = new Recorder();
        float[] logits = sim.Run(input, Calibration, overrides, recorder);
        return new Run(recorder.Steps, logits);
    }

    /// <summary>The oracle's sums, straight from the definition (docs/search.md, <see cref="MembraneDrift"/>): differences in float, sums in double.</summary>
    private static List<MembraneDrift.Term> Terms(Run reference, Run candidate, IReadOnlyList<LifLayer> layers)
    {
        var terms = new List<MembraneDrift.Term>();
        foreach (var layer in layers)
        {
            double diff = 0, norm = 0;
            long neurons = 0, mismatches = 0;
            var q = candidate.Steps[layer.Index];
            foreach (var (key, r) in reference.Steps[layer.Index])
            {
                float[] v = q[key];
                for (int i = 0; i < r.Length; i++)
                {
                    double d = v[i] - r[i];
                    diff += d * d;
                    norm += (double)r[i] * r[i];
                    mismatches += (v[i] >= layer.VThreshold) != (r[i] >= layer.VThreshold) ? 1 : 0;
                }

                neurons += r.Length;
            }

            terms.Add(new MembraneDrift.Term(diff, norm, neurons, mismatches));
        }

        double ld = 0, ln = 0;
        for (int i = 0; i < reference.Logits.Length; i++)
        {
            double d = candidate.Logits[i] - reference.Logits[i];
            ld += d * d;
            ln += (double)reference.Logits[i] * reference.Logits[i];
        }

        terms.Add(new MembraneDrift.Term(ld, ln, 0, 0));
        return terms;
    }

    private sealed class Recorder : IMembraneObserver
    {
        public Dictionary<int, SortedDictionary<(int T, int BatchStart), float[]>> Steps { get; } = [];

        public bool Observes(LifLayer layer) => true;

        public void OnStep(LifLayer layer, int t, int batchStart, ReadOnlySpan<int> shape, ReadOnlySpan<float> membrane, ReadOnlySpan<float> spikes)
        {
            lock (Steps)
            {
                if (!Steps.TryGetValue(layer.Index, out var steps))
                {
                    Steps[layer.Index] = steps = [];
                }

                steps[(t, batchStart)] = membrane.ToArray();
            }
        }
    }
}
