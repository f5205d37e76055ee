using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Simulate;

/// <summary>
/// Copies of the values alive just before chosen nodes of one run (what the rest of the graph reads). A later run whose
/// weights differ only at or after such a node can start there instead of at the input, with the same results: the
/// search's drift proxies reuse the unchanged prefix of a parent setting this way. A tensor alive at several recorded
/// nodes is copied once.
/// </summary>
internal sealed class LiveValues
{
    private readonly HashSet<int> _nodes;
    private readonly Dictionary<int, Dictionary<string, Tensor>> _at = [];
    private readonly Dictionary<Tensor, Tensor> _copies = new(ReferenceEqualityComparer.Instance);

    public LiveValues(IEnumerable<int> nodes) => _nodes = [.. nodes];

    /// <summary>Floats held by the copies.</summary>
    public long Floats { get; private set; }

    public bool Has(int node) => _at.ContainsKey(node);

    internal IReadOnlyDictionary<string, Tensor> At(int node) => _at[node];

    internal void TakeBefore(int node, Dictionary<string, Tensor> live)
    {
        if (!_nodes.Contains(node))
        {
            return;
        }

        var kept = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in live)
        {
            kept[name] = CopyOf(tensor);
        }

        _at[node] = kept;
    }

    /// <summary>A copy outside the run's buffer pool (pooled buffers are reused after their last reader).</summary>
    private Tensor CopyOf(Tensor tensor)
    {
        if (tensor.FloatData is null)
        {
            return tensor; // integer tensors (shapes, indices) and shape-only values are never pooled or written
        }

        // Keyed by the tensor, not its buffer: a pooled buffer is reused by another tensor once this one dies.
        if (!_copies.TryGetValue(tensor, out var copy))
        {
            copy = Tensor.FromFloats(tensor.Floats.ToArray(), tensor.Shape, tensor.Kind);
            _copies[tensor] = copy;
            Floats += tensor.Length;
        }

        return copy;
    }
}
