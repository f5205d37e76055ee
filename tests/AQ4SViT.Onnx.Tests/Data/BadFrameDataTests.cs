using AQ4SViT.Onnx.Tests.Cli;
using static AQ4SViT.Onnx.Tests.Data.DataFixtures;

namespace AQ4SViT.Onnx.Tests.Data;

/// <summary>Bad event frames through the command line: exit code 3 and one stderr line naming the file at fault.</summary>
[Collection("Console")]
public sealed class BadFrameDataTests
{
    private static string DvsModel => Path.Combine(RepoPaths.Models, "tests", "dvs-tb", "model.onnx");

    private static CliResult Eval(params string[] args) => CliRun.Run(["eval", DvsModel, "--quiet", .. args]);

    /// <summary>A frame folder of class sub-folders c0, c1 with <paramref name="perClass"/> samples of [4, 2, 32, 32] zeros each.</summary>
    private static void WriteFrameFolder(string root, int perClass)
    {
        for (int c = 0; c < 2; c++)
        {
            Directory.CreateDirectory(Path.Combine(root, $"c{c}"));
            for (int i = 0; i < perClass; i++)
            {
                WriteSample(Path.Combine(root, $"c{c}", $"s{i}.npz"), "frames", [4, 2, 32, 32]);
            }
        }
    }

    private static void WriteSample(string path, string key, int[] shape)
    {
        File.Delete(path);
        WriteNpz(path, (key, Npy("|u1", shape, new byte[shape.Aggregate(1, (a, d) => a * d)])));
    }

    [Fact]
    public void FrameFolder_GoodOne_Evaluates()
    {
        using var dir = new TempDir();
        WriteFrameFolder(dir.Path, 2);

        var r = Eval("--data", dir.Path, "--split", "all");

        Assert.True(r.ExitCode == 0, r.ToString());
    }

    [Fact]
    public void FrameFolder_SampleOfWrongRank_NamesTheFile()
    {
        using var dir = new TempDir();
        WriteFrameFolder(dir.Path, 2);
        string victim = Path.Combine(dir.Path, "c0", "s0.npz");
        WriteSample(victim, "frames", [4, 2, 32]);

        CliRun.AssertBadInput(Eval("--data", dir.Path), victim, "[T, 2, H, W]", "(4, 2, 32)");
    }

    [Fact]
    public void FrameFolder_SampleOfOtherSize_NamesTheFile()
    {
        using var dir = new TempDir();
        WriteFrameFolder(dir.Path, 2);
        string victim = Path.Combine(dir.Path, "c1", "s1.npz");
        WriteSample(victim, "frames", [4, 2, 16, 16]);

        CliRun.AssertBadInput(Eval("--data", dir.Path), victim, "(4, 2, 16, 16)", "one shape");
    }

    [Fact]
    public void FrameFolder_MismatchedT_NamesTheFileAndBothTs()
    {
        using var dir = new TempDir();
        WriteFrameFolder(dir.Path, 2);
        string victim = Path.Combine(dir.Path, "c1", "s0.npz");
        WriteSample(victim, "frames", [3, 2, 32, 32]);

        CliRun.AssertBadInput(Eval("--data", dir.Path), victim, "T = 3", "T = 4");
    }

    [Fact]
    public void FrameFolder_NpzWithoutFramesKey_NamesTheFile()
    {
        using var dir = new TempDir();
        WriteFrameFolder(dir.Path, 2);
        string victim = Path.Combine(dir.Path, "c0", "s1.npz");
        WriteSample(victim, "events", [4, 2, 32, 32]);

        CliRun.AssertBadInput(Eval("--data", dir.Path), victim, "'frames'");
    }

    [Fact]
    public void FrameFolder_EmptyClassFolder_NamesIt()
    {
        using var dir = new TempDir();
        WriteFrameFolder(dir.Path, 2);
        string empty = Path.Combine(dir.Path, "c2");
        Directory.CreateDirectory(empty);

        CliRun.AssertBadInput(Eval("--data", dir.Path, "--data-format", "frames"), empty, "no frame files");
    }

    [Fact]
    public void NpyPair_CountMismatch_NamesTheFramesFile()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("frames.npy"), Npy("|u1", [5, 4, 2, 32, 32], new byte[5 * 4 * 2 * 32 * 32]));
        File.WriteAllBytes(dir.File("labels.npy"), Npy("<i8", [4], Int64Labels([0, 1, 0, 1])));

        CliRun.AssertBadInput(Eval("--data", dir.File("frames.npy")), dir.File("frames.npy"), "5 samples", "4 labels");
    }

    [Fact]
    public void Npz_WithoutFrameOrLabelKeys_NamesTheFile()
    {
        using var dir = new TempDir();
        WriteNpz(dir.File("dvs.npz"), ("events", Npy("|u1", [2, 4, 2, 32, 32], new byte[2 * 4 * 2 * 32 * 32])));

        CliRun.AssertBadInput(Eval("--data", dir.File("dvs.npz")), dir.File("dvs.npz"), "'frames'");
    }

    [Fact]
    public void FramesOfOtherT_ThanTheModel_NamesBoth()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("frames.npy"), Npy("|u1", [2, 3, 2, 32, 32], new byte[2 * 3 * 2 * 32 * 32]));
        File.WriteAllBytes(dir.File("labels.npy"), Npy("<i8", [2], Int64Labels([0, 1])));

        CliRun.AssertBadInput(Eval("--data", dir.File("frames.npy")), dir.File("frames.npy"), "3x2x32x32", "[4,2,32,32]");
    }

    [Fact]
    public void ImagesToAFrameModel_AndFramesToAnImageModel_AreRefused()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("images.npy"), Npy("|u1", [2, 2, 32, 32], new byte[2 * 2 * 32 * 32]));
        File.WriteAllBytes(dir.File("labels.npy"), Npy("<i8", [2], Int64Labels([0, 1])));
        string imageModel = Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx");

        CliRun.AssertBadInput(Eval("--data", dir.File("images.npy"), "--layout", "nchw"), dir.File("images.npy"), "takes frames");
        CliRun.AssertBadInput(CliRun.Run("eval", imageModel, "--quiet", "--data", Path.Combine(FrameSourceTests.DvsData, "frames")), "frames of 4x2x32x32", "not frames");
    }

    [Fact]
    public void Frames_WithResize_AreRefused()
    {
        CliRun.AssertBadInput(Eval("--data", Path.Combine(FrameSourceTests.DvsData, "frames.npy"), "--resize", "16"), "frames.npy", "--resize");
    }
}
