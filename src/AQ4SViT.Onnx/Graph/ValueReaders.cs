namespace AQ4SViT.Onnx.Graph;

/// <summary>
/// Which nodes read each value (a node that reads a value twice counts twice). The fusions use it to know that a value
/// they fold away inside a fused node has no other reader.
/// </summary>
internal sealed class ValueReaders
{
    private readonly Dictionary<string, List<int>> _readers = new(StringComparer.Ordinal);
    private readonly string _graphOutput;

    public ValueReaders(IReadOnlyList<Node> nodes, string graphOutput)
    {
        _graphOutput = graphOutput;
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (string input in nodes[i].Inputs)
            {
                if (!_readers.TryGetValue(input, out var list))
                {
                    _readers[input] = list = [];
                }

                list.Add(i);
            }
        }
    }

    /// <summary>The index of the one node that reads <paramref name="value"/>, once; null when others read it too, or
    /// when it is the graph's output.</summary>
    public int? OnlyReader(string value) =>
        value != _graphOutput && _readers.TryGetValue(value, out var list) && list.Count == 1 ? list[0] : null;
}
