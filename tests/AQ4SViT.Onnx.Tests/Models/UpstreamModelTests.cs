using System.Globalization;
using System.Text.Json;
using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Simulate;
using Microsoft.ML.OnnxRuntime;

namespace AQ4SViT.Onnx.Tests.Models;

/// <summary>
/// Models built from the upstream Spikformer, Spike-driven Transformer, QKFormer and SDT-V2 code on SpikingJelly's own
/// neurons (0.0.0.0.12, 0.0.0.0.14, HEAD; LIF, PLIF, soft reset), exported by both PyTorch exporters
/// (<c>tools/upstream_fixtures.py</c>): every LIF module the forward pass calls is recognised with its parameters, and the
/// simulator computes what ONNX Runtime and PyTorch compute.
/// </summary>
public sealed class UpstreamModelTests
{
    private static string Folder => Path.Combine(RepoPaths.Models, "tests", "upstream");

    public static TheoryData<string> Exports => new(Names());

    private static IEnumerable<string> Names() =>
        Directory.GetDirectories(Folder).Where(d => File.Exists(Path.Combine(d, "model.onnx"))).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal);

    [Fact]
    public void Fixtures_CoverEveryArchitectureVersionAndExporter()
    {
        var names = Names().ToList();

        foreach (string arch in new[] { "spikformer", "sdt", "qkformer", "sdtv2" })
        {
            foreach (string sj in new[] { "012", "014", "head" })
            {
                Assert.Contains($"{arch}-sj{sj}-ts", names);
                Assert.Contains($"{arch}-sj{sj}-dynamo", names);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Exports))]
    public void Recognize_UpstreamExport_FindsEveryCalledLifModule(string name)
    {
        using var card = Card(name);
        var c = card.RootElement;

        var graph = GraphLoader.Load(ModelPath(name));

        Assert.True(c.GetProperty("lif_called").GetInt32() == graph.LifLayers.Count,
            $"{name}: {graph.LifLayers.Count} LIF layers, the PyTorch model calls {c.GetProperty("lif_called").GetInt32()}; {string.Join(" | ", graph.LifDiagnostics)}");
        Assert.DoesNotContain(graph.LifDiagnostics, d => !d.StartsWith("Loop trip counts", StringComparison.Ordinal));
        Assert.DoesNotContain(graph.Nodes, n => n.OpType == "GreaterOrEqual");
        int steps = c.GetProperty("time_steps").GetInt32();
        bool soft = c.GetProperty("neuron").GetString() == "soft";
        Assert.All(graph.LifLayers, l =>
        {
            Assert.Equal(steps, l.TimeSteps);
            Assert.Equal(soft ? null : 0f, l.VReset);
            Assert.True(l.DecayInput);
            Assert.Contains(l.VThreshold, new[] { 1f, 0.5f });
        });
        if (c.GetProperty("neuron").GetString() == "plif")
        {
            // Learned 1/τ = sigmoid(w): trained away from its initial 0.5 in at least one layer.
            Assert.Contains(graph.LifLayers, l => Math.Abs(l.Tau - 2f) > 1e-3f);
        }
        else
        {
            Assert.All(graph.LifLayers, l => Assert.Equal(2f, l.Tau));
        }
    }

    [Theory]
    [MemberData(nameof(Exports))]
    public void Run_UpstreamExport_EqualsOrtAndPyTorch(string name)
    {
        using var card = Card(name);
        bool batchOne = card.RootElement.GetProperty("batch_one_only").GetBoolean();
        float[][] images = ReadCsv(Path.Combine(Folder, name, "input.csv"));
        float[][] torch = ReadCsv(Path.Combine(Folder, name, "reference-logits.csv"));
        var sim = Simulator.Load(ModelPath(name), threads: 2);
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, IntraOpNumThreads = 2 };
        using var ort = new InferenceSession(ModelPath(name), options);

        int batch = batchOne ? 1 : images.Length;
        for (int start = 0; start < images.Length; start += batch)
        {
            float[] input = images.Skip(start).Take(batch).SelectMany(r => r).ToArray();
            float[] actual = sim.Run(input, batch);
            float[] expected = RunOrt(ort, input, batch);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5f * Math.Max(1f, Math.Abs(expected[i])),
                    $"{name}: image {start + (i / sim.Classes)} class {i % sim.Classes}: simulator {actual[i]}, ONNX Runtime {expected[i]}");
            }

            for (int b = 0; b < batch; b++)
            {
                var row = actual.AsSpan(b * sim.Classes, sim.Classes).ToArray();
                Assert.Equal(ArgMax(torch[start + b]), ArgMax(row));
            }
        }
    }

    /// <summary>
    /// Some dynamo exports read a Linear weight through Transpose(initializer): the simulator must offer that weight to
    /// the search and run its quantized override, not a folded float copy, so that it scores what the emitter writes.
    /// </summary>
    [Fact]
    public void Quantized_WeightBehindTranspose_IsOfferedAndSimulatorEqualsOrtOnEmittedFile()
    {
        using var dir = new TempDir();
        var b = new Simulate.ModelBuilder().Input("x", -1, 16);
        var rng = new Random(5);
        string w = b.Floats(Simulate.Oracle.Random(rng, 6 * 16), 6, 16);
        string y = b.Node("MatMul", ["x", b.Node("Transpose", [w], n => Simulate.ModelBuilder.Ints(n, "perm", 1, 0))], output: "y");
        b.Output(y);
        string path = dir.File("linear.onnx");
        File.WriteAllBytes(path, b.Bytes());
        var model = OnnxModelFile.Load(path);
        var catalog = WeightCatalog.Find(model);
        var setting = Setting.Uniform(catalog, Granularity.Layer, 3);
        var emitted = FakeQuantEmitter.Write(model, setting, dir.File("fq.onnx"));
        var overrides = WeightQuantizer.FakeQuantizeModel(OnnxModelFile.Load(path), setting);
        var sim = Simulator.Load(path, threads: 1);
        float[] input = Simulate.Oracle.Random(rng, 4 * 16);

        float[] quantized = sim.Run(input, 4, overrides);

        Assert.Equal(w, Assert.Single(catalog).Name);
        Assert.Equal(w, Assert.Single(sim.Graph.Weights).Name);
        using var ort = new InferenceSession(emitted.Path);
        using var value = OrtValue.CreateTensorValueFromMemory(input, [4, 16]);
        // Kept alive past Run: Run passes only its native handle, and a finalized RunOptions crashed ORT inside Run.
        using var runOptions = new RunOptions();
        using var results = ort.Run(runOptions, ["x"], [value], ["y"]);
        Simulate.Oracle.AssertClose(results[0].GetTensorDataAsSpan<float>().ToArray(), quantized, 1e-5f, "MatMul(x, Transpose(w))");
        Assert.NotEqual(sim.Run(input, 4), quantized);
    }

    /// <summary>The user's path end to end on upstream exports: data as a CIFAR-10 batch (Fashion-MNIST padded to 32×32 RGB,
    /// what the models were trained on), a short search, then validate of the emitted QDQ file against the float model.</summary>
    [Theory]
    [InlineData("spikformer-sj012-dynamo")]
    [InlineData("sdt-sj014-ts")]
    [InlineData("qkformer-sjhead-dynamo")]
    public void Search_UpstreamExport_FromCifarBatch_RunsAndValidates(string name)
    {
        using var dir = new TempDir();
        Data.DataFixtures.WriteCifar(dir.File("test_batch.bin"), Data.DataFixtures.PadTo32(Data.DataFixtures.Rgb(Data.DataFixtures.First(400))));
        string model = ModelPath(name);

        var search = Cli.CliRun.Run(TimeSpan.FromSeconds(600), "search", model, "--data", dir.Path, "--out", dir.File("out"),
            "--granularity", "block", "--bits", "2,4,8", "--calib", "16", "--search-limit", "200", "--test-limit", "200", "--threads", "2", "--quiet", "--json");
        Assert.True(search.ExitCode == 0, search.ToString());
        using var report = JsonDocument.Parse(search.Stdout);
        var r = report.RootElement;
        Assert.True(r.GetProperty("fp_accuracy_test").GetDouble() > 0.6, $"{name}: float accuracy {r.GetProperty("fp_accuracy_test").GetDouble()}");
        Assert.True(r.GetProperty("memory_saving").GetDouble() >= 0.5, $"{name}: saving {r.GetProperty("memory_saving").GetDouble()}");
        Assert.True(r.GetProperty("proxy_evaluations").GetInt32() > 0);

        var validate = Cli.CliRun.Run(TimeSpan.FromSeconds(300), "validate", dir.File("out/quantized.onnx"), "--reference", model, "--data", dir.Path, "--threads", "2", "--quiet", "--json");
        Assert.True(validate.ExitCode == 0, validate.ToString());
        using var v = JsonDocument.Parse(validate.Stdout);
        Assert.Equal(v.RootElement.GetProperty("ort_accuracy").GetDouble(), v.RootElement.GetProperty("sim_accuracy").GetDouble());
        Assert.True(v.RootElement.GetProperty("argmax_agreement").GetDouble() >= 0.995, validate.Stdout);
    }

    private static float[] RunOrt(InferenceSession session, float[] input, int batch)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, [batch, 3, 32, 32]);
        // Kept alive past Run: Run passes only its native handle, and a finalized RunOptions crashed ORT inside Run.
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [session.InputMetadata.Keys.First()], [value], [session.OutputMetadata.Keys.First()]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static int ArgMax(float[] row) => Array.IndexOf(row, row.Max());

    private static string ModelPath(string name) => Path.Combine(Folder, name, "model.onnx");

    private static JsonDocument Card(string name) => JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, name, "card.json")));

    private static float[][] ReadCsv(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0)
            .Select(l => l.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
}
