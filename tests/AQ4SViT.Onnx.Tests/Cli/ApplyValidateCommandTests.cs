using AQ4SViT.Cli;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;

namespace AQ4SViT.Onnx.Tests.Cli;

/// <summary>The apply and validate verbs end to end (exit codes and files; output goes to the console).</summary>
[Collection("Console")]
public sealed class ApplyValidateCommandTests
{
    [Fact]
    public void Apply_ThenValidate_Succeed()
    {
        using var dir = new TempDir();
        string model = Tests.Emit.TestModels.Fixture("spikformer-tiny.onnx");
        var weights = WeightCatalog.Find(OnnxModelFile.Load(model));
        Setting.Uniform(weights, Granularity.Block, 4).Save(dir.File("setting.json"));

        int apply = Program.Main(["apply", model, "--setting", dir.File("setting.json"), "--out", dir.File("q.onnx"), "--json"]);
        int fake = Program.Main(["apply", model, "--setting", dir.File("setting.json"), "--out", dir.File("fq.onnx"), "--format", "fakequant"]);
        int validate = Program.Main(["validate", dir.File("q.onnx"), "--reference", model, "--data", RepoPaths.FashionMnist, "--limit", "20", "--threads", "1", "--json"]);

        Assert.Equal(0, apply);
        Assert.Equal(0, fake);
        Assert.Equal(0, validate);
        Assert.Equal(21, OnnxModelFile.Load(dir.File("q.onnx")).DefaultOpset);
        Assert.Equal(17, OnnxModelFile.Load(dir.File("fq.onnx")).DefaultOpset);
    }

    [Fact]
    public void Validate_WithoutDataOrReference_UsesDatasetRecordedFromSourceCard()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("models/tiny"));
        Directory.CreateDirectory(dir.File("models/datasets"));
        Directory.CreateSymbolicLink(dir.File("models/datasets/fashion-mnist"), RepoPaths.FashionMnist);
        File.Copy(Tests.Emit.TestModels.Fixture("sdt-tiny.onnx"), dir.File("models/tiny/model.onnx"));
        File.WriteAllText(dir.File("models/tiny/card.json"), """{ "name": "tiny", "dataset": "fashion-mnist", "input": { "name": "input", "scaling": "pixel/255" } }""");
        File.WriteAllText(dir.File("setting.json"), """{ "granularity": "network", "bits": { "network": 8 } }""");

        int apply = Program.Main(["apply", dir.File("models/tiny/model.onnx"), "--setting", dir.File("setting.json"), "--out", dir.File("models/out/q.onnx")]);
        int validate = Program.Main(["validate", dir.File("models/out/q.onnx"), "--limit", "10", "--threads", "1"]);

        Assert.Equal(0, apply);
        Assert.Equal(0, validate);
        var card = AQ4SViT.Onnx.Emit.ModelEmitter.EmbeddedCard(OnnxModelFile.Load(dir.File("models/out/q.onnx")));
        Assert.Equal("fashion-mnist", card?.Dataset);
    }

    [Fact]
    public void Apply_BadSetting_ExitThree()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("setting.json"), """{ "granularity": "block", "bits": { "blocks.9.attn": 4 } }""");

        int code = Program.Main(["apply", Tests.Emit.TestModels.Fixture("sdt-tiny.onnx"), "--setting", dir.File("setting.json"), "--out", dir.File("q.onnx")]);

        Assert.Equal(3, code);
        Assert.False(File.Exists(dir.File("q.onnx")));
    }

    [Fact]
    public void Apply_UnknownFormat_ExitThree()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("setting.json"), """{ "granularity": "network", "bits": { "network": 4 } }""");

        Assert.Equal(3, Program.Main(["apply", Tests.Emit.TestModels.Fixture("sdt-tiny.onnx"), "--setting", dir.File("setting.json"), "--out", dir.File("q.onnx"), "--format", "int4"]));
    }
}
