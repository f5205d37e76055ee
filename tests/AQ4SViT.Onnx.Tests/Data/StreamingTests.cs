using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Validate;
using static AQ4SViT.Onnx.Tests.Data.DataFixtures;

namespace AQ4SViT.Onnx.Tests.Data;

/// <summary>Image folders over the memory limit are decoded on demand; what they yield is what an in-memory load yields.</summary>
public sealed class StreamingTests
{
    private static readonly DataOptions s_streamed = new() { StreamAboveBytes = 0 };

    [Fact]
    public void StreamedFolder_SplitAndSlices_YieldTheInMemoryImages()
    {
        using var dir = new TempDir();
        WritePngFolder(dir.Path, First(60));

        var held = DataLoader.Load(dir.Path, DataOptions.Default);
        var streamed = DataLoader.Load(dir.Path, s_streamed);
        var heldTest = DataSplits.Select(held, DataSplit.Test, 7);
        var streamedTest = DataSplits.Select(streamed, DataSplit.Test, 7);

        Assert.False(held.IsStreamed);
        Assert.True(streamed.IsStreamed);
        Assert.Equal(held.Labels, streamed.Labels);
        for (int i = 0; i < held.Count; i++)
        {
            Assert.True(held.Image(i).SequenceEqual(streamed.Image(i)), $"image {i}");
            Assert.Equal(held.NameOf(i), streamed.NameOf(i));
        }

        Assert.True(streamedTest.IsStreamed);
        Assert.Equal(heldTest.Labels, streamedTest.Labels);
        Assert.True(heldTest.Image(6).SequenceEqual(streamedTest.Image(6)));
        Assert.Throws<InvalidOperationException>(() => streamed.Pixels);
    }

    [Fact]
    public void StreamedFolder_WithResizeAndCrop_GivesTheSameLogits()
    {
        using var dir = new TempDir();
        WritePngFolder(dir.Path, PadTo32(First(40)));
        var options = new DataOptions { Prep = new ImagePrep(Resize: 30, Crop: 28) };
        var held = DataLoader.Load(dir.Path, options);
        var streamed = DataLoader.Load(dir.Path, options with { StreamAboveBytes = 0 });
        using var sim = new SimClassifier(RepoPaths.Model("spikformer-fmnist"), InputScaling.PixelOver255, threads: 2);

        var a = Accuracy.Evaluate(sim, held, batch: 20);
        var b = Accuracy.Evaluate(sim, streamed, batch: 20);

        Assert.Equal(a.Logits, b.Logits);
        Assert.Equal(a.Correct, b.Correct);
    }

    [Fact]
    public void StreamedFolder_TruncatedImage_FailsWhenRead_NamingTheFile()
    {
        using var dir = new TempDir();
        WritePngFolder(dir.Path, First(5));
        string victim = Directory.EnumerateFiles(dir.Path, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
        byte[] bytes = File.ReadAllBytes(victim);
        File.WriteAllBytes(victim, bytes[..(bytes.Length * 2 / 3)]);

        var set = DataLoader.LoadUnsplit(dir.Path, s_streamed); // headers are fine: the load succeeds
        int at = Enumerable.Range(0, set.Count).First(i => set.NameOf(i) == victim);
        var e = Assert.Throws<BadInputException>(() => set.Image(at).ToArray());

        Assert.Contains(victim, e.Message);
    }
}
