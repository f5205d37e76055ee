using System.Text.Json;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Tests.Cli;
using Google.Protobuf;

namespace AQ4SViT.Onnx.Tests.Robustness;

/// <summary>Bad input through the command line: exit code 3 and one stderr line that names the culprit.</summary>
[Collection("Console")]
public sealed class InputCheckTests
{
    private static string SmallModel => Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx");

    /// <summary>A model whose LIF pattern is deliberately broken, so it has no LIF layer at all (8×8 input, 10 classes).</summary>
    private static string NoLifModel => Path.Combine(RepoPaths.Models, "tests", "lif-cases", "broken-torchscript.onnx");

    [Fact]
    public void Eval_MissingDataFolder_NamesFolder()
    {
        var r = CliRun.Run("eval", SmallModel, "--data", "/nonexistent/fmnist", "--limit", "2");

        CliRun.AssertBadInput(r, "/nonexistent/fmnist", "dataset folder not found");
    }

    [Fact]
    public void Eval_MissingLabelFile_NamesFile()
    {
        using var dir = new TempDir();
        TinyDataset.FashionMnist(dir.Path, 4);
        File.Delete(dir.File(IdxReader.TestLabelsName));

        var r = CliRun.Run("eval", SmallModel, "--data", dir.Path, "--limit", "2");

        CliRun.AssertBadInput(r, IdxReader.TestLabelsName, "not found");
    }

    [Fact]
    public void Eval_WrongMagic_NamesImageFile()
    {
        using var dir = new TempDir();
        TinyDataset.FashionMnist(dir.Path, 4);
        var bytes = File.ReadAllBytes(dir.File(IdxReader.TestImagesName));
        bytes[0] = 0x89; // a PNG, say
        File.WriteAllBytes(dir.File(IdxReader.TestImagesName), bytes);

        var r = CliRun.Run("eval", SmallModel, "--data", dir.Path, "--limit", "2");

        CliRun.AssertBadInput(r, IdxReader.TestImagesName, "not an IDX file");
    }

    [Fact]
    public void Eval_ImageAndLabelCountsDiffer_NamesBothCounts()
    {
        using var dir = new TempDir();
        TinyDataset.FashionMnist(dir.Path, 4);
        Data.IdxReaderTests.WriteIdx(dir.File(IdxReader.TestLabelsName), [3], [1, 2, 3], gzip: false);

        var r = CliRun.Run("eval", SmallModel, "--data", dir.Path);

        CliRun.AssertBadInput(r, IdxReader.TestImagesName, "4 images", "3 labels");
    }

    [Fact]
    public void Eval_NoImages_SaysSo()
    {
        using var dir = new TempDir();
        Data.IdxReaderTests.WriteIdx(dir.File(IdxReader.TestImagesName), [0, 28, 28], [], gzip: false);
        Data.IdxReaderTests.WriteIdx(dir.File(IdxReader.TestLabelsName), [0], [], gzip: false);

        var r = CliRun.Run("eval", SmallModel, "--data", dir.Path);

        CliRun.AssertBadInput(r, IdxReader.TestImagesName, "holds no images");
    }

    [Fact]
    public void Eval_GzipDeclaringMoreThanItCanHold_FailsBeforeAllocating()
    {
        using var dir = new TempDir();
        TinyDataset.FashionMnist(dir.Path, 4);
        // 60,000 images of 28×28 declared (47 MB) in a few dozen compressed bytes.
        Data.IdxReaderTests.WriteIdx(dir.File(IdxReader.TestImagesName + ".gz"), [60_000, 28, 28], new byte[16], gzip: true);
        File.Delete(dir.File(IdxReader.TestImagesName));

        var r = CliRun.Run("eval", SmallModel, "--data", dir.Path);

        CliRun.AssertBadInput(r, IdxReader.TestImagesName + ".gz", "compressed bytes can hold");
        Assert.True(r.AllocatedBytes < 40L << 20, $"allocated {r.AllocatedBytes:N0} bytes");
    }

