using AQ4SViT.Onnx.Core;


namespace AQ4SViT.Onnx.Data;

/// <summary>Which part of the evaluation set a command sees. The search only ever sees <see cref="Search"/>.</summary>
public enum DataSplit
{
    /// <summary>First half of the evaluation set (Fashion-MNIST: test images 0–4999), after <see cref="DataSplits.Stratify"/> when the set was stratified.</summary>
    Search,

    /// <summary>Second half (Fashion-MNIST: test images 5000–9999); the reported result.</summary>
    Test,

    /// <summary>The whole evaluation set.</summary>
    All,
}

public static class DataSplits
{
    /// <summary>The [start, start+count) range of a split in a set of <paramref name="total"/> images.</summary>
    public static (int Start, int Count) Range(DataSplit split, int total) => split switch
    {
        DataSplit.Search => (0, total / 2),
        DataSplit.Test => (total / 2, total - (total / 2)),
        DataSplit.All => (0, total),
        _ => throw new ArgumentOutOfRangeException(nameof(split)),
    };

    /// <summary>The images of a split, optionally only the first <paramref name="limit"/> of them.</summary>
    public static ImageSet Select(ImageSet set, DataSplit split, int? limit = null)
    {
        var (start, count) = Range(split, set.Count);
        if (limit is { } n)
        {
            if (n <= 0)
            {
                Throw.BadInput($"--limit must be positive, got {n}");
            }

            count = Math.Min(count, n);
        }

        if (count == 0)
        {
            Throw.BadInput($"{set.Source}: the {split.ToString().ToLowerInvariant()} split of {set.Count} images is empty");
        }

        return set.Slice(start, count);
    }

    /// <summary>
    /// Up to <paramref name="limit"/> images of the search split after its first <paramref name="used"/> (those a search
    /// evaluated on), or null when none are left or none are asked for.
    /// </summary>
    public static ImageSet? HeldOut(ImageSet set, int used, int limit)
    {
        var (start, count) = Range(DataSplit.Search, set.Count);
        int n = Math.Min(limit, count - used);
        return n > 0 ? set.Slice(start + used, n) : null;
    }

    /// <summary>The seed <c>--split-seed</c> defaults to where a stratified split is made without one.</summary>
    public const int DefaultSeed = 20;

    /// <summary>
    /// The set reordered so that its first half (<see cref="DataSplit.Search"/>) and second half (<see cref="DataSplit.Test"/>)
    /// hold each class in the same share: each class's images are shuffled and split in two (of a class with an odd
    /// count, the extra image goes to the search half for a seeded half of those classes, so the search half has exactly
    /// ⌊n/2⌋ images); then each half is shuffled, so any prefix of it (<c>--limit</c>, <c>--calib</c>) is a random sample.
    /// Every shuffle is Fisher–Yates driven by one SplitMix64 stream from <paramref name="seed"/>, so the order is the
    /// same on every machine and runtime.
    /// </summary>
    public static ImageSet Stratify(ImageSet set, int seed)
    {
        var rng = new SplitMix64(seed);
        var byClass = new SortedDictionary<int, List<int>>();
        for (int i = 0; i < set.Count; i++)
        {
            if (!byClass.TryGetValue(set.Labels[i], out var list))
            {
                byClass[set.Labels[i]] = list = [];
            }

            list.Add(i);
        }

        foreach (var list in byClass.Values)
        {
            rng.Shuffle(list);
        }

        var odd = byClass.Where(kv => kv.Value.Count % 2 == 1).Select(kv => kv.Key).ToList();
        rng.Shuffle(odd);
        var extra = odd.Take(odd.Count / 2).ToHashSet();
        var search = new List<int>(set.Count / 2);
        var test = new List<int>(set.Count - (set.Count / 2));
        foreach (var (label, list) in byClass)
        {
            int half = (list.Count / 2) + (extra.Contains(label) ? 1 : 0);
            search.AddRange(list.Take(half));
            test.AddRange(list.Skip(half));
        }

        rng.Shuffle(search);
        rng.Shuffle(test);
        search.AddRange(test);
        return set.Select(search, new SplitInfo("stratified", seed));
    }

    public static DataSplit Parse(string text) => text.ToLowerInvariant() switch
    {
        "search" => DataSplit.Search,
        "test" => DataSplit.Test,
        "all" => DataSplit.All,
        _ => Throw.BadInput<DataSplit>($"--split must be search, test or all, got '{text}'"),
    };
}

/// <summary>SplitMix64 (Steele, Lea, Flood 2014): a tiny generator whose stream is fixed by its seed everywhere.</summary>
internal sealed class SplitMix64(long seed)
{
    private ulong _state = (ulong)seed;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A value in [0, n): the high 64 bits of Next() · n.</summary>
    public int Below(int n) => (int)(((UInt128)Next() * (ulong)n) >> 64);

    /// <summary>Fisher–Yates: for i from the end, swap item i with item Below(i + 1).</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = Below(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
