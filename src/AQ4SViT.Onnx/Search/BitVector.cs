namespace AQ4SViT.Onnx.Search;

/// <summary>
/// A candidate setting as the search sees it: bits for every quantizable weight, in catalog order
/// (<see cref="Fp32"/> = left as float). Immutable; <see cref="Key"/> identifies it in the journal.
/// </summary>
public sealed class BitVector : IEquatable<BitVector>
{
    public const int Fp32 = 32;

    private readonly int[] _bits;

    public BitVector(IEnumerable<int> bits)
    {
        _bits = bits.ToArray();
        Key = string.Join(",", _bits);
    }

    public static BitVector AllFloat(int weights) => new(Enumerable.Repeat(Fp32, weights));

    public int this[int weight] => _bits[weight];

    public int Count => _bits.Length;

    public string Key { get; }

    public IReadOnlyList<int> Bits => _bits;

    /// <summary>This setting with the given weights set to <paramref name="bits"/>.</summary>
    public BitVector With(IEnumerable<int> weights, int bits)
    {
        var copy = (int[])_bits.Clone();
        foreach (int w in weights)
        {
            copy[w] = bits;
        }

        return new BitVector(copy);
    }

    /// <summary>Σ params·bits over all weights, in bits.</summary>
    public long TotalBits(IReadOnlyList<long> parameters)
    {
        long total = 0;
        for (int i = 0; i < _bits.Length; i++)
        {
            total += parameters[i] * _bits[i];
        }

        return total;
    }

    public bool Equals(BitVector? other) => other is not null && other.Key == Key;

    public override bool Equals(object? obj) => Equals(obj as BitVector);

    public override int GetHashCode() => Key.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => Key;
}
