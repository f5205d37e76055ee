using System.Text.Json;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;

namespace AQ4SViT.Onnx.Tests.Cli;

/// <summary><c>aq4svit bench</c>: both engines on the same images, and the drift proxy timed as the search pays it.</summary>
[Collection("Console")]
public sealed class BenchCommandTests
{
    private static readonly string s_model = RepoPaths.Model("tests/spikformer-d64");

    [Fact]
    public void Bench_TimesBothEnginesAndOneProxyPerBlockGroup()
    {
        var result = CliRun.Run(TimeSpan.FromSeconds(120), "bench", s_model, "--threads", "1", "--images", "20", "--batch", "10", "--calib", "8", "--json", "--quiet");
        Assert.True(result.ExitCode == 0, result.ToString());
        var json = JsonDocument.Parse(result.Stdout).RootElement;

        Assert.True(json.GetProperty("sim_images_per_second").GetDouble() > 0);
        Assert.True(json.GetProperty("ort_images_per_second").GetDouble() > 0);
        Assert.Equal(1.0, json.GetProperty("argmax_agreement").GetDouble());

        var file = OnnxModelFile.Load(s_model);
        int blockGroups = WeightCatalog.Groups(WeightCatalog.Find(file), Granularity.Block).Count;
        Assert.Equal(blockGroups, json.GetProperty("proxy_candidates").GetInt32());
        Assert.Equal(8, json.GetProperty("proxy_calibration_images").GetInt32());
        double mean = json.GetProperty("proxy_seconds_mean").GetDouble();
        Assert.InRange(mean, 1e-6, json.GetProperty("proxy_seconds_max").GetDouble());

        // The share is the mean proxy over a full evaluation of the search split at the simulator's measured speed.
        double fullSplit = json.GetProperty("search_split_images").GetInt32() / json.GetProperty("sim_images_per_second").GetDouble();
        Assert.Equal(mean / fullSplit, json.GetProperty("proxy_share_of_full_search_split").GetDouble(), 9);
    }

    [Fact]
    public void Bench_CalibZero_SkipsTheProxy_NegativeIsBadInput()
    {
        var skipped = CliRun.Run(TimeSpan.FromSeconds(120), "bench", s_model, "--threads", "1", "--images", "10", "--batch", "10", "--calib", "0", "--json", "--quiet");
        Assert.True(skipped.ExitCode == 0, skipped.ToString());
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(skipped.Stdout).RootElement.GetProperty("proxy_seconds_mean").ValueKind);

        CliRun.AssertBadInput(CliRun.Run("bench", s_model, "--calib", "-1"), "--calib");
    }
}
