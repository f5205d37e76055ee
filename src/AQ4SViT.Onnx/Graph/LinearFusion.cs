using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Graph;

/// <summary>
/// A Linear layer exports as MatMul → Add(bias), and Spikformer's BatchNorm1d follows it (<see cref="BatchNormLastFusion"/>).
/// The chain becomes one node whose GEMM adds the bias, and applies the normalisation, to each output row as soon as the
/// row is summed and still in cache: the same addition, multiplication and addition per element as the separate nodes
/// (the same bits), without two more passes over the layer's output.
/// Inputs of the fused node: A, B, bias, then the normalisation's scale, bias, mean and variance when it was fused too.
/// </summary>
internal static class LinearFusion
{
    public const string OpType = "AQ4SViT.Linear";

    public static List<Node> Fuse(List<Node> nodes, IReadOnlyDictionary<string, Tensor> constants, string graphOutput)
    {
        var readers = new GraphIndex(nodes, graphOutput);
        var removed = new HashSet<int>();
        var replaced = new Dictionary<int, Node>();
        for (int i = 0; i < nodes.Count; i++)
        {
            var matMul = nodes[i];
            if (matMul.OpType != "MatMul" || matMul.Inputs.Length != 2 || matMul.Outputs.Length != 1
                || !constants.TryGetValue(matMul.Inputs[1], out var b) || !b.IsFloat || b.Rank < 2
                || readers.OnlyReader(matMul.Outputs[0]) is not int at || nodes[at] is not { OpType: "Add", Inputs.Length: 2, Outputs.Length: 1 } add)
            {
                continue;
            }

            // The bias: a constant vector with one value per output column (so the sum keeps the product's shape).
            string bias = add.Inputs[0] == matMul.Outputs[0] ? add.Inputs[1] : add.Inputs[0];
            if (bias == matMul.Outputs[0] || !constants.TryGetValue(bias, out var biasValues) || !biasValues.IsFloat
                || biasValues.Rank != 1 || biasValues.Length != b.Shape[^1])
            {
                continue;
            }

            string[] inputs = [matMul.Inputs[0], matMul.Inputs[1], bias];
            string output = add.Outputs[0];
            var attributes = matMul.Attributes;
            removed.Add(at);
            // The normalisation needs a rank-3 product: with a matrix B, that is a rank-3 A, checked when it runs.
            if (b.Rank == 2 && readers.OnlyReader(add.Outputs[0]) is int bnAt && nodes[bnAt] is { OpType: BatchNormLastFusion.OpType } bn
                && bn.Inputs.Length == 5 && bn.Inputs[0] == add.Outputs[0] && bn.Inputs.Skip(1).All(constants.ContainsKey))
            {
                inputs = [.. inputs, .. bn.Inputs[1..]];
                output = bn.Outputs[0];
                attributes = bn.Attributes;
                removed.Add(bnAt);
            }

            replaced[i] = new Node(OpType, matMul.Name, "aq4svit", 1, inputs, [output], attributes) { Scope = matMul.Scope };
        }

        return [.. nodes.Select((n, i) => replaced.TryGetValue(i, out var r) ? r : n).Where((_, i) => !removed.Contains(i))];
    }
}
