namespace AQ4SViT.Onnx.Graph;

/// <summary>
/// Spikformer's BatchNorm1d after a Linear exports as Transpose(0,2,1) → BatchNormalization → Transpose(0,2,1) on a
/// (batch, tokens, channels) tensor. The three become one node that normalises the last axis in place of channel axis 1:
/// the same multiply and add per element (so the same bits), without moving the tensor twice.
/// </summary>
internal static class BatchNormLastFusion
{
    public const string OpType = "AQ4SViT.BatchNormLast";

    public static List<Node> Fuse(List<Node> nodes, string graphOutput)
    {
        var index = new GraphIndex(nodes, graphOutput);
        var removed = new HashSet<int>();
        var replaced = new Dictionary<int, Node>();
        for (int i = 0; i < nodes.Count; i++)
        {
            var bn = nodes[i];
            if (bn.OpType != "BatchNormalization" || bn.Inputs.Length != 5 || bn.Outputs.Length != 1 || bn.Int("training_mode", 0) != 0
                || index.ProducerAt(bn.Inputs[0]) is not int before || !IsSwapLastTwo(nodes[before])
                || index.OnlyReader(bn.Inputs[0]) is null || index.OnlyReader(bn.Outputs[0]) is not int after
                || !IsSwapLastTwo(nodes[after]) || removed.Contains(before))
            {
                continue;
            }

            removed.Add(before);
            removed.Add(i);
            replaced[after] = new Node(OpType, bn.Name, "aq4svit", 1, [nodes[before].Inputs[0], .. bn.Inputs[1..]], [nodes[after].Outputs[0]], bn.Attributes)
            {
                Scope = bn.Scope,
            };
        }

        return [.. nodes.Select((n, i) => replaced.TryGetValue(i, out var r) ? r : n).Where((_, i) => !removed.Contains(i))];
    }

    /// <summary>A Transpose with perm (0, 2, 1): swaps the last two axes of a rank-3 tensor.</summary>
    private static bool IsSwapLastTwo(Node node) =>
        node.OpType == "Transpose" && node.Inputs.Length == 1 && node.Outputs.Length == 1 && node.Ints("perm") is [0, 2, 1];
}
