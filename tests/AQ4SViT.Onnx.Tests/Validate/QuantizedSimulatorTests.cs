using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Simulate;
using AQ4SViT.Onnx.Validate;

namespace AQ4SViT.Onnx.Tests.Validate;

/// <summary><c>validate --reference</c>'s simulator quantizes the weights in place (one copy of the weights); it must compute what overrides and the emitted file compute.</summary>
public sealed class QuantizedSimulatorTests
{
    [Theory]
    [InlineData("tests/spikformer-d64", 3)]
    [InlineData("tests/sdt-d64-dynamo", 4)]
    public void Create_InPlaceWeights_EqualOverridesAndOrtOnFakeQuantFile(string name, int bits)
    {
        using var dir = new TempDir();
        string path = RepoPaths.Model(name);
        var model = OnnxModelFile.Load(path);
        var setting = Setting.Uniform(WeightCatalog.Find(model), Granularity.Layer, bits);
        var set = SharedData.FashionMnist.Slice(100, 16);

        using var inPlace = QuantizedSimulator.Create(path, setting, InputScaling.PixelOver255, 1);
        using var overrides = new SimClassifier(Simulator.Load(path, 1), InputScaling.PixelOver255, WeightQuantizer.FakeQuantizeModel(model, setting));
        using var plain = new SimClassifier(Simulator.Load(path, 1), InputScaling.PixelOver255);
        using var ort = new OrtClassifier(FakeQuantEmitter.Write(model, setting, dir.File("fq.onnx")).Path, InputScaling.PixelOver255, threads: 1);

        var got = Accuracy.Evaluate(inPlace, set, 8);
        Assert.Equal(Accuracy.Evaluate(overrides, set, 8).Logits, got.Logits);
        Assert.NotEqual(Accuracy.Evaluate(plain, set, 8).Logits, got.Logits);
        var vsOrt = LogitComparison.Compare(Accuracy.Evaluate(ort, set, 8), got);
        Assert.Equal(1.0, vsOrt.ArgmaxAgreement);
        Assert.True(vsOrt.MaxAbsLogitDiff < 1e-3, $"max |diff| {vsOrt.MaxAbsLogitDiff}");
    }
}

/// <summary><c>apply</c> lets the emitter rewrite the model it read in place; the file must be the one a copy gives.</summary>
public sealed class ConsumeSourceTests
{
    [Theory]
    [InlineData("tests/spikformer-d64", EmitFormat.Qdq)]
    [InlineData("tests/spikformer-d64", EmitFormat.FakeQuant)]
    [InlineData("tests/sdt-d64-dynamo", EmitFormat.Qdq)]
    [InlineData("spikformer-fmnist", EmitFormat.FakeQuant)]
    public void Emit_ConsumeSource_WritesSameBytesAsFromACopy(string name, EmitFormat format)
    {
        using var dir = new TempDir();
        string path = RepoPaths.Model(name);
        var setting = Setting.Uniform(WeightCatalog.Find(OnnxModelFile.Load(path)), Granularity.Block, 4);

        var copied = ModelEmitter.Write(OnnxModelFile.Load(path), setting, dir.File("a/q.onnx"), format);
        var consumed = ModelEmitter.Write(OnnxModelFile.Load(path), setting, dir.File("b/q.onnx"), format, EmitOptions.Default with { ConsumeSource = true });

        Assert.Equal(File.ReadAllBytes(copied.Path), File.ReadAllBytes(consumed.Path));
        Assert.Equal(copied.DataPath is null, consumed.DataPath is null);
        if (copied.DataPath is not null)
        {
            Assert.Equal(File.ReadAllBytes(copied.DataPath), File.ReadAllBytes(consumed.DataPath!));
        }
    }
}
