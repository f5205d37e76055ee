namespace AQ4SViT.Onnx.Core;

/// <summary>
/// The simulator's buffers: activations and kernel scratch. A returned array goes on one process-wide free list and the
/// next request takes the smallest free array that is long enough but at most twice as long. Every graph run asks for the
/// same lengths in the same order, so after the first batch nothing is allocated, and what the pool holds stays near the
/// largest set of buffers alive at once.
/// <para>
/// Why not <see cref="System.Buffers.ArrayPool{T}.Shared"/>: it rounds lengths up to powers of two and keeps arrays per
/// core and per length class. At 224×224 a 77 MB activation took a 128 MB array, and each layer's sizes got their own
/// arrays, so a 95 MB model needed 800 MB to evaluate one image. Exact arrays left to the garbage collector did worse
/// (944 MB): it collects large arrays only when its budget runs out.
/// </para>
/// </summary>
internal sealed class BufferPool<T>
{
    /// <summary>Shorter arrays are plain allocations: cheap, and never worth a lock.</summary>
    public const int MinPooled = 4096;

    private readonly Lock _gate = new();

    /// <summary>Free arrays, shortest first.</summary>
    private readonly List<T[]> _free = [];

    /// <summary>The pool every kernel uses.</summary>
    public static BufferPool<T> Shared { get; } = new();

    /// <summary>An array of at least <paramref name="length"/> elements, not cleared.</summary>
    public T[] Rent(int length)
    {
        if (length < MinPooled)
        {
            return new T[length];
        }

        lock (_gate)
        {
            int i = FirstAtLeast(length);
            if (i < _free.Count && _free[i].Length <= 2L * length)
            {
                var found = _free[i];
                _free.RemoveAt(i);
                return found;
            }
        }

        return GC.AllocateUninitializedArray<T>(length);
    }

    /// <summary>Gives back an array from <see cref="Rent"/>; short ones are simply dropped.</summary>
    public void Return(T[] array)
    {
        if (array.Length < MinPooled)
        {
            return;
        }

        lock (_gate)
        {
            _free.Insert(FirstAtLeast(array.Length), array);
        }
    }

    /// <summary>Drops every free array, for the collector to reclaim: the simulator's phase of a command is over.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _free.Clear();
        }
    }

    /// <summary>Index of the first free array of at least <paramref name="length"/> elements (binary search).</summary>
    private int FirstAtLeast(int length)
    {
        int lo = 0;
        int hi = _free.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_free[mid].Length < length)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }
}
