namespace AQ4SViT.Onnx.Search;

/// <summary>
/// Bits by weight-group name, in graph order (<see cref="BitVector.Fp32"/>: left as float): how <c>search.log.jsonl</c>
/// names a setting. Serialises as a JSON object; two are equal when they hold the same pairs.
/// </summary>
public sealed class GroupBits : Dictionary<string, int>, IEquatable<GroupBits>
{
    public GroupBits()
        : base(StringComparer.Ordinal)
    {
    }

    /// <summary>The bits of each of <paramref name="groups"/> in <paramref name="setting"/> (the widest of its weights').</summary>
    public static GroupBits Of(BitVector setting, IReadOnlyList<SearchGroup> groups)
    {
        var bits = new GroupBits();
        foreach (var group in groups)
        {
            int widest = 0;
            foreach (int w in group.Weights)
            {
                widest = Math.Max(widest, setting[w]);
            }

            bits[group.Name] = widest;
        }

        return bits;
    }

    public bool Equals(GroupBits? other) =>
        other is not null && other.Count == Count && this.All(p => other.TryGetValue(p.Key, out int b) && b == p.Value);

    public override bool Equals(object? obj) => Equals(obj as GroupBits);

    public override int GetHashCode()
    {
        int hash = 0;
        foreach (var (name, bits) in this)
        {
            hash ^= HashCode.Combine(name.GetHashCode(StringComparison.Ordinal), bits);
        }

        return hash;
    }

    public override string ToString() => string.Join(" ", this.Select(p => $"{p.Key}={p.Value}"));
}
