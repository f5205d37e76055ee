using System.Text.Json;
using AQ4SViT.Onnx.Tests.Cli;
using static AQ4SViT.Onnx.Tests.Data.DataFixtures;

namespace AQ4SViT.Onnx.Tests.Data;

/// <summary>
/// <c>aq4svit eval</c> on the bundled Spikformer (1 channel, 28×28) fed the same Fashion-MNIST images from every
/// format gives the accuracy it gives from IDX; a search records its split in report.json.
/// </summary>
[Collection("Console")]
public sealed class EndToEndDataTests
{
    private const int N = 200;
    private static readonly Lazy<(int Images, double Accuracy)> s_fromIdx = new(() =>
    {
        using var dir = new TempDir();
        Robustness.TinyDataset.FashionMnist(dir.Path, N);
        return EvalAll("--data", dir.Path);
    });

    private static string Model => RepoPaths.Model("spikformer-fmnist");

    private static (int Images, double Accuracy) EvalAll(params string[] args)
    {
        var r = CliRun.Run(TimeSpan.FromSeconds(300), ["eval", Model, "--split", "all", "--threads", "2", "--json", "--quiet", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(r.Stdout);
        return (json.RootElement.GetProperty("images").GetInt32(), json.RootElement.GetProperty("accuracy").GetDouble());
    }

    [Fact]
    public void Eval_FromIdx_IsTheModelsKnownAccuracyOnTheseImages()
    {
        var (images, accuracy) = s_fromIdx.Value;

        Assert.Equal(N, images);
        Assert.InRange(accuracy, 0.85, 0.97); // the model's ~92% on the test set; a broken pipeline gives ~10%
    }

    [Fact]
    public void Eval_FromNpyPair_SameAccuracyAsIdx()
    {
        using var dir = new TempDir();
        var set = First(N);
        File.WriteAllBytes(dir.File("images.npy"), Npy("|u1", [N, 28, 28], set.Pixels));
        File.WriteAllBytes(dir.File("labels.npy"), Npy("<i8", [N], Int64Labels(set.Labels)));

        Assert.Equal(s_fromIdx.Value, EvalAll("--data", dir.Path));
    }

    [Fact]
    public void Eval_FromFloat32Npz_SameAccuracyAsIdx()
    {
        using var dir = new TempDir();
        var set = First(N);
        WriteNpz(dir.File("f.npz"), ("x", Npy("<f4", [N, 28, 28, 1], Float32Pixels(set.Pixels))), ("y", Npy("<i8", [N], Int64Labels(set.Labels))));

        Assert.Equal(s_fromIdx.Value, EvalAll("--data", dir.File("f.npz")));
    }

    [Fact]
    public void Eval_FromGreyPngFolder_SameAccuracyAsIdx()
    {
        using var dir = new TempDir();
        WritePngFolder(dir.Path, First(N));

        Assert.Equal(s_fromIdx.Value, EvalAll("--data", dir.Path));
    }

    [Fact]
    public void Eval_FromRgbCifarBatch_CroppedAndGrey_SameAccuracyAsIdx()
    {
        // CIFAR records are RGB 32×32: the grey images repeated over R, G, B and padded by 2; crop 28 and luma undo both exactly.
        using var dir = new TempDir();
        WriteCifar(dir.File("test_batch.bin"), PadTo32(Rgb(First(N))));

        Assert.Equal(s_fromIdx.Value, EvalAll("--data", dir.Path, "--crop", "28", "--rgb-to-grey"));
    }

    [Fact]
    public void Eval_FromRgbPngFolder_WithoutGrey_IsAChannelError()
    {
        using var dir = new TempDir();
        WritePngFolder(dir.Path, Rgb(First(20)));

        var r = CliRun.Run("eval", Model, "--data", dir.Path, "--quiet");

        CliRun.AssertBadInput(r, dir.Path, "3 channels", "takes 1", "--rgb-to-grey");
    }

    [Fact]
    public void Search_OnNpyWithSplitSeed_WritesSplitIntoReport()
    {
        using var dir = new TempDir();
        var set = First(N);
        File.WriteAllBytes(dir.File("x.npy"), Npy("|u1", [N, 28, 28], set.Pixels));
        File.WriteAllBytes(dir.File("y.npy"), Npy("<i8", [N], Int64Labels(set.Labels)));
        string small = Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx");

        var r = CliRun.Run(TimeSpan.FromSeconds(300), "search", small, "--data", dir.Path, "--split-seed", "9", "--out", dir.File("out"),
            "--granularity", "network", "--bits", "8", "--calib", "4", "--search-limit", "20", "--test-limit", "20", "--threads", "2", "--quiet");

        Assert.True(r.ExitCode == 0, r.ToString());
        using var report = JsonDocument.Parse(File.ReadAllText(dir.File("out/report.json")));
        var root = report.RootElement;
        Assert.Equal("stratified", root.GetProperty("split_method").GetString());
        Assert.Equal(9, root.GetProperty("split_seed").GetInt32());
        Assert.Equal(N / 2, root.GetProperty("split_search_images").GetInt32());
        Assert.Equal(N / 2, root.GetProperty("split_test_images").GetInt32());
    }

    [Fact]
    public void Search_WithCalibData_CalibratesOnThatSet()
    {
        using var dir = new TempDir();
        Robustness.TinyDataset.FashionMnist(dir.File("eval"), 40);
        var calib = DataFixtures.Fashion.Slice(9000, 3);
        Directory.CreateDirectory(dir.File("calib"));
        WriteNpz(dir.File("calib/c.npz"), ("images", Npy("|u1", [3, 28, 28], calib.Pixels)), ("labels", Npy("<i8", [3], Int64Labels(calib.Labels))));
        string small = Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx");

        var r = CliRun.Run(TimeSpan.FromSeconds(300), "search", small, "--data", dir.File("eval"), "--calib-data", dir.File("calib/c.npz"), "--out", dir.File("out"),
            "--granularity", "network", "--bits", "8", "--calib", "16", "--search-limit", "20", "--test-limit", "20", "--threads", "2", "--quiet");

        Assert.True(r.ExitCode == 0, r.ToString());
        using var report = JsonDocument.Parse(File.ReadAllText(dir.File("out/report.json")));
        var root = report.RootElement;
        // 16 asked for, but the calibration set has 3 (the search split's 20 would have given 16).
        Assert.Equal(3, root.GetProperty("calibration_images").GetInt32());
        Assert.Equal(dir.File("calib/c.npz"), root.GetProperty("calibration_data").GetString());
        Assert.Equal("first-half", root.GetProperty("split_method").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("split_seed").ValueKind);
    }
}
