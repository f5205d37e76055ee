namespace AQ4SViT.Onnx.Simulate;

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

    public static TensorArena? Current => t_current;

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

    public float[] Rent(int length)
    {
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
