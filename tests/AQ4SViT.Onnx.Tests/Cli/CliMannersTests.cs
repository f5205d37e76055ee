using System.Text.Json;

namespace AQ4SViT.Onnx.Tests.Cli;

/// <summary>
/// Issue 21, point 8: help and version on stdout with exit 0 (so <c>aq4svit --help | less</c> works), a mistyped option as
/// one line with the closest option, usage examples with only the options that matter, and a folder given as MODEL.
/// </summary>
[Collection("Console")]
public sealed class CliMannersTests
{
    private static string SmallModelFolder => Path.Combine(RepoPaths.Models, "tests", "spikformer-d64");

    [Theory]
    [InlineData("--help")]
    [InlineData("search", "--help")]
    [InlineData("eval", "--help")]
    [InlineData("help", "search")]
    public void Help_PrintsToStdout_ExitZero(params string[] args)
    {
        var r = CliRun.Run(args);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
        Assert.Contains("help", r.Stdout, StringComparison.Ordinal);
        Assert.Contains(args.Length == 1 ? "search" : "--json", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Version_PrintsToStdout_ExitZero()
    {
        var r = CliRun.Run("--version");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
        Assert.Matches(@"^aq4svit \d+\.\d+", r.Stdout);
    }

    [Fact]
    public void UnknownVerb_IsUsageErrorOnStderr_ExitTwo()
    {
        var r = CliRun.Run("serch", "--out", "x");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);
        Assert.Contains("serch", r.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("eval", "--limt", "--limit")]
    [InlineData("search", "--max-dorp", "--max-drop")]
    [InlineData("search", "--serch-limit", "--search-limit")]
    [InlineData("bench", "--thread", "--threads")]
    public void MistypedOption_OneLineNamingTheClosestOption_ExitTwo(string verb, string typed, string meant)
    {
        var r = CliRun.Run(verb, Path.Combine(SmallModelFolder, "model.onnx"), typed, "3");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);
        Assert.Equal($"aq4svit: error: unknown option '{typed}'; did you mean '{meant}'?", Assert.Single(r.ErrorLines));
    }

    [Fact]
    public void UnknownOption_FarFromEveryOption_OneLinePointingToHelp_ExitTwo()
    {
        var r = CliRun.Run("eval", Path.Combine(SmallModelFolder, "model.onnx"), "--no-such-option");

        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.ErrorLines);
        Assert.Equal("aq4svit: error: unknown option '--no-such-option'; see 'aq4svit eval --help' for its options", line);
    }

    [Theory]
    [InlineData("search")]
    [InlineData("eval")]
    [InlineData("validate")]
    [InlineData("bench")]
    [InlineData("apply")]
    public void UsageExamples_ShowOnlyTheOptionsThatMatter(string verb)
    {
        var r = CliRun.Run(verb, "--help");

        Assert.Equal(0, r.ExitCode);
        string usage = r.Stdout[r.Stdout.IndexOf("USAGE:", StringComparison.Ordinal)..];
        usage = usage[..usage.IndexOf("\n\n", StringComparison.Ordinal)];
        Assert.Contains($"aq4svit {verb}", usage, StringComparison.Ordinal);
        foreach (string spelledDefault in new[] { "--batch 100", "--cifar-labels fine", "--device cpu", "--jobs 1", "--seed 1", "--format qdq", "--guard 1" })
        {
            Assert.DoesNotContain(spelledDefault, usage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void FolderAsModel_ResolvesToItsModelOnnx()
    {
        using var dir = new TempDir();
        string data = Robustness.TinyDataset.FashionMnist(dir.File("data"), 4);

        var inspect = CliRun.Run("inspect", SmallModelFolder, "--json");
        var eval = CliRun.Run("eval", SmallModelFolder, "--data", data, "--threads", "1", "--json");

        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        Assert.True(eval.ExitCode == 0, eval.ToString());
        using var json = JsonDocument.Parse(inspect.Stdout);
        Assert.Equal(Path.Combine(SmallModelFolder, "model.onnx"), json.RootElement.GetProperty("model").GetString());
        using var evalJson = JsonDocument.Parse(eval.Stdout);
        Assert.Equal(4, evalJson.RootElement.GetProperty("images").GetInt32());
    }

    [Theory]
    [InlineData("inspect")]
    [InlineData("eval")]
    [InlineData("search")]
    [InlineData("bench")]
    public void FolderWithoutModelOnnx_RefusedInOneLineNamingTheFolder(string verb)
    {
        using var dir = new TempDir();
        string folder = dir.File("no-model");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "card.json"), "{}");

        var r = verb == "search"
            ? CliRun.Run(verb, folder, "--out", dir.File("out"), "--quiet")
            : CliRun.Run(verb, folder);

        string line = CliRun.AssertBadInput(r, folder, "model.onnx");
        Assert.Contains("folder", line, StringComparison.Ordinal);
    }
}
