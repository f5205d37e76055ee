using System.Buffers.Binary;
using System.IO.Compression;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;

namespace AQ4SViT.Onnx.Tests.Data;

public sealed class IdxReaderTests
{
    [Fact]
    public void LoadEvaluationSet_BundledFashionMnist_HasTenThousandLabelledImages()
    {
        var set = IdxReader.LoadEvaluationSet(RepoPaths.FashionMnist);

        Assert.Equal(10_000, set.Count);
        Assert.Equal((28, 28), (set.Rows, set.Cols));
        Assert.All(set.Labels, l => Assert.InRange(l, 0, 9));
        // Fashion-MNIST's test set is balanced: 1,000 of each class.
        Assert.All(set.Labels.GroupBy(l => l), g => Assert.Equal(1000, g.Count()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LoadEvaluationSet_HandWrittenFiles_ReadsPixelsAndLabels(bool gzip)
    {
        using var dir = new TempDir();
        byte[] pixels = Enumerable.Range(0, 3 * 2 * 4).Select(i => (byte)(i * 7)).ToArray();
        WriteIdx(dir.File(IdxReader.TestImagesName), [3, 2, 4], pixels, gzip);
        WriteIdx(dir.File(IdxReader.TestLabelsName), [3], [9, 0, 4], gzip);

        var set = IdxReader.LoadEvaluationSet(dir.Path);

        Assert.Equal(3, set.Count);
        Assert.Equal((2, 4), (set.Rows, set.Cols));
        Assert.Equal(pixels, set.Pixels);
        Assert.Equal(new[] { 9, 0, 4 }, set.Labels);
        Assert.Equal(pixels[8..16], set.Image(1).ToArray());
    }

    [Fact]
    public void LoadEvaluationSet_MissingFolder_NamesFolder()
    {
        var e = Assert.Throws<BadInputException>(() => IdxReader.LoadEvaluationSet("/nonexistent/data"));
        Assert.Contains("/nonexistent/data", e.Message);
    }

    [Fact]
    public void LoadEvaluationSet_MissingLabels_NamesLabelFile()
    {
        using var dir = new TempDir();
        WriteIdx(dir.File(IdxReader.TestImagesName), [1, 2, 2], new byte[4], gzip: false);

        var e = Assert.Throws<BadInputException>(() => IdxReader.LoadEvaluationSet(dir.Path));
        Assert.Contains(IdxReader.TestLabelsName, e.Message);
    }

    [Fact]
    public void LoadEvaluationSet_WrongMagic_SaysNotIdx()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File(IdxReader.TestImagesName), [0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0]);
        WriteIdx(dir.File(IdxReader.TestLabelsName), [1], [0], gzip: false);

        var e = Assert.Throws<BadInputException>(() => IdxReader.LoadEvaluationSet(dir.Path));
        Assert.Contains("not an IDX file", e.Message);
        Assert.Contains(IdxReader.TestImagesName, e.Message);
    }

    [Fact]
    public void LoadEvaluationSet_CountMismatch_NamesBothCounts()
    {
        using var dir = new TempDir();
        WriteIdx(dir.File(IdxReader.TestImagesName), [2, 2, 2], new byte[8], gzip: false);
        WriteIdx(dir.File(IdxReader.TestLabelsName), [3], [1, 2, 3], gzip: false);

        var e = Assert.Throws<BadInputException>(() => IdxReader.LoadEvaluationSet(dir.Path));
        Assert.Contains("2 images", e.Message);
        Assert.Contains("3 labels", e.Message);
    }

    [Fact]
    public void LoadEvaluationSet_LabelsWithImageRank_IsRejected()
    {
        using var dir = new TempDir();
        WriteIdx(dir.File(IdxReader.TestImagesName), [1, 2, 2], new byte[4], gzip: false);
        WriteIdx(dir.File(IdxReader.TestLabelsName), [1, 1, 1], [0], gzip: false);

        var e = Assert.Throws<BadInputException>(() => IdxReader.LoadEvaluationSet(dir.Path));
        Assert.Contains("expected 1 dimension", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadUnsignedBytes_TruncatedData_SaysTruncated(bool gzip)
    {
        using var dir = new TempDir();
        string path = dir.File("images" + (gzip ? ".gz" : ""));
        WriteIdx(path, [10, 28, 28], new byte[100], gzip); // declares 7,840 bytes, holds 100

        var e = Assert.Throws<BadInputException>(() => IdxReader.ReadUnsignedBytes(path));
        Assert.Contains(path, e.Message);
        Assert.True(e.Message.Contains("truncated") || e.Message.Contains("declares"), e.Message);
    }

    [Fact]
    public void ReadUnsignedBytes_HugeDeclaredSize_FailsBeforeAllocating()
    {
        using var dir = new TempDir();
        string path = dir.File("huge");
        WriteIdx(path, [int.MaxValue, 28, 28], new byte[16], gzip: false);

        var e = Assert.Throws<BadInputException>(() => IdxReader.ReadUnsignedBytes(path));
        Assert.Contains("declares", e.Message);
    }

    [Fact]
    public void ReadUnsignedBytes_CorruptGzip_SaysGzip()
    {
        using var dir = new TempDir();
        string path = dir.File("broken.gz");
        File.WriteAllBytes(path, [0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

        var e = Assert.Throws<BadInputException>(() => IdxReader.ReadUnsignedBytes(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Splits_FashionMnist_AreDisjointHalves()
    {
        Assert.Equal((0, 5000), DataSplits.Range(DataSplit.Search, 10_000));
        Assert.Equal((5000, 5000), DataSplits.Range(DataSplit.Test, 10_000));
        Assert.Equal((0, 10_000), DataSplits.Range(DataSplit.All, 10_000));
    }

    [Fact]
    public void Select_TestSplitWithLimit_StartsAtSecondHalf()
    {
        var pixels = Enumerable.Range(0, 10).Select(i => (byte)i).ToArray();
        var set = new ImageSet(pixels, pixels, 1, 1, "mem");

        var test = DataSplits.Select(set, DataSplit.Test, limit: 3);

        Assert.Equal(new[] { 5, 6, 7 }, test.Labels);
    }

    internal static void WriteIdx(string path, int[] dims, byte[] data, bool gzip)
    {
        using var file = File.Create(path);
        using Stream stream = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        Span<byte> word = stackalloc byte[4];
        stream.Write([0, 0, 0x08, (byte)dims.Length]);
        foreach (int d in dims)
        {
            BinaryPrimitives.WriteInt32BigEndian(word, d);
            stream.Write(word);
        }

        stream.Write(data);
    }
}
