using AQ4SViT.Onnx.Data;
using static AQ4SViT.Onnx.Tests.Data.DataFixtures;

namespace AQ4SViT.Onnx.Tests.Data;

/// <summary>
/// Every source yields exactly the pixels and labels of the IDX original (the bundled Fashion-MNIST test images,
/// written in that format by <see cref="DataFixtures"/>), in file order (<see cref="DataLoader.LoadUnsplit"/>: before
/// the stratified reorder that non-IDX sources get).
/// </summary>
public sealed class DataSourceTests
{
    private const int N = 60;

    private static void AssertSame(ImageSet expected, ImageSet actual)
    {
        Assert.Equal((expected.Count, expected.Channels, expected.Rows, expected.Cols), (actual.Count, actual.Channels, actual.Rows, actual.Cols));
        Assert.Equal(expected.Labels, actual.Labels);
        Assert.True(expected.Pixels.AsSpan().SequenceEqual(actual.Pixels), "pixels differ");
    }

    [Fact]
    public void Idx_FourDimensionalNchwAndNhwc_MatchRgbOriginal()
    {
        using var dir = new TempDir();
        var rgb = Rgb(First(N));
        IdxReaderTests.WriteIdx(dir.File("nchw-images-idx4-ubyte"), [N, 3, 28, 28], rgb.Pixels, gzip: false);
        IdxReaderTests.WriteIdx(dir.File("nchw-labels-idx1-ubyte"), [N], Array.ConvertAll(rgb.Labels, l => (byte)l), gzip: false);
        IdxReaderTests.WriteIdx(dir.File("x.idx"), [N, 28, 28, 3], Nhwc(rgb), gzip: true);

        var nchw = DataLoader.Load(dir.File("nchw-images-idx4-ubyte"), DataOptions.Default);
        var nhwc = DataLoader.Load(null, new DataOptions { ImagesFile = dir.File("x.idx"), LabelsFile = dir.File("nchw-labels-idx1-ubyte") });

        AssertSame(rgb, nchw);
        AssertSame(rgb, nhwc);
        Assert.Equal("first-half", nchw.Split.Method);
    }

    [Fact]
    public void Idx_TrainLayoutFolder_IsFound()
    {
        using var dir = new TempDir();
        var grey = First(N);
        IdxReaderTests.WriteIdx(dir.File(IdxReader.TrainImagesName + ".gz"), [N, 28, 28], grey.Pixels, gzip: true);
        IdxReaderTests.WriteIdx(dir.File(IdxReader.TrainLabelsName), [N], Array.ConvertAll(grey.Labels, l => (byte)l), gzip: false);

        AssertSame(grey, DataLoader.Load(dir.Path, DataOptions.Default));
    }

    [Fact]
    public void Cifar10_TestBatchFolder_MatchesOriginal()
    {
        using var dir = new TempDir();
        var rgb = PadTo32(Rgb(First(N)));
        Directory.CreateDirectory(dir.File("cifar-10-batches-bin"));
        WriteCifar(dir.File("cifar-10-batches-bin/test_batch.bin"), rgb);

        AssertSame(rgb, DataLoader.LoadUnsplit(dir.Path, DataOptions.Default));
    }

    [Fact]
    public void Cifar10_TrainingBatches_AreConcatenatedInOrder()
    {
        using var dir = new TempDir();
        var rgb = PadTo32(Rgb(First(N)));
        WriteCifar(dir.File("data_batch_1.bin"), rgb.Slice(0, 20));
        WriteCifar(dir.File("data_batch_2.bin"), rgb.Slice(20, N - 20));

        AssertSame(rgb, DataLoader.LoadUnsplit(dir.Path, DataOptions.Default));
    }

    [Theory]
    [InlineData("fine")]
    [InlineData("coarse")]
    public void Cifar100_FineOrCoarseLabels(string which)
    {
        using var dir = new TempDir();
        var rgb = PadTo32(Rgb(First(N)));
        WriteCifar(dir.File("test.bin"), rgb, coarse: label => label / 2);

        var set = DataLoader.LoadUnsplit(dir.File("test.bin"), new DataOptions { CifarLabels = which });

        Assert.True(rgb.Pixels.AsSpan().SequenceEqual(set.Pixels));
        Assert.Equal(which == "fine" ? rgb.Labels : rgb.Labels.Select(l => l / 2).ToArray(), set.Labels);
    }

    [Fact]
    public void Npy_Uint8Pair_AndFloat32NhwcPair_MatchOriginal()
    {
        using var grey = new TempDir();
        var set = First(N);
        File.WriteAllBytes(grey.File("images.npy"), Npy("|u1", [N, 28, 28], set.Pixels));
        File.WriteAllBytes(grey.File("labels.npy"), Npy("<i8", [N], Int64Labels(set.Labels)));
        using var rgbDir = new TempDir();
        var rgb = Rgb(set);
        File.WriteAllBytes(rgbDir.File("x.npy"), Npy("<f4", [N, 28, 28, 3], Float32Pixels(Nhwc(rgb))));
        File.WriteAllBytes(rgbDir.File("y.npy"), Npy("<i8", [N], Int64Labels(set.Labels)));

        AssertSame(set, DataLoader.LoadUnsplit(grey.Path, DataOptions.Default));
        AssertSame(set, DataLoader.LoadUnsplit(grey.File("images.npy"), DataOptions.Default));
        AssertSame(rgb, DataLoader.LoadUnsplit(rgbDir.Path, DataOptions.Default));
    }

