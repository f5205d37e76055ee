using System.Text.Json;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Simulate;
using Microsoft.ML.OnnxRuntime;
using static AQ4SViT.Onnx.Tests.Simulate.ModelBuilder;

namespace AQ4SViT.Onnx.Tests.Simulate;

/// <summary>LIF recognition on exported graphs, fused-kernel parity with ONNX Runtime, membrane observation.</summary>
public sealed class LifTests
{
    private static string LifCases => Path.Combine(RepoPaths.Models, "tests", "lif-cases");

    private static string Fixture(string name) => Path.Combine(LifCases, name);

    [Theory]
    [InlineData("default", 2f, 1f, 0f, true)]
    [InlineData("tau3-thr0.7-nodecay", 3f, 0.7f, 0f, false)]
    [InlineData("tau1.5-thr1.2-vreset-0.2", 1.5f, 1.2f, -0.2f, true)]
    [InlineData("soft-tau2-thr1", 2f, 1f, null, true)]
    [InlineData("soft-tau4-thr0.5-nodecay", 4f, 0.5f, null, false)]
    public void Recognize_BothExporters_FindOneLayerWithItsParameters(string variant, float tau, float thr, float? vReset, bool decay)
    {
        foreach (string exporter in new[] { "torchscript", "dynamo" })
        {
            Recognize_OneFile(Fixture($"{variant}-{exporter}.onnx"), tau, thr, vReset, decay);
        }
    }

    private static void Recognize_OneFile(string path, float tau, float thr, float? vReset, bool decay)
    {
        var graph = GraphLoader.Load(path);

        var layer = Assert.Single(graph.LifLayers);
        Assert.Equal(tau, layer.Tau, 1e-6f);
        Assert.Equal(thr, layer.VThreshold);
        Assert.Equal(vReset, layer.VReset);
        Assert.Equal(decay, layer.DecayInput);
        Assert.Equal(4, layer.TimeSteps);
        Assert.Equal("/lif", layer.Name);
        Assert.DoesNotContain(graph.Nodes, n => n.OpType is "GreaterOrEqual" or "Greater");
    }

    [Theory]
    [InlineData("default")]
    [InlineData("tau3-thr0.7-nodecay")]
    [InlineData("tau1.5-thr1.2-vreset-0.2")]
    [InlineData("soft-tau2-thr1")]
    [InlineData("soft-tau4-thr0.5-nodecay")]
    [InlineData("broken")]
    public void Run_LifCase_MatchesOrtOnRandomBatches(string variant)
    {
        foreach (string exporter in new[] { "torchscript", "dynamo" })
        {
            string path = Fixture($"{variant}-{exporter}.onnx");
            var sim = Simulator.Load(path, threads: 2);
            var input = Oracle.Random(new Random(3), 5 * 64).Select(v => v + 0.5f).ToArray();

            float[] actual = sim.Run(input, 5);
            float[] expected = RunOrt(path, input, [5, 1, 8, 8]);

            Oracle.AssertClose(expected, actual, 1e-5f, $"{variant}-{exporter}");
            if (variant == "broken")
            {
                Assert.Empty(sim.LifLayers);
            }
        }
    }

    [Theory]
    [InlineData("torchscript")]
    [InlineData("dynamo")]
    public void Recognize_StrictThreshold_IsRefusedNamingTheNodeAndRule(string exporter)
    {
        var graph = GraphLoader.Load(Fixture($"broken-{exporter}.onnx"));

        Assert.Empty(graph.LifLayers);
        Assert.Contains(graph.LifDiagnostics, d => d.Contains("Concat '", StringComparison.Ordinal) && d.Contains("strict 'Greater'", StringComparison.Ordinal));
        Assert.Contains(graph.LifDiagnostics, d => d.Contains("not part of a recognised LIF layer", StringComparison.Ordinal));
    }

    /// <summary>The fixtures the reference-model exporter writes (both exporters), when they are in models/tests/lif-cases.</summary>
    [Fact]
    public void Recognize_ExportedLifCases_MatchesCasesJson()
    {
        string dir = LifCases;
        string casesPath = Path.Combine(dir, "cases.json");

        using var doc = JsonDocument.Parse(File.ReadAllText(casesPath));
        float[] input = File.ReadAllLines(Path.Combine(dir, "input.csv")).SelectMany(l => l.Split(',').Select(float.Parse)).ToArray();
        int batch = input.Length / 64;
        int checkedFiles = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            bool isLif = c.GetProperty("is_lif").GetBoolean();
            var lif = c.GetProperty("lif");
            float[] expected = File.ReadAllLines(Path.Combine(dir, c.GetProperty("expected_file").GetString()!))
                .SelectMany(l => l.Split(',').Select(float.Parse)).ToArray();
            foreach (var f in c.GetProperty("files").EnumerateArray())
            {
                if (f.TryGetProperty("error", out _))
                {
                    continue;
                }

                string file = Path.Combine(dir, f.GetProperty("file").GetString()!);
                var sim = Simulator.Load(file, threads: 2);
                if (isLif)
                {
                    var layer = Assert.Single(sim.LifLayers);
                    Assert.Equal(lif.GetProperty("tau").GetSingle(), layer.Tau, 1e-6f);
                    Assert.Equal(lif.GetProperty("v_threshold").GetSingle(), layer.VThreshold);
                    Assert.Equal(lif.GetProperty("v_reset").ValueKind == JsonValueKind.Null ? null : lif.GetProperty("v_reset").GetSingle(), layer.VReset);
                    Assert.Equal(lif.GetProperty("decay_input").GetBoolean(), layer.DecayInput);
                }
                else
                {
                    Assert.Empty(sim.LifLayers);
                }

                float[] actual = sim.Run(input, batch);
                Oracle.AssertClose(expected, actual, 1e-4f, file);
                checkedFiles++;
            }
        }

