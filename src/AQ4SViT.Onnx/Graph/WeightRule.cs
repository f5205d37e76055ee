using AQ4SViT.Onnx.Import.Proto;
using DataType = AQ4SViT.Onnx.Import.Proto.TensorProto.Types.DataType;

namespace AQ4SViT.Onnx.Graph;

/// <summary>
/// The one rule for which initializers are weights: a FLOAT initializer of rank ≥ 2 that is the W of a Conv, the B of a
/// Gemm, or an operand of a MatMul, directly or through a chain of Transpose/Identity nodes (the dynamo exporter feeds
/// Linear weights through Transpose), with its output-channel axis mapped back through the chain. The quantizer's
/// catalogue (module paths, blocks, names users see) and the graph loader (never folds through a weight; the prepared
/// graph's <see cref="SpikingGraph.Weights"/>) both take their weights from here. Which inputs are weight slots and
/// where their channels lie is <see cref="OpFacts"/>'s.
/// </summary>
public static class WeightRule
{
    /// <summary>The weights of <paramref name="graph"/>, each once, in order of their first consumer.</summary>
    public static IReadOnlyList<WeightSlot> Find(GraphProto graph, IReadOnlyDictionary<string, TensorProto> initializers)
    {
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (string output in node.Output)
            {
                producers.TryAdd(output, node);
            }
        }

        var found = new List<WeightSlot>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            if (node.Domain is not ("" or "ai.onnx") || !OpFacts.HasWeightForm(node.OpType, node.Input.Count))
            {
                continue;
            }

            bool transB = node.OpType == "Gemm" && node.Attribute.FirstOrDefault(a => a.Name == "transB")?.I == 1;
            foreach (int slot in OpFacts.WeightSlots(node.OpType))
            {
                Consider(node, node.Input[slot], rank => OpFacts.ChannelAxis(node.OpType, slot, rank, transB));
            }
        }

        return found;

        void Consider(NodeProto consumer, string input, Func<int, int> axisAtConsumer)
        {
            // Walk back through Transpose/Identity to an initializer; the permutation maps the consumer's axis back.
            var perms = new List<long[]>();
            string name = input;
            NodeProto? first = null;
            while (!initializers.ContainsKey(name) && producers.TryGetValue(name, out var p) && p.Input.Count == 1 && p.OpType is "Transpose" or "Identity" && p.Domain is "" or "ai.onnx")
            {
                first ??= p;
                if (p.OpType == "Transpose")
                {
                    perms.Add(p.Attribute.FirstOrDefault(a => a.Name == "perm")?.Ints.ToArray() ?? []);
                }

                name = p.Input[0];
            }

            if (!initializers.TryGetValue(name, out var tensor) || (DataType)tensor.DataType != DataType.Float || tensor.Dims.Count < 2 || seen.Contains(name))
            {
                return;
            }

            int rank = tensor.Dims.Count;
            int axis = axisAtConsumer(rank);
            for (int i = 0; i < perms.Count; i++)
            {
                long[] perm = perms[i];
                // Transpose output axis j is input axis perm[j]; an empty perm reverses the axes.
                axis = perm.Length == 0 ? rank - 1 - axis : (int)perm[axis];
            }

            if (axis < 0 || axis >= rank)
            {
                return;
            }

            seen.Add(name);
            found.Add(new WeightSlot(name, tensor, consumer, axis, first));
        }
    }
}

/// <summary>A weight as <see cref="WeightRule"/> finds it.</summary>
/// <param name="Name">The initializer's name.</param>
/// <param name="Tensor">The initializer.</param>
/// <param name="Consumer">The Conv, Gemm or MatMul that reads it.</param>
/// <param name="ChannelAxis">The output-channel axis of the stored tensor.</param>
/// <param name="FirstHop">The Transpose/Identity the consumer reads it through (the one next to the consumer), or null when read directly.</param>
public sealed record WeightSlot(string Name, TensorProto Tensor, NodeProto Consumer, int ChannelAxis, NodeProto? FirstHop);
