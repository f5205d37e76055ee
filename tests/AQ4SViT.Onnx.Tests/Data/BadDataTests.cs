using AQ4SViT.Onnx.Tests.Cli;
using static AQ4SViT.Onnx.Tests.Data.DataFixtures;

namespace AQ4SViT.Onnx.Tests.Data;

/// <summary>Bad data through the command line: exit code 3 and one stderr line that names the file at fault.</summary>
[Collection("Console")]
public sealed class BadDataTests
{
    private static string SmallModel => Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx");

    private static CliResult Eval(params string[] args) => CliRun.Run(["eval", SmallModel, "--quiet", .. args]);

    [Fact]
    public void TruncatedPng_NamesTheImage()
    {
        using var dir = new TempDir();
        WritePngFolder(dir.Path, First(6));
        string victim = Directory.EnumerateFiles(dir.Path, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Last();
        byte[] bytes = File.ReadAllBytes(victim);
        File.WriteAllBytes(victim, bytes[..(bytes.Length / 2)]);

        var r = Eval("--data", dir.Path);

        CliRun.AssertBadInput(r, victim, "truncated");
    }

    [Fact]
    public void NotAnImage_NamesTheFile()
    {
        using var dir = new TempDir();
        WritePngFolder(dir.Path, First(4));
        string victim = Path.Combine(dir.Path, "class09", "broken.jpg");
        Directory.CreateDirectory(Path.GetDirectoryName(victim)!);
        File.WriteAllText(victim, "this is not a JPEG");

        var r = Eval("--data", dir.Path);

        CliRun.AssertBadInput(r, victim, "not a readable");
    }

    [Fact]
    public void MixedImageSizes_WithoutResize_NamesTheOddOne_AndResizeAccepts()
    {
        using var dir = new TempDir();
        WritePngFolder(dir.Path, First(4));
        var big = PadTo32(First(1));
        string odd = Path.Combine(dir.Path, "class09", "odd.png");
        File.WriteAllBytes(odd, Png(big, 0));

        var r = Eval("--data", dir.Path);
        var resized = Eval("--data", dir.Path, "--resize", "28", "--crop", "28");

        CliRun.AssertBadInput(r, odd, "32x32", "28x28", "--resize");
        Assert.True(resized.ExitCode == 0, resized.ToString());
    }

    [Fact]
    public void LabelOutsideModelClasses_NamesTheFileAndLabel()
    {
        using var dir = new TempDir();
        var set = First(8);
        File.WriteAllBytes(dir.File("images.npy"), Npy("|u1", [8, 28, 28], set.Pixels));
        File.WriteAllBytes(dir.File("labels.npy"), Npy("<i8", [8], Int64Labels(set.Labels.Select((l, i) => i == 5 ? 12 : l))));

        var r = Eval("--data", dir.Path, "--split", "all");

        CliRun.AssertBadInput(r, dir.File("labels.npy"), "label 12", "10 classes");
    }

    [Fact]
    public void TooManyClassFolders_NamesTheImageOfTheExtraClass()
    {
        using var dir = new TempDir();
        var set = First(40);
        Assert.Equal(10, set.Labels.Distinct().Count()); // the ten classes are folders class00–class09, "zz-extra" is the 11th
        WritePngFolder(dir.Path, set, label => $"class{label:D2}");
        Directory.CreateDirectory(dir.File("zz-extra"));
        File.WriteAllBytes(dir.File("zz-extra/x.png"), Png(set, 0));

        var r = Eval("--data", dir.Path);

        CliRun.AssertBadInput(r, dir.File("zz-extra/x.png"), "label 10", "10 classes");
    }

    [Fact]
    public void NpyCountMismatch_NamesBothFiles()
    {
        using var dir = new TempDir();
        var set = First(8);
        File.WriteAllBytes(dir.File("x.npy"), Npy("|u1", [8, 28, 28], set.Pixels));
        File.WriteAllBytes(dir.File("y.npy"), Npy("<i8", [7], Int64Labels(set.Labels[..7])));

        var r = Eval("--data", dir.Path);

        CliRun.AssertBadInput(r, dir.File("x.npy"), "8 images", dir.File("y.npy"), "7 labels");
    }

    [Fact]
    public void EmptyClassFolder_NamesTheFolder()
    {
        using var dir = new TempDir();
        WritePngFolder(dir.Path, First(4));
        Directory.CreateDirectory(dir.File("class05"));

        var r = Eval("--data", dir.Path);

        CliRun.AssertBadInput(r, dir.File("class05"), "holds no images");
    }

    [Fact]
    public void NpzWithoutExpectedKeys_NamesTheFile()
    {
        using var dir = new TempDir();
        var set = First(4);
        WriteNpz(dir.File("data.npz"), ("pixels", Npy("|u1", [4, 28, 28], set.Pixels)), ("labels", Npy("|u1", [4], Array.ConvertAll(set.Labels, l => (byte)l))));

        var r = Eval("--data", dir.File("data.npz"));

        CliRun.AssertBadInput(r, dir.File("data.npz"), "'images'", "no images");
    }

    [Fact]
    public void NpyHugeDeclaredShape_FailsBeforeAllocating()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("images.npy"), Npy("|u1", [1_000_000, 224, 224, 3], new byte[64]));
        File.WriteAllBytes(dir.File("labels.npy"), Npy("|u1", [4], new byte[4]));

