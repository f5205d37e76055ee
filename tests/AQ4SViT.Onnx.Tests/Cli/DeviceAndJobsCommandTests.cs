using System.Text.Json;

namespace AQ4SViT.Onnx.Tests.Cli;

/// <summary>
/// <c>--device cuda</c> without CUDA (this machine): one line on stderr, then the CPU's results. <c>--jobs 2</c>: the same
/// search as <c>--jobs 1</c>, file for file.
/// </summary>
[Collection("Console")]
public sealed class DeviceAndJobsCommandTests
{
    private static readonly string s_model = RepoPaths.Model("tests/spikformer-d64");

    /// <summary>Runs the CLI in-process (<see cref="CliRun"/>); searches get a longer limit than the default minute.</summary>
    private static CliResult Cli(params string[] args) => CliRun.Run(TimeSpan.FromMinutes(5), args);

    [Fact]
    public void Eval_OrtOnCuda_OneLineFallbackAndCpuAccuracy()
    {
        var cpu = Cli("eval", s_model, "--engine", "ort", "--data", RepoPaths.FashionMnist, "--limit", "40", "--threads", "1", "--json");
        var cuda = Cli("eval", s_model, "--engine", "ort", "--device", "cuda", "--data", RepoPaths.FashionMnist, "--limit", "40", "--threads", "1", "--json");

        Assert.Equal(0, cpu.ExitCode);
        Assert.Equal(0, cuda.ExitCode);
        Assert.Empty(cpu.Stderr);
        var line = Assert.Single(cuda.ErrorLines);
        Assert.Matches("^aq4svit: cuda:0 is not available \\(.+\\); running on the CPU$", line);
        using var a = JsonDocument.Parse(cpu.Stdout);
        using var b = JsonDocument.Parse(cuda.Stdout);
        Assert.Equal("cpu", b.RootElement.GetProperty("device").GetString());
        Assert.Equal(a.RootElement.GetProperty("accuracy").GetDouble(), b.RootElement.GetProperty("accuracy").GetDouble());
        Assert.Equal(40, b.RootElement.GetProperty("images").GetInt32());
    }

    [Fact]
    public void Validate_OnCuda_OneLineFallbackForBothSessionsAndCpuNumbers()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("setting.json"), """{ "granularity": "network", "bits": { "network": 4 } }""");
        Assert.Equal(0, Cli("apply", s_model, "--setting", dir.File("setting.json"), "--out", dir.File("q.onnx")).ExitCode);

        string[] common = ["validate", dir.File("q.onnx"), "--reference", s_model, "--data", RepoPaths.FashionMnist, "--limit", "30", "--threads", "1", "--json"];
        var cpu = Cli(common);
        var cuda = Cli([.. common, "--device", "cuda:0"]);

        Assert.Equal(0, cuda.ExitCode);
        Assert.Matches("running on the CPU$", Assert.Single(cuda.ErrorLines));
        using var a = JsonDocument.Parse(cpu.Stdout);
        using var b = JsonDocument.Parse(cuda.Stdout);
        Assert.Equal("cpu", b.RootElement.GetProperty("device").GetString());
        foreach (string key in new[] { "ort_accuracy", "fp_ort_accuracy", "sim_accuracy", "argmax_agreement", "max_abs_logit_diff" })
        {
            Assert.Equal(a.RootElement.GetProperty(key).GetDouble(), b.RootElement.GetProperty(key).GetDouble());
        }
    }

    [Fact]
    public void Search_JobsTwoOnCuda_SameFilesAsSerialCpuRun()
    {
        using var dir = new TempDir();
        string[] common = ["search", s_model, "--data", RepoPaths.FashionMnist, "--strategy", "beam", "--beam-width", "2", "--bits", "2,4,8",
            "--granularity", "block", "--calib", "8", "--search-limit", "60", "--test-limit", "40", "--max-drop", "3", "--threads", "1", "--json"];

        var serial = Cli([.. common, "--out", dir.File("serial")]);
        var parallel = Cli([.. common, "--out", dir.File("parallel"), "--jobs", "2", "--device", "cuda"]);

        Assert.Equal(0, serial.ExitCode);
        Assert.Equal(0, parallel.ExitCode);
        Assert.Matches("^aq4svit: cuda:0 is not available \\(.+\\); running on the CPU$", Assert.Single(parallel.ErrorLines));
        Assert.Equal(File.ReadAllText(dir.File("serial/setting.json")), File.ReadAllText(dir.File("parallel/setting.json")));
        Assert.Equal(File.ReadAllLines(dir.File("serial/search.log.jsonl")), File.ReadAllLines(dir.File("parallel/search.log.jsonl")));
        using var a = JsonDocument.Parse(serial.Stdout);
        using var b = JsonDocument.Parse(parallel.Stdout);
        foreach (string key in new[] { "q_accuracy_search", "q_accuracy_test", "fp_accuracy_test", "memory_saving", "full_evaluations", "proxy_evaluations", "gated_out" })
        {
            Assert.Equal(a.RootElement.GetProperty(key).GetRawText(), b.RootElement.GetProperty(key).GetRawText());
        }

        Assert.Equal(2, b.RootElement.GetProperty("jobs").GetInt32());
        Assert.Equal("sim", b.RootElement.GetProperty("full_evaluation_engine").GetString());
        Assert.True(a.RootElement.GetProperty("full_evaluations").GetInt32() > 2, "the search evaluated too little to compare");
    }

    [Theory]
    [InlineData("eval", "--device", "gpu")]
    [InlineData("validate", "--device", "tpu:0")]
    [InlineData("search", "--jobs", "0")]
    [InlineData("search", "--device", "cuda:x")]
    public void BadDeviceOrJobs_ExitThreeWithOneLineNamingOption(string verb, string option, string value)
    {
        using var dir = new TempDir();
        string[] args = verb == "search"
            ? [verb, s_model, option, value, "--data", RepoPaths.FashionMnist, "--search-limit", "5", "--out", dir.File("o")]
            : [verb, s_model, option, value, "--data", RepoPaths.FashionMnist, "--limit", "5"];

        var result = Cli(args);

        Assert.Equal(3, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains(option, line);
        Assert.Contains(value, line);
    }
}
