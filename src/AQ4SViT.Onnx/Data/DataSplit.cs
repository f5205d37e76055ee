using AQ4SViT.Onnx.Errors;

namespace AQ4SViT.Onnx.Data;

/// <summary>Which part of the evaluation set a command sees. The search only ever sees <see cref="Search"/>.</summary>
public enum DataSplit
{
    /// <summary>First half of the evaluation set (Fashion-MNIST: test images 0–4999).</summary>
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

    public static DataSplit Parse(string text) => text.ToLowerInvariant() switch
    {
        "search" => DataSplit.Search,
        "test" => DataSplit.Test,
        "all" => DataSplit.All,
        _ => Throw.BadInput<DataSplit>($"--split must be search, test or all, got '{text}'"),
    };
}