    [Fact]
    public void Eval_ImageSizeNotTheModels_NamesBothSizes()
    {
        using var dir = new TempDir();
        TinyDataset.Synthetic(dir.Path, 4, 32, 32);

        var r = CliRun.Run("eval", SmallModel, "--data", dir.Path, "--limit", "2");

        CliRun.AssertBadInput(r, dir.Path, "32x32", "'input'", "[1,28,28]");
    }

    [Fact]
    public void Search_ImageSizeNotTheModels_NamesBothSizesBeforeSearching()
    {
        using var dir = new TempDir();
        TinyDataset.Synthetic(dir.File("data"), 8, 32, 32);

        var r = CliRun.Run("search", SmallModel, "--data", dir.File("data"), "--out", dir.File("out"), "--calib", "2", "--search-limit", "2", "--test-limit", "2", "--quiet");

        CliRun.AssertBadInput(r, dir.File("data"), "32x32", "[1,28,28]");
        Assert.False(File.Exists(dir.File("out/state.json")));
    }

    [Fact]
    public void Search_DatasetTooSmallForTwoSplits_SaysSplitIsEmpty()
    {
        using var dir = new TempDir();
        TinyDataset.FashionMnist(dir.File("data"), 1);

        var r = CliRun.Run("search", SmallModel, "--data", dir.File("data"), "--out", dir.File("out"), "--quiet");

        CliRun.AssertBadInput(r, dir.File("data"), "search split of 1 images is empty");
    }

    [Theory]
    [InlineData("1,4", "'1'")]
    [InlineData("4,17", "'17'")]
    [InlineData("0", "'0'")]
    [InlineData("4,x", "'x'")]
    [InlineData(",", "at least one")]
    public void Search_BitsOutsideRange_NamesOptionAndValue(string bits, string culprit)
    {
        using var dir = new TempDir();

        var r = CliRun.Run("search", SmallModel, "--bits", bits, "--out", dir.File("out"));

        CliRun.AssertBadInput(r, "--bits", culprit);
        Assert.False(Directory.Exists(dir.File("out")), "nothing is written before the options are checked");
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("-0.01")]
    [InlineData("NaN")]
    public void Search_NegativeMaxDrop_NamesOption(string drop)
    {
        using var dir = new TempDir();

        var r = CliRun.Run("search", SmallModel, "--max-drop", drop, "--out", dir.File("out"));

        CliRun.AssertBadInput(r, "--max-drop", "non-negative");
    }