    [Fact]
    public void Npz_ImagesAndLabelsKeys_MatchOriginal()
    {
        using var dir = new TempDir();
        var set = First(N);
        WriteNpz(dir.File("fmnist.npz"), ("labels", Npy("<i4", [N], Int32(set.Labels))), ("images", Npy("|u1", [N, 1, 28, 28], set.Pixels)));

        AssertSame(set, DataLoader.LoadUnsplit(dir.File("fmnist.npz"), DataOptions.Default));
        AssertSame(set, DataLoader.LoadUnsplit(dir.Path, new DataOptions { Format = "npz" }));
    }

    [Fact]
    public void PngClassFolders_GreyAndRgb_MatchOriginal_InOrdinalClassOrder()
    {
        using var greyDir = new TempDir();
        var set = First(N);
        WritePngFolder(greyDir.Path, set);
        using var rgbDir = new TempDir();
        var rgb = Rgb(set);
        WritePngFolder(rgbDir.Path, rgb);

        var greySet = DataLoader.LoadUnsplit(greyDir.Path, DataOptions.Default);
        var rgbSet = DataLoader.LoadUnsplit(rgbDir.Path, DataOptions.Default);

        // ImageFolder order: class by class (class00 … class09), files sorted within each.
        int[] order = Enumerable.Range(0, N).OrderBy(i => set.Labels[i]).ThenBy(i => i).ToArray();
        AssertSame(set.Select(order), greySet);
        AssertSame(rgb.Select(order), rgbSet);
        Assert.EndsWith("img00000.png", greySet.NameOf(Array.IndexOf(order, 0)), StringComparison.Ordinal);
    }

    [Fact]
    public void ClassFolders_NamesSortedOrdinally_AsTorchvision()
    {
        using var dir = new TempDir();
        var set = First(4);
        string[] names = ["b", "B", "a", "_z"];
        for (int i = 0; i < 4; i++)
        {
            Directory.CreateDirectory(dir.File(names[i]));
            File.WriteAllBytes(dir.File($"{names[i]}/0.png"), Png(set, i));
        }

        var loaded = DataLoader.LoadUnsplit(dir.Path, DataOptions.Default);

        // Ordinal: "B" (0x42) < "_z" (0x5F) < "a" < "b".
        Assert.Equal([0, 1, 2, 3], loaded.Labels);
        Assert.True(set.Image(1).SequenceEqual(loaded.Image(0)));
        Assert.True(set.Image(3).SequenceEqual(loaded.Image(1)));
        Assert.True(set.Image(2).SequenceEqual(loaded.Image(2)));
        Assert.True(set.Image(0).SequenceEqual(loaded.Image(3)));
    }

    [Theory]
    [InlineData("labels.csv")]
    [InlineData("val.txt")]
    public void FlatFolderWithLabelList_MatchesOriginal(string list)
    {
        using var dir = new TempDir();
        var set = First(N);
        var lines = new List<string>();
        if (list == "labels.csv")
        {
            lines.Add("file,label");
        }

        for (int i = 0; i < N; i++)
        {
            string name = $"ILSVRC2012_val_{i + 1:D8}.png";
            File.WriteAllBytes(dir.File(name), Png(set, i));
            lines.Add(list == "labels.csv" ? $"{name},{set.Labels[i]}" : $"{name} {set.Labels[i]}");
        }

        File.WriteAllLines(dir.File(list), lines);

        AssertSame(set, DataLoader.LoadUnsplit(dir.Path, DataOptions.Default));
    }

    [Fact]
    public void LosslessWebp_MatchesOriginal()
    {
        using var dir = new TempDir();
        var rgb = Rgb(First(3));
        Directory.CreateDirectory(dir.File("k"));
        for (int i = 0; i < 3; i++)
        {
            File.WriteAllBytes(dir.File($"k/{i}.webp"), Png(rgb, i, SkiaSharp.SKEncodedImageFormat.Webp));
        }

        var set = DataLoader.LoadUnsplit(dir.Path, DataOptions.Default);

        Assert.Equal(3, set.Channels);
        Assert.True(rgb.Pixels.AsSpan().SequenceEqual(set.Pixels));
    }

    [Fact]
    public void EveryImageFormat_DecodesAsPillowDoes()
    {
        // Pillow's convert('RGB') of each file (tools/make_data_fixtures.py): JPEG 4:2:0 and 4:4:4, palette, RGB and
        // RGBA PNG (alpha dropped), BMP, lossless WebP.
        string fixtures = Path.Combine(RepoPaths.Root, "tests", "AQ4SViT.Onnx.Tests", "Fixtures");
        var set = DataLoader.LoadUnsplit(Path.Combine(fixtures, "pil-decode"), new DataOptions { Format = "folder" });
        var names = Enumerable.Range(0, set.Count).Select(i => Path.GetFileName(set.NameOf(i))).ToArray();
        var pillow = NpyReader.ReadArchive(Path.Combine(fixtures, "pil-decode.npz"), names);

        Assert.Equal(7, set.Count);
        for (int i = 0; i < set.Count; i++)
        {
            var expected = PixelLayout.ToChw(pillow[names[i]].Data, [1, .. pillow[names[i]].Shape], "nhwc", names[i]).Pixels;
            Assert.True(expected.AsSpan().SequenceEqual(set.Image(i)), $"{names[i]} differs from Pillow's decoding");
        }
    }

    private static byte[] Int32(int[] labels)
    {
        var bytes = new byte[labels.Length * 4];
        for (int i = 0; i < labels.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), labels[i]);
        }

        return bytes;
    }
}
