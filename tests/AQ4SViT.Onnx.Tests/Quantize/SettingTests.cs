using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Quantize;

namespace AQ4SViT.Onnx.Tests.Quantize;

public sealed class SettingTests
{
    private static readonly QuantizableWeight[] s_weights =
    [
        new("onnx::Conv_1", [4, 1, 3, 3], 36, "Conv", "/sps/convs.0/convs.0.0/Conv", 0, "sps.convs.0"),
        new("onnx::MatMul_2", [8, 8], 64, "MatMul", "/blocks.0/attn/q/linear/MatMul", 1, "blocks.0.attn"),
        new("onnx::MatMul_3", [8, 8], 64, "MatMul", "/blocks.0/attn/k/linear/MatMul", 1, "blocks.0.attn"),
        new("onnx::MatMul_4", [8, 10], 80, "MatMul", "/head/MatMul", 1, "head"),
    ];

    [Fact]
    public void SaveLoad_RoundTrips_BitsOptionsAndGroupOrder()
    {
        using var dir = new TempDir();
        var setting = Setting.Create(s_weights, Granularity.Block, new Dictionary<string, int> { ["head"] = 8, ["sps.convs.0"] = 4, ["blocks.0.attn"] = 2 }, new QuantizationOptions(true, false));

        setting.Save(dir.File("setting.json"));
        var loaded = Setting.Load(dir.File("setting.json"), s_weights);

        Assert.Equal(Granularity.Block, loaded.Granularity);
        Assert.Equal(new QuantizationOptions(true, false), loaded.Options);
        Assert.Equal(2, loaded.BitsOfWeight("onnx::MatMul_3"));
        Assert.Equal(4, loaded.BitsOfWeight("onnx::Conv_1"));
        Assert.Equal(8, loaded.BitsOfWeight("onnx::MatMul_4"));
        Assert.Equal(32, loaded.BitsOfWeight("not-a-weight"));
        string text = File.ReadAllText(dir.File("setting.json"));
        Assert.True(text.IndexOf("sps.convs.0", StringComparison.Ordinal) < text.IndexOf("head", StringComparison.Ordinal), "groups in model order");
        Assert.Equal(text, loaded.ToJson());
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void Load_GroupsNotNamed_AreFp32()
    {
        var setting = Setting.Parse("""{ "granularity": "layer", "bits": { "onnx::MatMul_2": 3 } }""", "s.json").Bind(s_weights, "s.json");

        Assert.Equal(3, setting.BitsOfWeight("onnx::MatMul_2"));
        Assert.Equal(32, setting.BitsOfWeight("onnx::MatMul_3"));
        Assert.True(setting.Options.PerChannel && setting.Options.Symmetric);
    }

    [Fact]
    public void Bind_LayerGroups_ByModulePath_OrByInitializerNameAsOldFilesHave()
    {
        QuantizableWeight[] named = [.. WeightCatalog.DisplayNames([.. s_weights.Select(w => w with { Module = WeightCatalog.ModulePathOfNode(new Import.Proto.NodeProto { Name = w.NodeName }) })])];

        var current = Setting.Parse("""{ "granularity": "layer", "bits": { "blocks.0.attn.q.linear": 3, "head": 8 } }""", "new.json").Bind(named, "new.json");
        var old = Setting.Parse("""{ "granularity": "layer", "bits": { "onnx::MatMul_2": 3, "onnx::MatMul_4": 8 } }""", "old.json").Bind(named, "old.json");

        Assert.Equal(new[] { "sps.convs.0.0", "blocks.0.attn.q.linear", "blocks.0.attn.k.linear", "head" }, named.Select(w => w.DisplayName));
        Assert.Equal(current.ToJson(), old.ToJson());
        Assert.Equal(3, old.BitsOfWeight("onnx::MatMul_2"));
        Assert.Equal(8, old.BitsOfWeight("onnx::MatMul_4"));
        Assert.Equal(32, old.BitsOfWeight("onnx::MatMul_3"));
        Assert.Throws<InvalidOperationException>(() => Setting.Parse("""{ "granularity": "layer", "bits": { "head": 8 } }""", "s.json").BitsOfWeight("onnx::MatMul_4"));
    }

    [Fact]
    public void With_ChangesOneGroup_LeavesOriginal()
    {
        var setting = Setting.Uniform(s_weights, Granularity.Network, 8);

        var lower = setting.With("network", 4);

        Assert.Equal(8, setting.BitsOfWeight("onnx::Conv_1"));
        Assert.Equal(4, lower.BitsOfWeight("onnx::Conv_1"));
    }

    [Theory]
    [InlineData("""{ "granularity": "layer", "bits": { "onnx::Conv_1": 9 } }""", "'onnx::Conv_1'", "bits 9")]
    [InlineData("""{ "granularity": "layer", "bits": { "onnx::Conv_1": 1 } }""", "'onnx::Conv_1'", "not allowed")]
    [InlineData("""{ "granularity": "layer", "bits": { "onnx::Conv_1": "four" } }""", "'onnx::Conv_1'", "integer")]
    [InlineData("""{ "granularity": "block", "bits": { "blocks.7.mlp": 4 } }""", "'blocks.7.mlp'", "unknown group")]
    [InlineData("""{ "granularity": "layer", "bits": { "head": 4 } }""", "'head'", "unknown group")]
    [InlineData("""{ "granularity": "tensor", "bits": {} }""", "granularity", "network")]
    [InlineData("""{ "granularity": "layer" }""", "bits", "object")]
    [InlineData("""{ "granularity": "layer", "per_channel": "yes", "bits": {} }""", "per_channel", "true or false")]
    [InlineData("""{ "granularity": "layer", "bits": { "onnx::Conv_1": 4 """, "not valid JSON", "")]
    [InlineData("""[4, 4]""", "JSON object", "")]
    public void Load_BadFile_BadInputNamingFileAndCulprit(string json, string culprit, string problem)
    {
        using var dir = new TempDir();
        string path = dir.File("bad-setting.json");
        File.WriteAllText(path, json);

        var e = Assert.Throws<BadInputException>(() => Setting.Load(path, s_weights));

        Assert.Contains(path, e.Message);
        Assert.Contains(culprit, e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void Load_MissingFile_NamesFile()
    {
        var e = Assert.Throws<BadInputException>(() => Setting.Load("/nonexistent/setting.json"));
        Assert.Contains("/nonexistent/setting.json", e.Message);
    }
}