    [Fact]
    public void Search_OutUnderAFile_NamesOut()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("file"), "");
        string outDir = dir.File("file/out");

        var r = CliRun.Run("search", SmallModel, "--data", TinyDataset.FashionMnist(dir.File("data"), 4), "--out", outDir, "--quiet");

        CliRun.AssertBadInput(r, $"--out {outDir}", "not a writable folder");
    }

    [Fact]
    public void Apply_OutUnderAFileOrAFolder_NamesOut()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("file"), "");
        File.WriteAllText(dir.File("setting.json"), """{ "granularity": "network", "bits": { "network": 8 } }""");

        var underFile = CliRun.Run("apply", SmallModel, "--setting", dir.File("setting.json"), "--out", dir.File("file/q.onnx"));
        var folder = CliRun.Run("apply", SmallModel, "--setting", dir.File("setting.json"), "--out", dir.Path);

        CliRun.AssertBadInput(underFile, $"--out {dir.File("file/q.onnx")}", "not a writable folder");
        CliRun.AssertBadInput(folder, $"--out {dir.Path}", "is a folder");
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteWeight_EveryVerb_NamesTensorAndElement(float bad)
    {
        using var dir = new TempDir();
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(SmallModel));
        var weight = model.Graph.Initializer.First(t => t.Dims.Count == 4 && t.RawData.Length > 40);
        var raw = weight.RawData.ToByteArray();
        BitConverter.TryWriteBytes(raw.AsSpan(4 * 7), bad);
        weight.RawData = ByteString.CopyFrom(raw);
        File.WriteAllBytes(dir.File("model.onnx"), model.ToByteArray());
        File.WriteAllText(dir.File("setting.json"), """{ "granularity": "network", "bits": { "network": 8 } }""");
        string data = TinyDataset.FashionMnist(dir.File("data"), 4);

        var inspect = CliRun.Run("inspect", dir.File("model.onnx"));
        var eval = CliRun.Run("eval", dir.File("model.onnx"), "--data", data);
        var apply = CliRun.Run("apply", dir.File("model.onnx"), "--setting", dir.File("setting.json"), "--out", dir.File("q.onnx"));
        var search = CliRun.Run("search", dir.File("model.onnx"), "--data", data, "--out", dir.File("out"), "--quiet");

        string expected = $"tensor '{weight.Name}'";
        foreach (var r in new[] { inspect, eval, search })
        {
            CliRun.AssertBadInput(r, expected, $"element 7 is {bad}");
        }

        CliRun.AssertBadInput(apply, weight.Name);
        Assert.False(File.Exists(dir.File("q.onnx")));
    }

    [Fact]
    public void Search_ModelWithoutLif_FallsBackToLogitDriftAndSaysSo()
    {
        using var dir = new TempDir();
        string data = TinyDataset.Synthetic(dir.File("data"), 40, 8, 8);

        var r = CliRun.Run("search", NoLifModel, "--data", data, "--out", dir.File("out"), "--calib", "8", "--bits", "2,4,8", "--granularity", "layer", "--threads", "1");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("membrane drift is unavailable", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("logit drift", r.Stderr, StringComparison.Ordinal);
        using var report = JsonDocument.Parse(File.ReadAllText(dir.File("out/report.json")));
        Assert.Equal("logit", report.RootElement.GetProperty("drift_kind").GetString());
        Assert.True(File.Exists(dir.File("out/quantized.onnx")));
    }

    [Fact]
    public void Inspect_ModelWithoutLif_RunsAndReportsNoLayers()
    {
        var r = CliRun.Run("inspect", NoLifModel, "--json");

        Assert.Equal(0, r.ExitCode);
        using var json = JsonDocument.Parse(r.Stdout);
        Assert.Equal(0, json.RootElement.GetProperty("lif_count").GetInt32());
        Assert.Equal(2, json.RootElement.GetProperty("weights").GetArrayLength());
    }

    [Fact]
    public void Eval_UnknownOp_NamesOpAndNode()
    {
        using var dir = new TempDir();
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(SmallModel));
        var node = model.Graph.Node.First(n => n.OpType == "Conv");
        node.OpType = "DeformConv";
        File.WriteAllBytes(dir.File("model.onnx"), model.ToByteArray());

        var r = CliRun.Run("eval", dir.File("model.onnx"), "--data", TinyDataset.FashionMnist(dir.File("data"), 2));

        CliRun.AssertBadInput(r, "unsupported op 'DeformConv'", $"node '{node.Name}'");
    }

    [Fact]
    public void Inspect_Cycle_NamesNode()
    {
        using var dir = new TempDir();
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(SmallModel));
        var g = model.Graph;
        // The first Conv reads the output of the last node: a loop through the whole network.
        var conv = g.Node.First(n => n.OpType == "Conv");
        conv.Input[0] = g.Node[^1].Output[0];
        File.WriteAllBytes(dir.File("model.onnx"), model.ToByteArray());

        var r = CliRun.Run("inspect", dir.File("model.onnx"));

        CliRun.AssertBadInput(r, "cycle", "node '");
    }

    [Fact]
    public void Inspect_NodeMissingARequiredInput_NamesNodeAndCount()
    {
        using var dir = new TempDir();
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(SmallModel));
        var gather = model.Graph.Node.First(n => n.OpType == "Gather");
        gather.Input.RemoveAt(1);
        File.WriteAllBytes(dir.File("model.onnx"), model.ToByteArray());

        var r = CliRun.Run("inspect", dir.File("model.onnx"));

        CliRun.AssertBadInput(r, $"node '{gather.Name}' (Gather)", "needs 2 inputs, has 1");
    }

    [Fact]
    public void Inspect_ConstantWithoutTensor_NamesNode()
    {
        using var dir = new TempDir();
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(SmallModel));
        var constant = model.Graph.Node.First(n => n.OpType == "Constant" && n.Attribute.Any(a => a.Name == "value"));
        constant.Attribute.First(a => a.Name == "value").T = null;
        File.WriteAllBytes(dir.File("model.onnx"), model.ToByteArray());

        var r = CliRun.Run("inspect", dir.File("model.onnx"));

        CliRun.AssertBadInput(r, $"node '{constant.Name}' (Constant)", "holds no tensor");
    }

    [Theory]
    [InlineData(99L)]
    [InlineData(0L)]
    public void Inspect_OpsetOutsideWhatWeKnow_NamesFileAndOpset(long opset)
    {
        using var dir = new TempDir();
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(SmallModel));
        model.OpsetImport.First(o => o.Domain is "" or "ai.onnx").Version = opset;
        File.WriteAllBytes(dir.File("model.onnx"), model.ToByteArray());

        var r = CliRun.Run("inspect", dir.File("model.onnx"));

        CliRun.AssertBadInput(r, dir.File("model.onnx"), opset == 0 ? "no opset import" : "opset 99");
    }

    [Fact]
    public void Eval_KernelCannotRunOnTheShapes_NamesNode()
    {
        using var dir = new TempDir();
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(SmallModel));
        // The head's weight loses a row: the MatMul's inner dimensions no longer agree.
        var head = model.Graph.Node.Last(n => n.OpType is "MatMul" or "Gemm");
        var weight = model.Graph.Initializer.First(t => head.Input.Contains(t.Name) && t.Dims.Count == 2);
        weight.Dims[0] -= 1;
        weight.RawData = Google.Protobuf.ByteString.CopyFrom(weight.RawData.Span[..(int)(weight.Dims[0] * weight.Dims[1] * 4)]);
        File.WriteAllBytes(dir.File("model.onnx"), model.ToByteArray());

        var r = CliRun.Run("eval", dir.File("model.onnx"), "--data", TinyDataset.FashionMnist(dir.File("data"), 2), "--threads", "1");

        CliRun.AssertBadInput(r, $"node '{head.Name}' ({head.OpType})");
    }

    [Fact]
    public void Inspect_TruncatedModel_NamesFile()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(SmallModel);
        File.WriteAllBytes(dir.File("model.onnx"), bytes[..(bytes.Length / 3)]);

        var r = CliRun.Run("inspect", dir.File("model.onnx"));

        CliRun.AssertBadInput(r, dir.File("model.onnx"), "truncated");
    }

    [Fact]
    public void Inspect_HugeDeclaredWeight_FailsBeforeAllocating()
    {
        using var dir = new TempDir();
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(SmallModel));
        var weight = model.Graph.Initializer.First(t => t.Dims.Count == 4);
        weight.Dims.Clear();
        weight.Dims.Add(1L << 30);
        weight.Dims.Add(4);
        File.WriteAllBytes(dir.File("model.onnx"), model.ToByteArray());

        var r = CliRun.Run("inspect", dir.File("model.onnx"));

        CliRun.AssertBadInput(r, $"tensor '{weight.Name}'", "declares 4294967296 elements");
        Assert.True(r.AllocatedBytes < 100L << 20, $"allocated {r.AllocatedBytes:N0} bytes for a {new FileInfo(SmallModel).Length:N0}-byte model");
    }

    [Fact]
    public void Inspect_ExternalDataCut_NamesTensorAndFile()
    {
        using var dir = new TempDir();
        string source = Path.Combine(RepoPaths.Models, "tests", "spikformer-d64-dynamo", "model.onnx");
        File.Copy(source, dir.File("model.onnx"));
        var data = File.ReadAllBytes(source + ".data");
        File.WriteAllBytes(dir.File("model.onnx.data"), data[..(data.Length / 2)]);

        var r = CliRun.Run("inspect", dir.File("model.onnx"));

        CliRun.AssertBadInput(r, "tensor '", dir.File("model.onnx.data"), "too short");
    }
}
