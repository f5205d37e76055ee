using System.Text.Json;

namespace AQ4SViT.Onnx.Tests.Cli;

/// <summary>
/// Issue 21 point 4 through the command: search.log.jsonl has a line per drift proxy and names the groups in <c>bits</c>;
/// the report counts the upper bounds; a search split too small for the budget is warned about before the search.
/// </summary>
[Collection("Console")]
public sealed class HonestOutputCommandTests
{
    private static string SmallModel => Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx");

    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(5);

    private static CliResult Search(string outDir, params string[] options) => CliRun.Run(s_timeout,
        ["search", SmallModel, "--data", RepoPaths.FashionMnist, "--out", outDir, "--calib", "8", "--threads", "2", "--json", .. options]);

    private static string[] Warnings(CliResult r) =>
        r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith("aq4svit: warning:", StringComparison.Ordinal)).ToArray();

    [Fact]
    public void Search_Log_HasAProxyLinePerDriftProxy_AndBitsByGroupName()
    {
        using var dir = new TempDir();

        var r = Search(dir.Path, "--search-limit", "100", "--test-limit", "100", "--granularity", "block", "--bits", "2,4,8");

        Assert.True(r.ExitCode == 0, r.ToString());
        using var report = JsonDocument.Parse(r.Stdout);
        var root = report.RootElement;
        var groups = root.GetProperty("bits").EnumerateObject().Select(p => p.Name).ToHashSet();
        var lines = File.ReadAllLines(Path.Combine(dir.Path, "search.log.jsonl"));
        var log = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var proxies = log.Where(e => e.GetProperty("record").GetString() == "proxy").ToList();

        Assert.True(proxies.Count > 0, "no drift proxy logged");
        Assert.Equal(root.GetProperty("proxy_evaluations").GetInt32(), proxies.Count);
        Assert.All(proxies, e =>
        {
            Assert.Contains(e.GetProperty("decision").GetString(), new[] { "admitted", "gated-out", "estimate-only" });
            Assert.Equal(JsonValueKind.Number, e.GetProperty("drift").ValueKind);
            Assert.Equal(JsonValueKind.Number, e.GetProperty("spike_mismatch").ValueKind);
            Assert.False(string.IsNullOrEmpty(e.GetProperty("phase").GetString()));
            Assert.False(string.IsNullOrEmpty(e.GetProperty("move").GetString()));
        });

        // Every line names the groups of the report, with their bits.
        Assert.All(log, e =>
        {
            var bits = e.GetProperty("bits");
            Assert.Equal(JsonValueKind.Object, bits.ValueKind);
            Assert.True(groups.SetEquals(bits.EnumerateObject().Select(p => p.Name)), bits.ToString());
            Assert.All(bits.EnumerateObject(), p => Assert.Contains(p.Value.GetInt32(), new[] { 2, 4, 8, 32 }));
        });

        // An admitted proxy's full evaluation comes next, on the same setting.
        for (int i = 0; i < log.Count; i++)
        {
            if (log[i].GetProperty("record").GetString() == "proxy" && log[i].GetProperty("decision").GetString() == "admitted")
            {
                Assert.Equal("evaluated", log[i + 1].GetProperty("decision").GetString());
                Assert.Equal(log[i].GetProperty("bits").ToString(), log[i + 1].GetProperty("bits").ToString());
            }
        }

        // The report says how many logged and plotted accuracies are upper bounds.
        int upper = log.Count(e => e.TryGetProperty("upper_bound", out var u) && u.ValueKind == JsonValueKind.True);
        Assert.Equal(upper, root.GetProperty("logged_upper_bounds").GetInt32());
        Assert.InRange(root.GetProperty("plotted_upper_bounds").GetInt32(), 0, root.GetProperty("plotted_settings").GetInt32());
        Assert.Contains("upper bound", File.ReadAllText(Path.Combine(dir.Path, "report.md")), StringComparison.Ordinal);
    }

    [Fact]
    public void Search_SmallSearchSplit_WarnsOnceBeforeSearching_AndReportsIt()
    {
        using var dir = new TempDir();

        var r = Search(dir.Path, "--search-limit", "50", "--test-limit", "50", "--granularity", "network", "--bits", "8");

        Assert.True(r.ExitCode == 0, r.ToString());
        var warning = Assert.Single(Warnings(r));
        Assert.StartsWith("aq4svit: warning: 50 search images are too few for --max-drop 1.5 with --guard 1", warning, StringComparison.Ordinal);
        Assert.Matches(@"--search-limit \d+ or more", warning);
        using var report = JsonDocument.Parse(r.Stdout);
        var root = report.RootElement;
        Assert.Equal(warning["aq4svit: warning: ".Length..], root.GetProperty("sample_warning").GetString());
        Assert.True(root.GetProperty("search_images_for_budget").GetInt32() > 50);
        Assert.True(root.GetProperty("expected_drop_standard_error").GetDouble() >= 1.5);
    }

    [Fact]
    public void Search_SmallSearchSplitQuiet_WarnsInTheReportOnly()
    {
        using var dir = new TempDir();

        var r = CliRun.Run(s_timeout, "search", SmallModel, "--data", RepoPaths.FashionMnist, "--out", dir.Path, "--calib", "8", "--threads", "2",
            "--search-limit", "50", "--test-limit", "50", "--granularity", "network", "--bits", "8", "--quiet");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr); // --quiet: only the result
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "report.json")));
        Assert.StartsWith("50 search images are too few", report.RootElement.GetProperty("sample_warning").GetString(), StringComparison.Ordinal);
        Assert.Contains("**Warning:** 50 search images are too few", File.ReadAllText(Path.Combine(dir.Path, "report.md")), StringComparison.Ordinal);
    }

    [Fact]
    public void Search_DefaultSearchSplit_GivesNoSampleWarning()
    {
        using var dir = new TempDir();

        // The default --search-limit (1,000 images); one network candidate keeps it short.
        var r = Search(dir.Path, "--test-limit", "50", "--granularity", "network", "--bits", "8");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Empty(Warnings(r));
        using var report = JsonDocument.Parse(r.Stdout);
        var root = report.RootElement;
        Assert.Equal(1000, root.GetProperty("search_images").GetInt32());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("sample_warning").ValueKind);
        Assert.True(root.GetProperty("expected_drop_standard_error").GetDouble() < 1.5);
    }
}
