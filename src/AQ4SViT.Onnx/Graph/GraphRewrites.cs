using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Graph;

/// <summary>
/// Rewrites that give the LIF recogniser and constant folding one form of what exporters write in several, each exact:
/// Identity (PyTorch's detach) read through, shapes of scattered buffers read from the buffer they start from, and a
/// buffer filled step by step (<c>spike_seq[t] = s</c> as ScatterND or ScatterElements) written as the Concat it equals.
/// </summary>
internal static class GraphRewrites
{
    /// <summary>Readers of an Identity read its input instead; an Identity that makes the graph output stays.</summary>
    public static List<Node> RemoveIdentities(List<Node> nodes, string graphOutput)
    {
        var alias = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var n in nodes)
        {
            if (n.OpType == "Identity" && n.Domain.Length == 0 && n.Inputs.Length == 1 && n.Inputs[0].Length > 0 && n.Outputs.Length == 1 && n.Outputs[0] != graphOutput)
            {
                alias[n.Outputs[0]] = Resolve(alias, n.Inputs[0]);
            }
        }

        if (alias.Count == 0)
        {
            return nodes;
        }

        var kept = new List<Node>(nodes.Count);
        foreach (var n in nodes)
        {
            if (n.OpType == "Identity" && alias.ContainsKey(n.Outputs[0]))
            {
                continue;
            }

            for (int i = 0; i < n.Inputs.Length; i++)
            {
                n.Inputs[i] = Resolve(alias, n.Inputs[i]);
            }

            kept.Add(n);
        }

        return kept;
    }

    private static string Resolve(Dictionary<string, string> alias, string value) => alias.TryGetValue(value, out var to) ? to : value;

    /// <summary>
    /// A scatter keeps its data's shape, so Shape(scatter) is Shape(data), and a Gather/Slice read only by Shape nodes (or
    /// by none, once those folded) may read the data instead. An unrolled Loop takes the shape of step t's update from the buffer written at steps &lt; t;
    /// after this, it comes from the buffer's constant start and folds.
    /// </summary>
    public static void ShapesThroughScatter(List<Node> nodes)
    {
        var index = new GraphIndex(nodes);

        string Start(string value)
        {
            for (int hops = 0; hops < 100_000 && index.Producer(value) is { OpType: "ScatterND" or "ScatterElements", Inputs.Length: > 0 } p; hops++)
            {
                value = p.Inputs[0];
            }

            return value;
        }

        foreach (var n in nodes)
        {
            bool shapeOnly = n.OpType == "Shape" ||
                (n.OpType is "Gather" or "Slice" && n.Outputs.Length == 1 && index.Readers(n.Outputs[0]).All(x => x.OpType == "Shape"));
            if (shapeOnly && n.Inputs.Length > 0)
            {
                n.Inputs[0] = Start(n.Inputs[0]);
            }
        }
    }

    /// <summary>
    /// A chain of scatters into a constant buffer [T, ...], each writing one whole slice t along axis 0 with constant
    /// indices, covering t = 0…T−1 once each, is the Concat(axis 0) of its updates in t order: the buffer's start values
    /// are all overwritten. ScatterND: indices [[t]] with updates [1, ...]. ScatterElements (axis 0, no reduction):
    /// indices of shape [1, ...rest of the buffer] all equal to t.
    /// </summary>
    public static List<Node> JoinScatteredSteps(List<Node> nodes, Dictionary<string, Tensor> constants)
    {
        var index = new GraphIndex(nodes);

        static bool IsScatter(Node n) => n.OpType is "ScatterND" or "ScatterElements" && n.Inputs.Length == 3 && (n.String("reduction") ?? "none") == "none";

        var replaced = new Dictionary<Node, Node>();
        var removed = new HashSet<Node>();
        foreach (var last in nodes.Where(IsScatter))
        {
            // The chain's end: no scatter of the same kind continues from it.
            if (index.Readers(last.Outputs[0]).Any(r => IsScatter(r) && r.OpType == last.OpType && r.Inputs[0] == last.Outputs[0]))
            {
                continue;
            }

            var chain = new List<Node> { last };
            while (index.Producer(chain[0].Inputs[0]) is { } p && IsScatter(p) && p.OpType == last.OpType &&
                   index.Readers(p.Outputs[0]).Count == 1)
            {
                chain.Insert(0, p);
            }

            if (!constants.TryGetValue(chain[0].Inputs[0], out var start) || start.Rank < 1 || start.Shape[0] != chain.Count)
            {
                continue;
            }

            var updates = new string[chain.Count];
            bool whole = true;
            foreach (var s in chain)
            {
                int? t = SliceIndex(s, start, constants);
                if (t is not { } step || updates[step] is not null)
                {
                    whole = false;
                    break;
                }

                updates[step] = s.Inputs[2];
            }

            if (!whole)
            {
                continue;
            }

            var axis = new Dictionary<string, Import.Proto.AttributeProto>
            {
                ["axis"] = new() { Name = "axis", Type = Import.Proto.AttributeProto.Types.AttributeType.Int, I = 0 },
            };
            replaced[last] = new Node("Concat", last.Name + "/joined", "", last.Opset, updates, [last.Outputs[0]], axis) { Scope = last.Scope };
            removed.UnionWith(chain.Take(chain.Count - 1));
        }

        if (replaced.Count == 0)
        {
            return nodes;
        }

        return nodes.Where(n => !removed.Contains(n)).Select(n => replaced.TryGetValue(n, out var c) ? c : n).ToList();
    }

    /// <summary>The slice t along axis 0 that one scatter writes whole, or null.</summary>
    private static int? SliceIndex(Node scatter, Tensor start, Dictionary<string, Tensor> constants)
    {
        if (!constants.TryGetValue(scatter.Inputs[1], out var indices) || indices.Length == 0)
        {
            return null;
        }

        long[] idx = indices.ToLongArray();
        long t = idx[0];
        if (scatter.OpType == "ScatterND")
        {
            if (!indices.Shape.SequenceEqual([1, 1]))
            {
                return null;
            }
        }
        else
        {
            if (scatter.Int("axis", 0) != 0 || indices.Rank != start.Rank || indices.Shape[0] != 1 ||
                !indices.Shape.AsSpan(1).SequenceEqual(start.Shape.AsSpan(1)) || idx.AsSpan().IndexOfAnyExcept(t) >= 0)
            {
                return null;
            }
        }

        t = t < 0 ? t + start.Shape[0] : t;
        return t >= 0 && t < start.Shape[0] ? (int)t : null;
    }
}