        Assert.Equal(12, checkedFiles); // six variants × two exporters
    }

    [Fact]
    public void Recognize_BundledSpikformer_SameLayerNamesFromBothExporters()
    {
        var torchscript = GraphLoader.Load(RepoPaths.Model("spikformer-fmnist"));
        var dynamo = GraphLoader.Load(RepoPaths.Model("spikformer-fmnist-dynamo"));

        Assert.Equal(19, torchscript.LifLayers.Count);
        Assert.Equal(torchscript.LifLayers.Select(l => l.Name), dynamo.LifLayers.Select(l => l.Name));
        Assert.Contains(torchscript.LifLayers, l => l.Name == "/blocks.1/attn/attn_lif" && l.VThreshold == 0.5f);
        Assert.All(torchscript.LifLayers, l => Assert.Equal(4, l.TimeSteps));
    }

    [Theory]
    [InlineData("['', 'sps', 'sps.lifs.0', 'stack']", "/sps/lifs.0")]
    [InlineData(": svit.Spikformer/blocks.0: svit.SpikformerBlock/blocks.0.attn: svit.SSA/blocks.0.attn.q: svit.LinearBNLIF/blocks.0.attn.q.lif: svit.LIF/stack_5: aten.stack.default", "/blocks.0/attn/q/lif")]
    public void ModulePath_DynamoScopes_TorchScriptStyleNames(string scope, string expected) =>
        Assert.Equal(expected, LifRecognizer.ModulePath(scope));

    [Fact]
    public void Observe_HandBuiltLif_HandsOutMembraneBeforeResetAndSpikes()
    {
        // x (T=3, 2 neurons) → unrolled LIF(tau 2, thr 1, hard reset 0, decay_input) as torch exports it.
        const int T = 3;
        var mb = new ModelBuilder().Input("x", T, 2).OutputWithDims("spikes", T, 2);
        string vp = mb.Floats([0f, 0f], 2);
        var steps = new List<string>();
        for (int t = 0; t < T; t++)
        {
            string xt = mb.Node("Gather", ["x", mb.Longs([t], [])], n => Int(n, "axis", 0), name: $"/lif/Gather_{t}");
            string h = mb.Node("Add", [vp, mb.Node("Div", [mb.Node("Sub", [xt, vp], name: $"/lif/Sub_{t}"), mb.Scalar(2f)], name: $"/lif/Div_{t}")], name: $"/lif/Add_{t}");
            string fire = mb.Node("GreaterOrEqual", [mb.Node("Sub", [h, mb.Scalar(1f)], name: $"/lif/SubThr_{t}"), mb.Scalar(0f)], name: $"/lif/Ge_{t}");
            string s = mb.Node("Cast", [fire], n => Int(n, "to", 1), name: $"/lif/Cast_{t}");
            steps.Add(mb.Node("Unsqueeze", [s, mb.Longs([0], 1)], name: $"/lif/Unsqueeze_{t}"));
            vp = mb.Node("Add", [mb.Node("Mul", [mb.Node("Sub", [mb.Scalar(1f), s]), h]), mb.Node("Mul", [s, mb.Scalar(0f)])], name: $"/lif/Reset_{t}");
        }

        mb.Node("Concat", steps.ToArray(), n => Int(n, "axis", 0), name: "/lif/Concat", output: "spikes");
        var sim = new Simulator(GraphLoader.Load(OnnxModelFile.FromProto(mb.Build(), "lif.onnx")));
        float[] x = [1.5f, 0.4f, 0.8f, 0.9f, 2.5f, 1.2f];
        var observer = new Recorder();

        float[] spikes = sim.Run(x, T, observer: observer);

        var layer = Assert.Single(sim.LifLayers);
        Assert.Equal("/lif", layer.Name);
        float[] v = new float[2];
        for (int t = 0; t < T; t++)
        {
            for (int i = 0; i < 2; i++)
            {
                v[i] += (x[(t * 2) + i] - v[i]) / 2f;
                float s = v[i] >= 1f ? 1f : 0f;
                Assert.Equal(v[i], observer.Membrane[t][i]);
                Assert.Equal(s, observer.Spikes[t][i]);
                Assert.Equal(s, spikes[(t * 2) + i]);
                if (s == 1f)
                {
                    v[i] = 0f;
                }
            }

            Assert.Equal([2], observer.Shapes[t]);
        }

        var silent = new Recorder { Enabled = false };
        sim.Run(x, T, observer: silent);
        Assert.Empty(silent.Membrane);
    }

    private sealed class Recorder : IMembraneObserver
    {
        public bool Enabled { get; init; } = true;
        public List<float[]> Membrane { get; } = [];
        public List<float[]> Spikes { get; } = [];
        public List<int[]> Shapes { get; } = [];

        public bool Observes(LifLayer layer) => Enabled;

        public void OnStep(LifLayer layer, int t, int batchStart, ReadOnlySpan<int> shape, ReadOnlySpan<float> membrane, ReadOnlySpan<float> spikes)
        {
            Membrane.Add(membrane.ToArray());
            Spikes.Add(spikes.ToArray());
            Shapes.Add(shape.ToArray());
        }
    }

    internal static float[] RunOrt(string path, float[] input, long[] dims)
    {
        using var session = new InferenceSession(path);
        using var value = OrtValue.CreateTensorValueFromMemory(input, dims);
        // Kept alive past Run: Run passes only its native handle, and a finalized RunOptions crashed ORT inside Run.
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [session.InputMetadata.Keys.First()], [value], [session.OutputMetadata.Keys.First()]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
