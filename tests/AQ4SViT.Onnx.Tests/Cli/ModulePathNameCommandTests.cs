using System.Text.Json;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;

namespace AQ4SViT.Onnx.Tests.Cli;

/// <summary>
/// Issue 21, point 2: the commands name weights by module path; <c>inspect --json</c> keeps the initializer name as a second
/// field, and a setting.json written for the TorchScript export applies to the dynamo export.
/// </summary>
[Collection("Console")]
public sealed class ModulePathNameCommandTests
{
    [Theory]
    [InlineData("tests/spikformer-d64")]
    [InlineData("tests/spikformer-d64-dynamo")]
    public void InspectJson_NameIsModulePath_InitializerSecondField(string model)
    {
        var r = CliRun.Run("inspect", RepoPaths.Model(model), "--json");

        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(r.Stdout);
        var weights = json.RootElement.GetProperty("weights").EnumerateArray().ToList();
        var catalog = WeightCatalog.Find(OnnxModelFile.Load(RepoPaths.Model(model)));
        Assert.Equal(catalog.Select(w => w.DisplayName), weights.Select(w => w.GetProperty("name").GetString()));
        Assert.Equal(catalog.Select(w => w.Name), weights.Select(w => w.GetProperty("initializer").GetString()));
        Assert.Equal("head", weights[^1].GetProperty("name").GetString());
        Assert.Contains(weights, w => w.GetProperty("name").GetString() == "blocks.0.mlp.fc2.linear");
    }

    [Fact]
    public void Inspect_Table_ShowsModulePathAndInitializer()
    {
        var r = CliRun.Run("inspect", RepoPaths.Model("tests/spikformer-d64"));

        Assert.True(r.ExitCode == 0, r.ToString());
        string row = r.Stdout.Split('\n').Single(l => l.Contains("blocks.0.mlp.fc2.linear", StringComparison.Ordinal));
        Assert.Contains("onnx::MatMul_", row, StringComparison.Ordinal);
    }

    [Fact]
    public void Search_Layer_EveryOutputNamesGroupsByModulePath_SettingAppliesToDynamo()
    {
        using var dir = new TempDir();
        string outDir = dir.File("out");
        var catalog = WeightCatalog.Find(OnnxModelFile.Load(RepoPaths.Model("tests/spikformer-d64")));
        string[] names = [.. catalog.Select(w => w.DisplayName)];

        var r = CliRun.Run(TimeSpan.FromSeconds(300), "search", RepoPaths.Model("tests/spikformer-d64"), "--data", RepoPaths.FashionMnist, "--out", outDir,
            "--search-limit", "100", "--test-limit", "100", "--calib", "8", "--granularity", "layer", "--bits", "2,4,8", "--threads", "1",
            "--max-evaluations", "3", "--pin", "blocks.0.mlp.fc2=8", "--json");

        Assert.True(r.ExitCode == 0, r.ToString());
        using var report = JsonDocument.Parse(r.Stdout);
        Assert.Equal(names, report.RootElement.GetProperty("bits").EnumerateObject().Select(p => p.Name));
        Assert.Equal(8, report.RootElement.GetProperty("bits").GetProperty("blocks.0.mlp.fc2.linear").GetInt32());
        Assert.Equal(names, Setting.Load(Path.Combine(outDir, "setting.json")).Bits.Keys);
        foreach (string line in File.ReadLines(Path.Combine(outDir, "search.log.jsonl")))
        {
            using var logLine = JsonDocument.Parse(line);
            Assert.Equal(names, logLine.RootElement.GetProperty("bits").EnumerateObject().Select(p => p.Name));
        }

        string md = File.ReadAllText(Path.Combine(outDir, "report.md"));
        Assert.Contains("- blocks.0.mlp.fc2.linear: 8 bits (--pin blocks.0.mlp.fc2)", md, StringComparison.Ordinal);
        Assert.DoesNotContain("onnx::", md, StringComparison.Ordinal);
        var apply = CliRun.Run("apply", RepoPaths.Model("tests/spikformer-d64-dynamo"), "--setting", Path.Combine(outDir, "setting.json"), "--out", dir.File("q.onnx"));
        Assert.True(apply.ExitCode == 0, apply.ToString());
    }

    [Fact]
    public void Apply_SettingWrittenForTorchScript_OnDynamoExport_Succeeds()
    {
        using var dir = new TempDir();
        var ts = WeightCatalog.Find(OnnxModelFile.Load(RepoPaths.Model("tests/spikformer-d64")));
        var bits = WeightCatalog.Groups(ts, Granularity.Layer).Select((g, i) => (g.Name, Bits: i % 2 == 0 ? 4 : 8)).ToDictionary(p => p.Name, p => p.Bits);
        Setting.Create(ts, Granularity.Layer, bits).Save(dir.File("setting.json"));

        var r = CliRun.Run("apply", RepoPaths.Model("tests/spikformer-d64-dynamo"), "--setting", dir.File("setting.json"), "--out", dir.File("q.onnx"));

        Assert.True(r.ExitCode == 0, r.ToString());
        var embedded = AQ4SViT.Onnx.Emit.ModelEmitter.EmbeddedSetting(OnnxModelFile.Load(dir.File("q.onnx")));
        Assert.Equal(bits, embedded!.Bits);
    }
}
