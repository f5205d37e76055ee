namespace AQ4SViT.Onnx.Graph;

/// <summary>
/// One index of a node list, built once per rewrite: each value's producer (its position and node) and its readers. The
/// LIF recogniser, the scatter rewrites and the fusions all look values up through it (<see cref="GraphMatcher"/> adds
/// the constants).
/// </summary>
internal sealed class GraphIndex
{
    private readonly IReadOnlyList<Node> _nodes;
    private readonly Dictionary<string, int> _producer = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<int>> _reads = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Node>> _readers = new(StringComparer.Ordinal);
    private readonly string? _graphOutput;

    /// <param name="graphOutput">The graph's output: <see cref="OnlyReader"/> never names a reader of it (the caller of the
    /// graph reads it too).</param>
    public GraphIndex(IReadOnlyList<Node> nodes, string? graphOutput = null)
    {
        _nodes = nodes;
        _graphOutput = graphOutput;
        for (int i = 0; i < nodes.Count; i++)
        {
            var n = nodes[i];
            foreach (string o in n.Outputs)
            {
                if (o.Length > 0)
                {
                    _producer.TryAdd(o, i);
                }
            }

            foreach (string input in n.Inputs)
            {
                (_reads.TryGetValue(input, out var reads) ? reads : _reads[input] = []).Add(i);
            }

            foreach (string input in n.Inputs.Where(v => v.Length > 0).Distinct())
            {
                (_readers.TryGetValue(input, out var readers) ? readers : _readers[input] = []).Add(n);
            }
        }
    }

    /// <summary>The node that makes <paramref name="value"/> (the first, should an invalid graph have two), or null.</summary>
    public Node? Producer(string value) => _producer.TryGetValue(value, out int at) ? _nodes[at] : null;

    /// <summary>The position of the node that makes <paramref name="value"/>, or null.</summary>
    public int? ProducerAt(string value) => _producer.TryGetValue(value, out int at) ? at : null;

    /// <summary>The node that makes <paramref name="value"/> when it is of <paramref name="opType"/>, else null.</summary>
    public Node? Op(string value, string opType) => Producer(value) is { } n && n.OpType == opType ? n : null;

    /// <summary>The nodes that read <paramref name="value"/>, each once, in graph order; empty when none does.</summary>
    public IReadOnlyList<Node> Readers(string value) => _readers.TryGetValue(value, out var readers) ? readers : [];

    /// <summary>The position of the one node that reads <paramref name="value"/>, once; null when others read it too (or
    /// that node twice), or when it is the graph's output.</summary>
    public int? OnlyReader(string value) =>
        value != _graphOutput && _reads.TryGetValue(value, out var reads) && reads.Count == 1 ? reads[0] : null;
}
