using System.Text.Json;
using AQ4SViT.Onnx.Tests.Cli;

namespace AQ4SViT.Onnx.Tests.Robustness;

/// <summary>Help with examples, --json that prints only JSON, tables, progress lines with counts and ETA, --quiet.</summary>
[Collection("Console")]
public sealed class UsabilityTests
{
    private static string SmallModel => Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx");

    [Theory]
    [InlineData("inspect")]
    [InlineData("eval")]
    [InlineData("search")]
    [InlineData("apply")]
    [InlineData("validate")]
    [InlineData("bench")]
    public void Help_EachVerb_ShowsUsageWithAnExample(string verb)
    {
        var r = CliRun.Run(verb, "--help");

        // Help goes to stdout (issue 21: `aq4svit --help | less` showed nothing).
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("USAGE:", r.Stdout, StringComparison.Ordinal);
        Assert.Contains($"aq4svit {verb} ", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("--json", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownOption_IsUsageErrorExitTwo()
    {
        var r = CliRun.Run("eval", SmallModel, "--no-such-option");

        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no-such-option", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_InspectAndEval_PrintOnlyOneJsonObject()
    {
        using var dir = new TempDir();
        string data = TinyDataset.FashionMnist(dir.Path, 10);

        var inspect = CliRun.Run("inspect", SmallModel, "--json");
        var eval = CliRun.Run("eval", SmallModel, "--data", data, "--batch", "5", "--threads", "1", "--json");

        foreach (var r in new[] { inspect, eval })
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            using var json = JsonDocument.Parse(r.Stdout); // throws on anything but one JSON value
            Assert.Equal(JsonValueKind.Object, json.RootElement.ValueKind);
            Assert.Equal("", r.Stderr);
        }

        using var evalJson = JsonDocument.Parse(eval.Stdout);
        Assert.Equal(10, evalJson.RootElement.GetProperty("images").GetInt32());
    }

    [Fact]
    public void Inspect_Text_PrintsLifAndWeightTables()
    {
        var json = CliRun.Run("inspect", SmallModel, "--json");
        var text = CliRun.Run("inspect", SmallModel);

        Assert.Equal(0, text.ExitCode);
        using var doc = JsonDocument.Parse(json.Stdout);
        var lines = text.Stdout.Split('\n');
        foreach (var lif in doc.RootElement.GetProperty("lif").EnumerateArray())
        {
            Assert.Contains(lines, l => l.Contains(lif.GetProperty("name").GetString()!, StringComparison.Ordinal) && l.Count(c => c == '|' || c == '│') >= 7);
        }

        foreach (var w in doc.RootElement.GetProperty("weights").EnumerateArray())
        {
            Assert.Contains(lines, l => l.Contains(w.GetProperty("name").GetString()!, StringComparison.Ordinal) && l.Contains(w.GetProperty("group").GetString()!, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Eval_Progress_PlainLinesWithCountsAndEtaWhenRedirected_NothingWhenQuiet()
    {
        using var dir = new TempDir();
        string data = TinyDataset.FashionMnist(dir.Path, 20);

        var loud = CliRun.Run("eval", SmallModel, "--data", data, "--batch", "5", "--threads", "1");
        var quiet = CliRun.Run("eval", SmallModel, "--data", data, "--batch", "5", "--threads", "1", "--quiet");

        Assert.Equal(0, loud.ExitCode);
        Assert.Equal(0, quiet.ExitCode);
        Assert.Equal("", quiet.Stderr);
        Assert.Contains("top-1", quiet.Stdout, StringComparison.Ordinal);
        if (Console.IsErrorRedirected)
        {
            // Redirected (as under dotnet test and in CI): one plain line per batch here (each is a tenth or more).
            Assert.Equal(
                ["eval [sim]: 5/20 images (25 %)", "eval [sim]: 10/20 images (50 %)", "eval [sim]: 15/20 images (75 %)", "eval [sim]: 20/20 images (100 %)"],
                loud.ErrorLines.Select(l => l[..l.IndexOf(')', StringComparison.Ordinal)] + ")"));
            Assert.Contains("ETA", loud.ErrorLines[0], StringComparison.Ordinal);
            Assert.EndsWith("done", loud.ErrorLines[^1], StringComparison.Ordinal);
        }
        else
        {
            // A terminal: the live bar drew something.
            Assert.NotEqual("", loud.Stderr);
        }
    }

    [Fact]
    public void Search_Summary_HasGroupTable_AndQuietSearchPrintsNoProgress()
    {
        using var dir = new TempDir();
        string data = TinyDataset.Synthetic(dir.File("data"), 40, 8, 8);
        string model = Path.Combine(RepoPaths.Models, "tests", "lif-cases", "default-torchscript.onnx");

        var r = CliRun.Run("search", model, "--data", data, "--out", dir.File("out"), "--calib", "8", "--bits", "2,4,8", "--granularity", "layer", "--threads", "1", "--quiet");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
        using var report = JsonDocument.Parse(File.ReadAllText(dir.File("out/report.json")));
        foreach (var g in report.RootElement.GetProperty("bits").EnumerateObject())
        {
            string bits = g.Value.GetInt32() == 32 ? "fp32" : g.Value.GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.Contains(r.Stdout.Split('\n'), l => l.Contains(g.Name, StringComparison.Ordinal) && l.Contains($" {bits} ", StringComparison.Ordinal) && l.Contains('|'));
        }

        Assert.Contains(r.Stdout.Split('\n'), l => l.Contains("total", StringComparison.Ordinal) && l.Contains('|'));
    }
}
