using System.Text.Json;

namespace AQ4SViT.Onnx.Tests.Cli;

/// <summary>
/// <c>search --proxy-engine ort</c> on ONNX Runtime's CPU provider chooses what the simulator's proxies choose, and
/// <c>--device cuda:0,cuda:0 --jobs 2</c> on the CPU build says once how to get the GPU build, then gives the serial run.
/// </summary>
[Collection("Console")]
public sealed class ProxyEngineCommandTests
{
    private static readonly string s_model = RepoPaths.Model("tests/spikformer-d64");

    private static readonly string[] s_common = ["search", s_model, "--data", RepoPaths.FashionMnist, "--strategy", "greedy", "--bits", "2,4,8",
        "--granularity", "block", "--calib", "8", "--search-limit", "60", "--test-limit", "40", "--max-drop", "3", "--threads", "1", "--json"];

    private static CliResult Cli(params string[] args) => CliRun.Run(TimeSpan.FromMinutes(5), args);

    [Fact]
    public void Search_OrtProxiesOnCpu_SameSettingAndDecisionsAsSimulator()
    {
        using var dir = new TempDir();

        var sim = Cli([.. s_common, "--out", dir.File("sim")]);
        var ort = Cli([.. s_common, "--out", dir.File("ort"), "--proxy-engine", "ort"]);

        Assert.Equal(0, sim.ExitCode);
        Assert.Equal(0, ort.ExitCode);
        Assert.Equal(sim.Stderr, ort.Stderr); // the same warnings (a small search split), nothing about the engine
        Assert.Equal(File.ReadAllText(dir.File("sim/setting.json")), File.ReadAllText(dir.File("ort/setting.json")));
        using var a = JsonDocument.Parse(sim.Stdout);
        using var b = JsonDocument.Parse(ort.Stdout);
        foreach (string key in new[] { "q_accuracy_search", "q_accuracy_test", "memory_saving", "full_evaluations", "proxy_evaluations", "gated_out" })
        {
            Assert.Equal(a.RootElement.GetProperty(key).GetRawText(), b.RootElement.GetProperty(key).GetRawText());
        }

        Assert.Equal("sim", a.RootElement.GetProperty("proxy_engine").GetString());
        Assert.Equal("ort:cpu", b.RootElement.GetProperty("proxy_engine").GetString());
        Assert.Equal("sim", b.RootElement.GetProperty("full_evaluation_engine").GetString());
        Assert.Contains("drift proxies in ONNX Runtime on cpu", File.ReadAllText(dir.File("ort/report.md")));
    }

    [Fact]
    public void Search_TwoDevicesOnCpuBuild_OneGpuBuildLineThenTheSerialResult()
    {
        using var dir = new TempDir();

        var serial = Cli([.. s_common, "--out", dir.File("serial")]);
        var twice = Cli([.. s_common, "--out", dir.File("twice"), "--device", "cuda:0,cuda:0", "--jobs", "2"]);

        Assert.Equal(0, twice.ExitCode);
        var line = Assert.Single(twice.ErrorLines);
        Assert.Matches("^aq4svit: cuda:0 is not available \\(this aq4svit is built on ONNX Runtime's CPU package; for CUDA install the tool AQ4SViT.Cli.Gpu or build with -p:OrtGpu=true\\); running on the CPU$", line);
        Assert.Equal(File.ReadAllText(dir.File("serial/setting.json")), File.ReadAllText(dir.File("twice/setting.json")));
        Assert.Equal(File.ReadAllLines(dir.File("serial/search.log.jsonl")), File.ReadAllLines(dir.File("twice/search.log.jsonl")));
        using var b = JsonDocument.Parse(twice.Stdout);
        Assert.Equal("sim", b.RootElement.GetProperty("proxy_engine").GetString());
        Assert.Equal("sim", b.RootElement.GetProperty("full_evaluation_engine").GetString());
    }
}
