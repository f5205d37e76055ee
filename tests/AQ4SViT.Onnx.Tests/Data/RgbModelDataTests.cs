using System.Text.Json;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Tests.Cli;
using static AQ4SViT.Onnx.Tests.Data.DataFixtures;

namespace AQ4SViT.Onnx.Tests.Data;

/// <summary>
/// An RGB 32×32 SViT built from the upstream Spikformer code (models/tests/upstream, trained on Fashion-MNIST padded to
/// 32×32 RGB) fed the same images from a CIFAR-10 batch, a PNG folder of class sub-folders and a NumPy pair: <c>eval</c>
/// gives the same accuracy from each, and a short <c>search</c> runs from the PNG folder and from the NumPy pair.
/// </summary>
[Collection("Console")]
public sealed class RgbModelDataTests
{
    private const int N = 200;

    private static readonly Lazy<ImageSet> s_images = new(() => PadTo32(Rgb(First(N))));

    private static string Model => Path.Combine(RepoPaths.Models, "tests", "upstream", "spikformer-sj012-dynamo", "model.onnx");

    private static (int Images, double Accuracy) EvalAll(string data)
    {
        var r = CliRun.Run(TimeSpan.FromSeconds(300), "eval", Model, "--data", data, "--split", "all", "--threads", "2", "--json", "--quiet");
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(r.Stdout);
        return (json.RootElement.GetProperty("images").GetInt32(), json.RootElement.GetProperty("accuracy").GetDouble());
    }

    private static void WriteNpyPair(string folder)
    {
        var set = s_images.Value;
        File.WriteAllBytes(Path.Combine(folder, "x.npy"), Npy("|u1", [N, 32, 32, 3], Nhwc(set)));
        File.WriteAllBytes(Path.Combine(folder, "y.npy"), Npy("<i8", [N], Int64Labels(set.Labels)));
    }

    [Fact]
    public void Eval_RgbUpstreamModel_PngFolderAndNpy_SameAccuracyAsCifarBatch()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("cifar"));
        WriteCifar(dir.File("cifar/test_batch.bin"), s_images.Value);
        WritePngFolder(dir.File("png"), s_images.Value);
        Directory.CreateDirectory(dir.File("npy"));
        WriteNpyPair(dir.File("npy"));

        var cifar = EvalAll(dir.File("cifar"));

        Assert.Equal(N, cifar.Images);
        Assert.InRange(cifar.Accuracy, 0.7, 1.0); // the model's 89% on the test set; a broken pipeline gives ~10%
        Assert.Equal(cifar, EvalAll(dir.File("png")));
        Assert.Equal(cifar, EvalAll(dir.File("npy")));
    }

    [Theory]
    [InlineData("png")]
    [InlineData("npy")]
    public void Search_RgbUpstreamModel_FromPngFolderOrNpy_RunsAndReportsItsSplit(string format)
    {
        using var dir = new TempDir();
        string data = dir.File(format);
        Directory.CreateDirectory(data);
        if (format == "png")
        {
            WritePngFolder(data, s_images.Value);
        }
        else
        {
            WriteNpyPair(data);
        }

        var r = CliRun.Run(TimeSpan.FromSeconds(600), "search", Model, "--data", data, "--out", dir.File("out"),
            "--granularity", "block", "--bits", "2,4,8", "--calib", "16", "--threads", "2", "--quiet", "--json");

        Assert.True(r.ExitCode == 0, r.ToString());
        using var report = JsonDocument.Parse(r.Stdout);
        var root = report.RootElement;
        Assert.Equal("stratified", root.GetProperty("split_method").GetString());
        Assert.Equal(N / 2, root.GetProperty("split_search_images").GetInt32());
        Assert.True(root.GetProperty("fp_accuracy_test").GetDouble() > 0.6, r.Stdout);
        Assert.True(root.GetProperty("full_evaluations").GetInt32() > 0);
        Assert.True(File.Exists(dir.File("out/quantized.onnx")));
    }
}
