using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Validate;

namespace AQ4SViT.Onnx.Tests.Quantize;

/// <summary>
/// Groups and weights are named by module path, alike in the TorchScript and dynamo exports of one model, so a setting.json
/// found on one export applies to the other.
/// </summary>
public sealed class ExportPairNameTests
{
    /// <summary>Every TorchScript/dynamo pair in models/: the bundled pair, the d64 test models and the upstream fixtures.</summary>
    public static TheoryData<string, string> Pairs()
    {
        var pairs = new TheoryData<string, string>
        {
            { "spikformer-fmnist", "spikformer-fmnist-dynamo" },
            { "tests/spikformer-d64", "tests/spikformer-d64-dynamo" },
            { "tests/sdt-d64", "tests/sdt-d64-dynamo" },
        };
        string upstream = Path.Combine(RepoPaths.Models, "tests", "upstream");
        foreach (string ts in Directory.GetDirectories(upstream, "*-ts").Select(Path.GetFileName).Order(StringComparer.Ordinal)!)
        {
            string dynamo = ts[..^"-ts".Length] + "-dynamo";
            if (File.Exists(Path.Combine(upstream, dynamo, "model.onnx")))
            {
                pairs.Add($"tests/upstream/{ts}", $"tests/upstream/{dynamo}");
            }
        }

        return pairs;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Groups_TorchScriptAndDynamoExport_SameNamesAtLayerAndBlock(string torchScript, string dynamo)
    {
        var ts = WeightCatalog.Find(OnnxModelFile.Load(RepoPaths.Model(torchScript)));
        var dy = WeightCatalog.Find(OnnxModelFile.Load(RepoPaths.Model(dynamo)));

        foreach (var granularity in new[] { Granularity.Layer, Granularity.Block })
        {
            var tsGroups = WeightCatalog.Groups(ts, granularity);
            var dyGroups = WeightCatalog.Groups(dy, granularity);
            Assert.Equal(tsGroups.Select(g => g.Name), dyGroups.Select(g => g.Name));
            Assert.Equal(tsGroups.Select(g => g.Params), dyGroups.Select(g => g.Params));
        }

        // Named by module path: no exporter ids, and none needed a #2 to be unique.
        Assert.All(ts, w => Assert.Equal(w.Module, w.DisplayName));
        Assert.DoesNotContain(ts, w => w.DisplayName.Contains("::", StringComparison.Ordinal) || w.DisplayName.Contains('#', StringComparison.Ordinal));
    }

    [Fact]
    public void Groups_Spikformer_LayerNamesAreModulePaths()
    {
        var weights = WeightCatalog.Find(OnnxModelFile.Load(RepoPaths.Model("spikformer-fmnist")));

        var layer = WeightCatalog.Groups(weights, Granularity.Layer);

        Assert.Equal("sps.convs.0.0", layer[0].Name);
        Assert.Equal(["onnx::Conv_2263"], layer[0].Weights);                 // members stay initializer names
        var fc2 = layer.Single(g => g.Name == "blocks.0.mlp.fc2.linear");
        Assert.Equal(["onnx::MatMul_2286"], fc2.Weights);
        Assert.Equal("head", layer[^1].Name);
    }

    [Theory]
    [InlineData(Granularity.Layer)]
    [InlineData(Granularity.Block)]
    public void Setting_WrittenOnTorchScript_AppliesToDynamo_SameBitsAndPredictions(Granularity granularity)
    {
        using var dir = new TempDir();
        string tsPath = RepoPaths.Model("spikformer-fmnist");
        string dyPath = RepoPaths.Model("spikformer-fmnist-dynamo");
        var tsWeights = WeightCatalog.Find(OnnxModelFile.Load(tsPath));
        var dyWeights = WeightCatalog.Find(OnnxModelFile.Load(dyPath));
        int[] levels = [8, 4, 6, 3, 5, 2, 7, 16];
        var bits = WeightCatalog.Groups(tsWeights, granularity).Select((g, i) => (g.Name, Bits: levels[i % levels.Length])).ToDictionary(p => p.Name, p => p.Bits);
        Setting.Create(tsWeights, granularity, bits).Save(dir.File("setting.json"));

        var onTs = Setting.Load(dir.File("setting.json"), tsWeights);
        var onDynamo = Setting.Load(dir.File("setting.json"), dyWeights);

        Assert.Equal(tsWeights.Select(w => w.DisplayName), dyWeights.Select(w => w.DisplayName));
        Assert.Equal(tsWeights.Select(w => onTs.BitsOfWeight(w.Name)), dyWeights.Select(w => onDynamo.BitsOfWeight(w.Name)));
        Assert.Contains(dyWeights, w => onDynamo.BitsOfWeight(w.Name) == 2);
        var set = SharedData.FashionMnist.Slice(0, 24);
        using var simTs = QuantizedSimulator.Create(tsPath, onTs, InputScaling.PixelOver255, 2);
        using var simDynamo = QuantizedSimulator.Create(dyPath, onDynamo, InputScaling.PixelOver255, 2);
        using var ortDynamo = new OrtClassifier(FakeQuantEmitter.Write(OnnxModelFile.Load(dyPath), onDynamo, dir.File("fq-dynamo.onnx")).Path, InputScaling.PixelOver255, threads: 2);
        var ts = Accuracy.Evaluate(simTs, set, 8);
        var sims = LogitComparison.Compare(ts, Accuracy.Evaluate(simDynamo, set, 8));
        var ort = LogitComparison.Compare(ts, Accuracy.Evaluate(ortDynamo, set, 8));
        Assert.Equal(1.0, sims.ArgmaxAgreement);
        Assert.Equal(1.0, ort.ArgmaxAgreement);
        Assert.True(sims.MaxAbsLogitDiff < 1e-3, $"simulators: max |logit diff| {sims.MaxAbsLogitDiff}");
        Assert.True(ort.MaxAbsLogitDiff < 1e-3, $"ONNX Runtime: max |logit diff| {ort.MaxAbsLogitDiff}");
    }

    [Fact]
    public void Setting_OldStyleInitializerNames_LoadsAndSavesByModulePath()
    {
        var weights = WeightCatalog.Find(OnnxModelFile.Load(RepoPaths.Model("spikformer-fmnist")));
        string old = """{ "granularity": "layer", "bits": { "onnx::Conv_2263": 8, "onnx::MatMul_2286": 3, "head": 6 } }""";

        var setting = Setting.Parse(old, "old.json").Bind(weights, "old.json");

        Assert.Equal(8, setting.BitsOfWeight("onnx::Conv_2263"));
        Assert.Equal(3, setting.BitsOfWeight("onnx::MatMul_2286"));
        Assert.Equal(6, setting.BitsOfWeight("onnx::MatMul_2296"));
        Assert.Equal(32, setting.BitsOfWeight("onnx::MatMul_2285"));
        Assert.Equal(new[] { "blocks.0.mlp.fc2.linear", "head", "sps.convs.0.0" }, setting.Bits.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("\"blocks.0.mlp.fc2.linear\": 3", setting.ToJson(), StringComparison.Ordinal);
        Assert.DoesNotContain("onnx::", setting.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Setting_SameGroupByBothNames_BadInput()
    {
        var weights = WeightCatalog.Find(OnnxModelFile.Load(RepoPaths.Model("spikformer-fmnist")));
        string json = """{ "granularity": "layer", "bits": { "blocks.0.mlp.fc2.linear": 4, "onnx::MatMul_2286": 3 } }""";

        var e = Assert.Throws<Core.BadInputException>(() => Setting.Parse(json, "both.json").Bind(weights, "both.json"));

        Assert.Contains("'blocks.0.mlp.fc2.linear' given twice", e.Message, StringComparison.Ordinal);
        Assert.Contains("onnx::MatMul_2286", e.Message, StringComparison.Ordinal);
    }
}
