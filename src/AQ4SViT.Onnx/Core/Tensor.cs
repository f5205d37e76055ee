namespace AQ4SViT.Onnx.Core;

/// <summary>Element type of a runtime tensor. Floats are float32; every integer type computes as int64; bools as 0/1 floats.</summary>
public enum ElementKind
{
    Float,
    Int64,
    Bool,
}

/// <summary>
/// A dense row-major tensor of the simulator: float32 (<see cref="Floats"/>) or int64 (<see cref="Longs"/>);
/// bools are stored as 0/1 floats. Shapes are small int arrays, read at run time from the real data.
/// </summary>
public sealed class Tensor
{
    private Tensor(ElementKind kind, int[] shape, float[]? floats, long[]? longs)
    {
        Kind = kind;
        Shape = shape;
        FloatData = floats;
        LongData = longs;
        Length = SizeOf(shape);
    }

    public ElementKind Kind { get; }

    public int[] Shape { get; }

    public int Length { get; }

    public int Rank => Shape.Length;

    internal float[]? FloatData { get; }

    internal long[]? LongData { get; }

    public bool IsFloat => Kind != ElementKind.Int64;

    public Span<float> Floats => FloatData is { } f ? f.AsSpan(0, Length) : throw new InvalidOperationException(IsFloat ? "tensor holds only its shape" : "tensor holds integers");

    public Span<long> Longs => LongData is { } l ? l.AsSpan(0, Length) : throw new InvalidOperationException(IsFloat ? "tensor holds floats" : "tensor holds only its shape");

    /// <summary>The same kind and shape without the values, for a value that only Shape nodes still read.</summary>
    internal Tensor ShapeOnly() => new(Kind, Shape, null, null);

    public static Tensor FromFloats(float[] data, int[] shape, ElementKind kind = ElementKind.Float)
    {
        if (data.Length < SizeOf(shape))
        {
            throw new ArgumentException($"{data.Length} values for shape [{string.Join(",", shape)}]");
        }

        return new Tensor(kind, shape, data, null);
    }

    public static Tensor FromLongs(long[] data, int[] shape)
    {
        if (data.Length < SizeOf(shape))
        {
            throw new ArgumentException($"{data.Length} values for shape [{string.Join(",", shape)}]");
        }

        return new Tensor(ElementKind.Int64, shape, null, data);
    }

    /// <summary>A zeroed float tensor (pooled while a <see cref="TensorArena"/> is active).</summary>
    public static Tensor NewFloats(int[] shape, ElementKind kind = ElementKind.Float)
    {
        var t = Uninitialized(shape, kind);
        t.Floats.Clear();
        return t;
    }

    /// <summary>A float tensor whose values the caller writes in full (pooled while a <see cref="TensorArena"/> is active).</summary>
    internal static Tensor Uninitialized(int[] shape, ElementKind kind = ElementKind.Float)
    {
        int n = SizeOf(shape);
        return new(kind, shape, TensorArena.Current?.Rent(n) ?? new float[n], null);
    }

    public static Tensor NewLongs(int[] shape) => new(ElementKind.Int64, shape, null, new long[SizeOf(shape)]);

    public static Tensor ScalarLong(long value) => FromLongs([value], []);

    public static Tensor VectorLong(long[] values) => FromLongs(values, [values.Length]);

    /// <summary>Same data, another shape (Reshape, Flatten, Squeeze, Unsqueeze): no copy.</summary>
    public Tensor WithShape(int[] shape)
    {
        if (SizeOf(shape) != Length)
        {
            throw new ArgumentException($"cannot view {Length} values as [{string.Join(",", shape)}]");
        }

        return new Tensor(Kind, shape, FloatData, LongData);
    }

    /// <summary>Values as int64 whatever the kind (shapes, indices, axes).</summary>
    public long[] ToLongArray()
    {
        if (LongData is not null)
        {
            return Longs.ToArray();
        }

        var result = new long[Length];
        var f = Floats;
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = (long)f[i];
        }

        return result;
    }

    public float[] ToFloatArray()
    {
        if (FloatData is not null)
        {
            return Floats.ToArray();
        }

        var result = new float[Length];
        var l = Longs;
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = l[i];
        }

        return result;
    }

    /// <summary>The most axes a shape may have (Tile views a rank-r input with 2r): a damaged shape tensor is not a rank.</summary>
    public const int MaxRank = 64;

    public static int SizeOf(ReadOnlySpan<int> shape)
    {
        if (shape.Length > MaxRank)
        {
            // Kernels keep one index per axis on the stack: a rank of millions would overflow it and end the process.
            throw new ArgumentException($"a shape of {shape.Length:N0} axes, more than {MaxRank}");
        }

        long n = 1;
        foreach (int d in shape)
        {
            n *= d;
        }

        if (n > int.MaxValue)
        {
            // Real at 224x224: 128 images x 4 time steps x 96 channels x 224² is 2.5e9 elements in one pass.
            throw new ArgumentException($"a tensor of {n:N0} elements [{string.Join(",", shape.ToArray())}], over the {int.MaxValue:N0} one tensor can hold: run fewer images at once (--batch; a search's drift proxy takes all --calib images at once in the simulator, or use --proxy-engine ort)");
        }

        // Inside a graph run, no value may outgrow what the model can need (a damaged Tile or Expand count would
        // otherwise make every later activation that much larger, gigabytes before the shapes stop fitting).
        if (TensorArena.Current is { } arena && n > arena.MaxElements)
        {
            throw new ArgumentException($"a tensor of {n:N0} elements [{string.Join(",", shape.ToArray())}], over the {arena.MaxElements:N0} this model can need ({TensorArena.LimitRule})");
        }

        return (int)n;
    }

    public string ShapeText => "[" + string.Join(",", Shape) + "]";

    public override string ToString() => $"{Kind}{ShapeText}";
}
