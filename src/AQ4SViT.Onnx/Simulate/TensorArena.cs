using System.Buffers;

namespace AQ4SViT.Onnx.Simulate;

/// <summary>
/// Pools the float buffers of one graph run: kernels allocate through <see cref="Tensor.NewFloats"/>, which rents from
/// <see cref="ArrayPool{T}.Shared"/> while an arena is active on the thread; the executor counts the values that share
/// a buffer (views) and returns it when the last one dies. Constants and small tensors are never pooled.
/// </summary>
internal sealed class TensorArena
{
    private const int MinPooled = 4096;

    [ThreadStatic]
    private static TensorArena? t_current;

    private readonly Dictionary<float[], int> _references = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<float[]> _rented = new(ReferenceEqualityComparer.Instance);

    public static TensorArena? Current => t_current;

    /// <summary>Makes this arena current on the thread until the returned scope is disposed.</summary>
    public Scope Enter()
    {
        var previous = t_current;
        t_current = this;
        return new Scope(previous);
    }

    public float[] Rent(int length)
    {
        if (length < MinPooled)
        {
            return new float[length];
        }

        var array = ArrayPool<float>.Shared.Rent(length);
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
            ArrayPool<float>.Shared.Return(data);
        }
    }

    public readonly struct Scope(TensorArena? previous) : IDisposable
    {
        public void Dispose() => t_current = previous;
    }
}
