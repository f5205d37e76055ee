using AQ4SViT.Onnx.Data;

namespace AQ4SViT.Onnx.Tests.Data;

/// <summary>The seeded stratified split: per-class shares, disjoint halves, reproducible with the seed.</summary>
public sealed class SplitTests
{
    private static ImageSet Indexed(int[] labels) =>
        new(Enumerable.Range(0, labels.Length).Select(i => (byte)i).ToArray(), labels, 1, 1, 1, "indexed");

    [Fact]
    public void Stratify_FashionMnist_EachHalfHas500OfEveryClass()
    {
        var set = DataFixtures.Fashion;

        var split = DataSplits.Stratify(set, seed: 7);
        var search = DataSplits.Select(split, DataSplit.Search);
        var test = DataSplits.Select(split, DataSplit.Test);

        Assert.Equal(5000, search.Count);
        Assert.All(search.Labels.GroupBy(l => l), g => Assert.Equal(500, g.Count()));
        Assert.All(test.Labels.GroupBy(l => l), g => Assert.Equal(500, g.Count()));
        Assert.Equal(("stratified", (int?)7), (split.Split.Method, split.Split.Seed));
    }

    [Fact]
    public void Stratify_HalvesAreDisjointAndCoverEveryImage()
    {
        int[] labels = Enumerable.Range(0, 200).Select(i => i % 7 == 0 ? 3 : i % 3).ToArray();
        var set = Indexed(labels);

        var split = DataSplits.Stratify(set, seed: 1);

        // Pixel i of the indexed set is its index: the reordered pixels are a permutation of 0..199.
        Assert.Equal(Enumerable.Range(0, 200).Select(i => (byte)i), split.Pixels.Order());
        for (int i = 0; i < 200; i++)
        {
            Assert.Equal(labels[split.Pixels[i]], split.Labels[i]);
        }
    }

    [Fact]
    public void Stratify_OddClassCounts_ShareWithinOneAndSearchHalfIsFloorHalf()
    {
        // Classes of 3, 5, 7, 2 and 1 images: 18 images, search half exactly 9.
        int[] counts = [3, 5, 7, 2, 1];
        int[] labels = counts.SelectMany((n, c) => Enumerable.Repeat(c, n)).ToArray();

        var split = DataSplits.Stratify(Indexed(labels), seed: 3);
        var (_, searchCount) = DataSplits.Range(DataSplit.Search, split.Count);
        var search = split.Labels[..searchCount];

        Assert.Equal(9, searchCount);
        for (int c = 0; c < counts.Length; c++)
        {
            int inSearch = search.Count(l => l == c);
            Assert.InRange(inSearch, counts[c] / 2, (counts[c] + 1) / 2);
        }
    }

    [Fact]
    public void Stratify_SameSeedSameOrder_OtherSeedOtherOrder()
    {
        var set = DataFixtures.First(1000);

        var a = DataSplits.Stratify(set, seed: 20);
        var b = DataSplits.Stratify(set, seed: 20);
        var c = DataSplits.Stratify(set, seed: 21);

        Assert.True(a.Pixels.AsSpan().SequenceEqual(b.Pixels));
        Assert.Equal(a.Labels, b.Labels);
        Assert.False(a.Pixels.AsSpan().SequenceEqual(c.Pixels));
    }

    [Fact]
    public void SplitMix64_FirstValues_MatchTheReferenceAlgorithm()
    {
        // SplitMix64 seeded with 0: the published first outputs (e.g. Vigna's splitmix64.c), so the stream is reproducible anywhere.
        var rng = new SplitMix64(0);

        Assert.Equal(0xE220A8397B1DCDAFUL, rng.Next());
        Assert.Equal(0x6E789E6AA1B965F4UL, rng.Next());
    }

    [Fact]
    public void Load_IdxWithoutSeed_KeepsFirstHalfSplit_NonIdxStratifies()
    {
        using var dir = new TempDir();
        var set = DataFixtures.First(100);
        File.WriteAllBytes(dir.File("images.npy"), DataFixtures.Npy("|u1", [100, 28, 28], set.Pixels));
        File.WriteAllBytes(dir.File("labels.npy"), DataFixtures.Npy("<i8", [100], DataFixtures.Int64Labels(set.Labels)));

        var idx = DataLoader.Load(RepoPaths.FashionMnist, DataOptions.Default);
        var idxSeeded = DataLoader.Load(RepoPaths.FashionMnist, new DataOptions { SplitSeed = 5 });
        var npy = DataLoader.Load(dir.Path, DataOptions.Default);

        Assert.Equal(SplitInfo.Halves, idx.Split);
        Assert.True(idx.Pixels.AsSpan().SequenceEqual(DataFixtures.Fashion.Pixels));
        Assert.Equal(new SplitInfo("stratified", 5), idxSeeded.Split);
        Assert.Equal(new SplitInfo("stratified", DataSplits.DefaultSeed), npy.Split);
        Assert.Equal(DataSplits.Stratify(set, DataSplits.DefaultSeed).Labels, npy.Labels);
    }
}
