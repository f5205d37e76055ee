using System.Text.Json;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Ort;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Runners;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Validate;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>A whole search on the bundled Spikformer, on small slices so it stays quick.</summary>
public sealed class SearchRunnerTests
{
    private static SearchJob SmallJob(string outDir, SearchStrategy strategy = SearchStrategy.Greedy) => new()
    {
        ModelPath = RepoPaths.Model("spikformer-fmnist"),
        Data = SharedData.FashionMnist,
        OutDirectory = outDir,
        Options = new SearchOptions
        {
            Strategy = strategy,
            Granularity = Granularity.Block,
            Bits = [2, 4, 8],
            CalibrationImages = 16,
            MaxDrop = 1.5,
        },
        SearchLimit = 200,
        TestLimit = 200,
        Threads = 2,
    };

    [Fact]
    public void Search_Greedy_WritesEveryOutputAndMeetsBudgetOnSearchSplit()
    {
        using var dir = new TempDir();

        var wall = System.Diagnostics.Stopwatch.StartNew();
        var report = SearchRunner.Run(SmallJob(dir.Path) with { ConfirmLimit = 200 }, CancellationToken.None);
        double wallSeconds = wall.Elapsed.TotalSeconds;

        foreach (string file in new[] { "quantized.onnx", "quantized.fakequant.onnx", "setting.json", "report.json", "report.md", "pareto.png", "search.log.jsonl", "state.json" })
        {
            Assert.True(File.Exists(dir.File(file)), file + " missing");
        }

        Assert.True(report.AccuracyDropSearch <= 1.5 + 1e-9, $"drop {report.AccuracyDropSearch}");
        Assert.True(report.MemorySaving > 0.75, $"saving {report.MemorySaving}");
        Assert.Equal(report.ProxyEvaluations > 0, report.DriftKind == "membrane");
        Assert.Equal(1.0 - ((double)report.QuantizedWeightBytes / report.Fp32WeightBytes), report.MemorySaving, 3);

        using var json = JsonDocument.Parse(File.ReadAllText(dir.File("report.json")));
        foreach (string key in new[] { "strategy", "beam_width", "max_drop", "fp_accuracy_search", "fp_accuracy_test", "q_accuracy_search", "q_accuracy_test", "accuracy_drop_test", "fp32_weight_bytes", "quantized_weight_bytes", "memory_saving", "onnx_file_bytes", "bits", "search_seconds", "full_evaluations", "proxy_evaluations", "gated_out", "proxy_spearman" })
        {
            Assert.True(json.RootElement.TryGetProperty(key, out _), "report.json lacks " + key);
        }

        var log = File.ReadAllLines(dir.File("search.log.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        // Candidate lines, then one line per drift proxy (issue 21: the log gained proxy lines and the "record" field).
        var candidates = log.Where(e => e.GetProperty("record").GetString() == "candidate").ToList();
        Assert.Equal(report.FullEvaluations - 1 + report.GatedOut + report.ConfirmAttempts, candidates.Count);
        Assert.Equal(report.ProxyEvaluations, log.Count(e => e.GetProperty("record").GetString() == "proxy"));

        // Confirmed on the 200 search-split images after the 200 searched: the last confirm line is the chosen setting.
        Assert.Equal(200, report.ConfirmImages);
        var confirms = log.Where(e => e.GetProperty("phase").GetString() == "confirm").ToList();
        Assert.Equal(report.ConfirmAttempts, confirms.Count);
        Assert.True(confirms.Count > 0, "the search chose the float model: nothing to confirm");
        Assert.Equal("confirmed", confirms[^1].GetProperty("decision").GetString());
        Assert.Equal(report.AccuracyDropConfirm, confirms[^1].GetProperty("drop").GetDouble());
        Assert.Equal(report.MemorySaving, confirms[^1].GetProperty("memory_saving").GetDouble(), 6);

        // The search's seconds include the confirmation once: never more than the whole run took.
        Assert.InRange(report.ConfirmSeconds, 1e-6, report.SearchSeconds);
        Assert.True(report.SearchSeconds <= wallSeconds, $"search {report.SearchSeconds} s, whole run {wallSeconds} s");
        var png = File.ReadAllBytes(dir.File("pareto.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }

    [Fact]
    public void Search_EmittedQdqModel_AgreesWithSimulatorInOnnxRuntime()
    {
        using var dir = new TempDir();
        var report = SearchRunner.Run(SmallJob(dir.Path), CancellationToken.None);
        Assert.Equal(4 * 200, report.ConfirmImages); // by default every strategy confirms on 4× as many held-out images as it searched
        var test = DataSplits.Select(SharedData.FashionMnist, DataSplit.Test, 200);

        // Exact dequantization: ORT's default fuses DequantizeLinear→MatMul into MatMulNBits with int8 activations.
        using var ort = OrtQdq.OpenExact(dir.File("quantized.onnx"), InputScaling.PixelOver255, threads: 2, ComputeDevice.Cpu);
        var ortResult = Accuracy.Evaluate(ort, test, 100);
        var setting = Setting.Load(dir.File("setting.json"));
        using var sim = QuantizedSimulator.Create(RepoPaths.Model("spikformer-fmnist"), setting, InputScaling.PixelOver255, 2);
        var simResult = Accuracy.Evaluate(sim, test, 100);

        Assert.Equal(report.QAccuracyTest, simResult.Accuracy, 6);
        int agree = Enumerable.Range(0, test.Count).Count(i =>
            TopOne.ArgMax(ortResult.Logits.AsSpan(i * 10, 10)) == TopOne.ArgMax(simResult.Logits.AsSpan(i * 10, 10)));
        Assert.True(agree >= test.Count - 1, $"ORT and simulator agree on {agree} of {test.Count}");
        Assert.Equal(21, OnnxModelFile.Load(dir.File("quantized.onnx")).DefaultOpset);
    }
}
