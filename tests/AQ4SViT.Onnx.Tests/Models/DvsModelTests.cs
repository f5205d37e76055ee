using System.Globalization;
using System.Text.Json;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Simulate;
using AQ4SViT.Onnx.Tests.Cli;
using AQ4SViT.Onnx.Tests.Data;
using AQ4SViT.Onnx.Validate;
using Microsoft.ML.OnnxRuntime;

namespace AQ4SViT.Onnx.Tests.Models;

/// <summary>
/// Models whose input carries time (<c>tools/make_dvs_fixture.py</c>: a conv + LIF + linear head on event frames, one
/// export with input <c>[T, B, 2, 32, 32]</c> and one with <c>[B, T, 2, 32, 32]</c>, TorchScript exporter): the LIF
/// layer is recognised with T = 4, the time axis is found, the simulator computes what ONNX Runtime and PyTorch compute,
/// and eval, search and validate run from the frame folder and the .npy pair.
/// </summary>
[Collection("Console")]
public sealed class DvsModelTests
{
    private const int T = 4;

    public static TheoryData<string> Exports => new() { "dvs-tb", "dvs-bt" };

    private static string ModelPath(string name) => Path.Combine(RepoPaths.Models, "tests", name, "model.onnx");

    private static string FramesFolder => Path.Combine(FrameSourceTests.DvsData, "frames");

    private static string FramesNpy => Path.Combine(FrameSourceTests.DvsData, "frames.npy");

    [Theory]
    [MemberData(nameof(Exports))]
    public void Load_DvsExport_RecognisesLifAndTimeAxis(string name)
    {
        var graph = GraphLoader.Load(ModelPath(name));

        var lif = Assert.Single(graph.LifLayers);
        Assert.Equal((T, 2f, 1f, 0f), (lif.TimeSteps, lif.Tau, lif.VThreshold, lif.VReset));
        Assert.Equal(T, graph.TimeSteps);
        Assert.True(graph.InputAxes.IsFrames);
        Assert.Equal(name == "dvs-tb" ? new InputAxes(1, 0) : new InputAxes(0, 1), graph.InputAxes);
        Assert.Null(graph.FixedBatch);
        Assert.Equal([T, 2, 32, 32], new Simulator(graph, 1).ImageDims);
    }

    [Theory]
    [MemberData(nameof(Exports))]
    public void Inspect_DvsExport_SaysWhichAxisIsTimeAndFramesEncoding(string name)
    {
        var r = CliRun.Run("inspect", ModelPath(name), "--json");
        var text = CliRun.Run("inspect", ModelPath(name));

        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(r.Stdout);
        var input = json.RootElement.GetProperty("input");
        Assert.Equal(name == "dvs-tb" ? 0 : 1, input.GetProperty("time_axis").GetInt32());
        Assert.Equal(name == "dvs-tb" ? 1 : 0, input.GetProperty("batch_axis").GetInt32());
        Assert.Equal(name == "dvs-tb" ? "TBCHW" : "BTCHW", input.GetProperty("layout").GetString());
        Assert.Equal("frames", input.GetProperty("encoding").GetString());
        Assert.Equal(T, json.RootElement.GetProperty("time_steps").GetInt32());
        Assert.Contains($"axis {(name == "dvs-tb" ? 0 : 1)} is time (T = 4)", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("encoding: frames", text.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_ImageModel_SaysRepeatedImage()
    {
        var r = CliRun.Run("inspect", Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx"), "--json");

        using var json = JsonDocument.Parse(r.Stdout);
        var input = json.RootElement.GetProperty("input");
        Assert.Equal("repeated image", input.GetProperty("encoding").GetString());
        Assert.Equal(JsonValueKind.Null, input.GetProperty("time_axis").ValueKind);
    }

    [Theory]
    [MemberData(nameof(Exports))]
    public void Run_DvsExport_EqualsOrtAndPyTorch(string name)
    {
        var (frames, _, _) = FrameSourceTests.Numpy();
        const int n = 8;
        int per = T * 2 * 32 * 32;
        float[] samples = frames.AsSpan(0, n * per).ToArray().Select(b => (float)b).ToArray(); // [B, T, 2, 32, 32]
        float[][] torch = File.ReadAllLines(Path.Combine(RepoPaths.Models, "tests", name, "reference-logits.csv")).Where(l => l.Length > 0)
            .Select(l => l.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        var sim = Simulator.Load(ModelPath(name), threads: 2);
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, IntraOpNumThreads = 2 };
        using var ort = new InferenceSession(ModelPath(name), options);

        float[] actual = sim.Run(samples, n);
        float[] expected = RunOrt(ort, samples, n, timeFirst: name == "dvs-tb");

        Assert.Equal(n * 4, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float t = torch[i / 4][i % 4];
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5f * Math.Max(1f, Math.Abs(expected[i])), $"{name}: sample {i / 4} class {i % 4}: simulator {actual[i]}, ONNX Runtime {expected[i]}");
            Assert.True(Math.Abs(actual[i] - t) <= 1e-5f * Math.Max(1f, Math.Abs(t)), $"{name}: sample {i / 4} class {i % 4}: simulator {actual[i]}, PyTorch {t}");
        }
    }

    [Theory]
    [MemberData(nameof(Exports))]
    public void Classifiers_OnFrameSet_SimEqualsOrt_InChunksOfAnySize(string name)
    {
        var set = DataLoader.LoadUnsplit(FramesNpy, DataOptions.Default).Slice(0, 24);
        var scaling = InputScaling.FromCard("none");
        using var ort = new OrtClassifier(ModelPath(name), scaling, threads: 2);
        using var sim = new SimClassifier(ModelPath(name), scaling, threads: 2);
        var a = new float[24 * 4];
        var b = new float[24 * 4];

        ort.Logits(set, 0, 24, a);
        sim.Logits(set, 0, 10, b);
        sim.Logits(set, 10, 14, b.AsSpan(40));

        Simulate.Oracle.AssertClose(a, b, 1e-5f, name);
    }

    [Theory]
    [InlineData("dvs-tb", "frames")]
    [InlineData("dvs-bt", "frames")]
    [InlineData("dvs-tb", "npy")]
    [InlineData("dvs-bt", "npy")]
    public void Eval_DvsExport_FromFrameFolderAndNpyPair_BothEngines_PyTorchsAccuracy(string name, string source)
    {
        string data = source == "frames" ? FramesFolder : FramesNpy;
        using var card = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Models, "tests", name, "card.json")));
        double torch = card.RootElement.GetProperty("top1_torch").GetDouble();

        foreach (string engine in new[] { "sim", "ort" })
        {
            var r = CliRun.Run(TimeSpan.FromSeconds(120), "eval", ModelPath(name), "--data", data, "--split", "all", "--engine", engine, "--threads", "2", "--json", "--quiet");

            Assert.True(r.ExitCode == 0, r.ToString());
            using var json = JsonDocument.Parse(r.Stdout);
            Assert.Equal(200, json.RootElement.GetProperty("images").GetInt32());
            Assert.Equal(torch, json.RootElement.GetProperty("accuracy").GetDouble(), 6);
        }
    }

