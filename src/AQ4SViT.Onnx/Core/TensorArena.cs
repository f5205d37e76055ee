namespace AQ4SViT.Onnx.Core;

/// <summary>
/// Pools the float buffers of one graph run: kernels allocate through <see cref="Tensor.NewFloats"/>, which rents from
/// <see cref="BufferPool{T}"/> while an arena is active on the thread; the executor counts the values that share
/// a buffer (views) and returns it when the last one dies. Constants and small tensors are never pooled.
/// </summary>
internal sealed class TensorArena
{
    [ThreadStatic]
    private static TensorArena? t_current;

    private readonly Dictionary<float[], int> _references = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<float[]> _rented = new(ReferenceEqualityComparer.Instance);

    /// <summary>A dying input's buffer that the running node may write its output into (see <see cref="Donate"/>).</summary>
    private float[]? _donated;
    private int _donatedLength;

    /// <summary>How <see cref="Limit"/> is derived, for error messages.</summary>
    public const string LimitRule = "input elements × time steps (at least 4) × widest weight dimension, at least 4 Mi";

    /// <summary>The floor of <see cref="Limit"/>: small models and models without weights keep room for their few activations.</summary>
    private const long MinLimit = 1L << 22;

    public static TensorArena? Current => t_current;

    /// <summary>The most elements one tensor may have while this arena is current (checked in <see cref="Tensor.SizeOf"/>).</summary>
    public long MaxElements { get; init; } = int.MaxValue;

    /// <summary>
    /// The most elements one value of a run of a graph with <paramref name="constants"/> and <paramref name="timeSteps"/>
    /// on <paramref name="inputElements"/> input values may need: input × T (at least 4) × the widest weight dimension. A layer of a vision transformer has at most as
    /// many channels as its widest weight and at most as many pixels or tokens as the image, repeated T times; the
    /// largest activation of every bundled and test model (Spikformer, SDT, TorchScript and dynamo exports) is 1/8 of
    /// this. A damaged repeat count or shape (Tile, Expand, ConstantOfShape, pads) outgrows it and is refused before
    /// its buffer is allocated, naming the node.
    /// </summary>
    public static long Limit(IEnumerable<Tensor> constants, int timeSteps, long inputElements)
    {
        long widest = 1;
        foreach (var constant in constants)
        {
            foreach (int d in constant.Shape)
            {
                widest = Math.Max(widest, d);
            }
        }

        // T at least 4: a model whose LIF layers were not recognised (T 0) still repeats its input over its steps.
        double limit = (double)Math.Max(1, inputElements) * Math.Max(4, timeSteps) * widest;
        return (long)Math.Clamp(limit, MinLimit, int.MaxValue);
    }

    /// <summary>Makes this arena current on the thread until the returned scope is disposed.</summary>
    public Scope Enter()
    {
        var previous = t_current;
        t_current = this;
        return new Scope(previous);
    }

    /// <summary>
    /// Offers <paramref name="input"/>'s buffer to the next <see cref="Rent"/> of the same length when no other value
    /// shares it. Only for kernels that read each element before writing the output's element at the same index, and
    /// only while their node runs (<see cref="EndNode"/>). Evaluating at 224×224 the LIF layers and BatchNorms of the
    /// patch-splitting stage then need one 77 MB buffer instead of three.
    /// </summary>
    public void Donate(Tensor input)
    {
        if (input.FloatData is { } data && _references.GetValueOrDefault(data) == 1)
        {
            _donated = data;
            _donatedLength = input.Length;
        }
    }

    public void EndNode() => _donated = null;

    /// <summary>False: buffers are plain arrays (constant folding keeps what it computes), only <see cref="MaxElements"/> applies.</summary>
    public bool Pools { get; init; } = true;

    public float[] Rent(int length)
    {
        if (!Pools)
        {
            return new float[length];
        }

        if (_donated is { } donated && length == _donatedLength)
        {
            _donated = null;
            return donated;
        }

        var array = BufferPool<float>.Shared.Rent(length);
        _rented.Add(array);
        return array;
    }

    public void AddReference(Tensor tensor)
    {
        if (tensor.FloatData is { } data && _rented.Contains(data))
        {
            _references[data] = _references.GetValueOrDefault(data) + 1;
        }
    }

    public void Release(Tensor tensor)
    {
        if (tensor.FloatData is { } data && _references.TryGetValue(data, out int count))
        {
            if (count > 1)
            {
                _references[data] = count - 1;
                return;
            }

            _references.Remove(data);
            _rented.Remove(data);
            BufferPool<float>.Shared.Return(data);
        }
    }

    public readonly struct Scope(TensorArena? previous) : IDisposable
    {
        public void Dispose() => t_current = previous;
    }
}