        var r = Eval("--data", dir.Path);

        CliRun.AssertBadInput(r, dir.File("images.npy"), "declares", "holds 64");
        Assert.True(r.AllocatedBytes < 40L << 20, $"allocated {r.AllocatedBytes:N0} bytes");
    }

    [Fact]
    public void PngHugeDeclaredSize_FailsBeforeDecoding()
    {
        using var dir = new TempDir();
        WritePngFolder(dir.Path, First(2));
        string victim = Directory.EnumerateFiles(dir.Path, "*.png", SearchOption.AllDirectories).First();
        byte[] png = File.ReadAllBytes(victim);
        // IHDR's width and height (big-endian, bytes 16–23) set to 60,000 × 60,000: 14 GB of RGBA from a 1 kB file.
        // The CRC no longer matches; a decoder that checks it fails to open the file, one that does not sees the size.
        png[16] = 0; png[17] = 0; png[18] = 0xEA; png[19] = 0x60;
        png[20] = 0; png[21] = 0; png[22] = 0xEA; png[23] = 0x60;
        File.WriteAllBytes(victim, png);

        var r = Eval("--data", dir.Path);

        CliRun.AssertBadInput(r, victim);
        Assert.True(r.AllocatedBytes < 40L << 20, $"allocated {r.AllocatedBytes:N0} bytes");
    }

    [Fact]
    public void TruncatedCifarBatch_NamesTheFile()
    {
        using var dir = new TempDir();
        WriteCifar(dir.File("test_batch.bin"), PadTo32(Rgb(First(3))));
        byte[] bytes = File.ReadAllBytes(dir.File("test_batch.bin"));
        File.WriteAllBytes(dir.File("test_batch.bin"), bytes[..^100]);

        var r = Eval("--data", dir.Path);

        CliRun.AssertBadInput(r, dir.File("test_batch.bin"), "not whole CIFAR records");
    }

    [Fact]
    public void RgbDataForGreyModel_NamesBothChannelCounts()
    {
        using var dir = new TempDir();
        WriteCifar(dir.File("test_batch.bin"), PadTo32(Rgb(First(3))));

        var r = Eval("--data", dir.File("test_batch.bin"), "--crop", "28");

        CliRun.AssertBadInput(r, dir.File("test_batch.bin"), "3 channels", "'input' takes 1");
    }

    [Fact]
    public void FourDimensionalAmbiguousShape_AsksForLayout()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("images.npy"), Npy("|u1", [2, 3, 4, 3], new byte[72]));
        File.WriteAllBytes(dir.File("labels.npy"), Npy("|u1", [2], [0, 1]));

        var r = Eval("--data", dir.Path);

        CliRun.AssertBadInput(r, dir.File("images.npy"), "--layout");
    }

    [Fact]
    public void UnknownFolder_ListsWhatWasLookedFor()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("readme.txt"), "nothing here");

        var r = Eval("--data", dir.Path);

        CliRun.AssertBadInput(r, dir.Path, "no dataset found");
    }
}