    [Theory]
    [InlineData("dvs-tb", "frames")]
    [InlineData("dvs-bt", "npy")]
    public void Search_DvsExport_ShortSearchThenValidate_EndToEnd(string name, string source)
    {
        using var dir = new TempDir();
        string data = source == "frames" ? FramesFolder : FramesNpy;

        var search = CliRun.Run(TimeSpan.FromSeconds(300), "search", ModelPath(name), "--data", data, "--out", dir.File("out"),
            "--granularity", "block", "--bits", "2,4,8", "--calib", "8", "--search-limit", "100", "--test-limit", "100", "--threads", "2", "--quiet", "--json");

        Assert.True(search.ExitCode == 0, search.ToString());
        using var report = JsonDocument.Parse(search.Stdout);
        var r = report.RootElement;
        Assert.True(r.GetProperty("fp_accuracy_test").GetDouble() > 0.6, search.Stdout);
        Assert.True(r.GetProperty("memory_saving").GetDouble() >= 0.5, search.Stdout);
        Assert.True(r.GetProperty("proxy_evaluations").GetInt32() > 0, search.Stdout);
        Assert.True(File.Exists(dir.File("out/quantized.onnx")));

        var validate = CliRun.Run(TimeSpan.FromSeconds(120), "validate", dir.File("out/quantized.onnx"), "--reference", ModelPath(name), "--data", data, "--threads", "2", "--quiet", "--json");

        Assert.True(validate.ExitCode == 0, validate.ToString());
        using var v = JsonDocument.Parse(validate.Stdout);
        Assert.Equal(v.RootElement.GetProperty("ort_accuracy").GetDouble(), v.RootElement.GetProperty("sim_accuracy").GetDouble());
        Assert.Equal(1.0, v.RootElement.GetProperty("argmax_agreement").GetDouble());
    }

    [Theory]
    [InlineData(new[] { -1, -1, 2, 32, 32 }, 4, "symbolic time axis")]
    [InlineData(new[] { 4, -1, 2, -1, 32 }, 4, "must be fixed except the batch")]
    public void InputAxes_UndecidableOrSymbolicTime_IsRefusedNamingTheInput(int[] dims, int steps, string message)
    {
        var e = Assert.Throws<Core.BadInputException>(() => InputAxes.Of(dims, steps, "frames", "m.onnx"));

        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Contains("frames", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { 4, 8, 2, 32, 32 }, 4, 1, 0)]
    [InlineData(new[] { 8, 4, 2, 32, 32 }, 4, 0, 1)]
    [InlineData(new[] { 4, -1, 2, 32, 32 }, 0, 1, 0)]
    [InlineData(new[] { -1, 4, 2, 32, 32 }, 0, 0, 1)]
    public void InputAxes_TimeIsTheFixedAxisOrTheOneEqualToT(int[] dims, int steps, int batch, int time)
    {
        Assert.Equal(new InputAxes(batch, time), InputAxes.Of(dims, steps, "frames", "m.onnx"));
    }

    [Theory]
    [InlineData(new[] { 4, 4, 2, 32, 32 }, 4)]
    [InlineData(new[] { 4, 8, 2, 32, 32 }, 0)]
    [InlineData(new[] { -1, 3, 28, 28 }, 4)]
    public void InputAxes_NoTimeAxisToTell_IsBatchFirstWithoutTime(int[] dims, int steps)
    {
        Assert.Equal(InputAxes.Images, InputAxes.Of(dims, steps, "x", "m.onnx"));
    }

    private static float[] RunOrt(InferenceSession session, float[] batchFirst, int n, bool timeFirst)
    {
        int per = 2 * 32 * 32;
        float[] input = batchFirst;
        long[] shape = [n, T, 2, 32, 32];
        if (timeFirst)
        {
            input = new float[batchFirst.Length];
            for (int b = 0; b < n; b++)
            {
                for (int t = 0; t < T; t++)
                {
                    Array.Copy(batchFirst, ((b * T) + t) * per, input, ((t * n) + b) * per, per);
                }
            }

            shape = [T, n, 2, 32, 32];
        }

        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        // Kept alive past Run: Run passes only its native handle, and a finalized RunOptions crashed ORT inside Run.
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [session.InputMetadata.Keys.First()], [value], [session.OutputMetadata.Keys.First()]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
