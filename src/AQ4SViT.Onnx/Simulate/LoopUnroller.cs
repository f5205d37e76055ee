using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;

namespace AQ4SViT.Onnx.Simulate;

/// <summary>
/// Replaces each ONNX <c>Loop</c> whose trip count is a constant (and whose condition stays true) by its body repeated
/// that many times, so that what runs inside (SpikingJelly 0.0.0.0.14's scripted multi-step LIF, exported by the
/// TorchScript exporter) is ordinary per-step nodes the LIF recogniser can read. ONNX semantics: body inputs are
/// (iteration number, condition, loop-carried values…), body outputs (condition, carried values…, scan outputs…);
/// the Loop's outputs are the final carried values, then each scan output stacked over the iterations on a new axis 0.
/// Body values get the prefix "<c>{loop}/iter{i}/</c>"; names from the enclosing graph are read as they are.
/// </summary>
internal static class LoopUnroller
{
    /// <summary>More iterations than any time-step count; a larger constant is a corrupt or non-SNN loop.</summary>
    private const long MaxTrips = 4096;

    public static bool HasLoops(GraphProto graph) => graph.Node.Any(n => n.OpType == "Loop" && n.Domain is "" or "ai.onnx");

    /// <summary>The graph's nodes with every Loop unrolled (nested Loops first). Constants are read from Constant nodes and
    /// initializers of this graph and of the enclosing ones.</summary>
    /// <param name="probe">Computes trip counts that come from shapes (top-level Loops only).</param>
    public static List<NodeProto> Unroll(GraphProto graph, string baseDirectory, int opset, TripCountProbe? probe)
    {
        var constants = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var t in graph.Initializer)
        {
            constants[t.Name] = t;
        }

        return Unroll(graph.Node, constants, baseDirectory, opset, depth: 0, probe);
    }

    private static List<NodeProto> Unroll(IEnumerable<NodeProto> nodes, Dictionary<string, TensorProto> constants, string baseDirectory, int opset, int depth, TripCountProbe? probe = null)
    {
        if (depth > 4)
        {
            Throw.BadInput("Loops nested more than 4 deep");
        }

        var result = new List<NodeProto>();
        foreach (var n in nodes)
        {
            if (n.OpType == "Constant" && n.Output.Count == 1 && n.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { } value)
            {
                constants[n.Output[0]] = value;
            }

            if (n.OpType != "Loop" || n.Domain is not ("" or "ai.onnx"))
            {
                result.Add(n);
                probe?.Emitted(n);
                continue;
            }

            foreach (var u in UnrollOne(n, constants, baseDirectory, opset, depth, probe))
            {
                result.Add(u);
                probe?.Emitted(u);
            }
        }

        return result;
    }

    private static List<NodeProto> UnrollOne(NodeProto loop, Dictionary<string, TensorProto> constants, string baseDirectory, int opset, int depth, TripCountProbe? probe)
    {
        string name = loop.Name.Length > 0 ? loop.Name : loop.Output.FirstOrDefault() ?? "Loop";
        var body = loop.Attribute.FirstOrDefault(a => a.Name == "body")?.G
            ?? Throw.BadNode<GraphProto>(loop.OpType, name, "has no body graph");
        if (loop.Input.Count < 2 || loop.Input[0].Length == 0)
        {
            Throw.UnsupportedOp("Loop", name, "a Loop without a trip count (a while loop) cannot be unrolled");
        }

        long trips = ConstantInt(loop.Input[0], constants, baseDirectory) ?? probe?.TripCount(loop.Input[0], name)
            ?? Throw.BadNode<long>(loop.OpType, name, "its trip count depends on the input's values, so it cannot be unrolled");
        if (trips is < 1 or > MaxTrips)
        {
            Throw.BadNode(loop.OpType, name, $"trip count {trips} is outside 1–{MaxTrips}");
        }

        if (loop.Input[1].Length > 0 && ConstantBool(loop.Input[1], constants, baseDirectory) != true)
        {
            Throw.UnsupportedOp("Loop", name, "its initial condition is not the constant true");
        }

        int carried = loop.Input.Count - 2;
        if (body.Input.Count != carried + 2 || body.Output.Count < carried + 1)
        {
            Throw.BadNode(loop.OpType, name, $"body has {body.Input.Count} inputs and {body.Output.Count} outputs for {carried} loop-carried values");
        }

        int scans = body.Output.Count - 1 - carried;
        if (loop.Output.Count > carried + scans)
        {
            Throw.BadNode(loop.OpType, name, $"has {loop.Output.Count} outputs, its body gives {carried + scans}");
        }

        var bodyConstants = new Dictionary<string, TensorProto>(constants, StringComparer.Ordinal);
        foreach (var t in body.Initializer)
        {
            bodyConstants[t.Name] = t;
        }

        var bodyNodes = Unroll(body.Node, bodyConstants, baseDirectory, opset, depth + 1);
        var defined = new HashSet<string>(bodyNodes.SelectMany(b => b.Output), StringComparer.Ordinal);
        defined.UnionWith(body.Initializer.Select(t => t.Name));
        if (!ConditionStaysTrue(body, bodyNodes, bodyConstants, baseDirectory))
        {
            Throw.UnsupportedOp("Loop", name, "its body's condition output is not the constant true (a loop that may stop early)");
        }

        var current = loop.Input.Skip(2).ToArray();
        var scanned = Enumerable.Range(0, scans).Select(_ => new List<string>()).ToArray();
        var emitted = new List<NodeProto>();
        for (long i = 0; i < trips; i++)
        {
            string prefix = $"{name}/iter{i}/";
            var rename = new Dictionary<string, string>(StringComparer.Ordinal);
            string iteration = prefix + body.Input[0].Name;
            emitted.Add(ConstantNode(iteration, new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64, Int64Data = { i } }));
            rename[body.Input[0].Name] = iteration;
            if (body.Input[1].Name.Length > 0)
            {
                string cond = prefix + body.Input[1].Name;
                emitted.Add(ConstantNode(cond, new TensorProto { DataType = (int)TensorProto.Types.DataType.Bool, Int32Data = { 1 } }));
                rename[body.Input[1].Name] = cond;
            }

            for (int k = 0; k < carried; k++)
            {
                rename[body.Input[k + 2].Name] = current[k];
            }

            string Map(string value) =>
                value.Length == 0 ? value : rename.TryGetValue(value, out var r) ? r : defined.Contains(value) ? prefix + value : value;

            foreach (var t in body.Initializer)
            {
                emitted.Add(ConstantNode(prefix + t.Name, t));
            }

            foreach (var b in bodyNodes)
            {
                var copy = b.Clone();
                copy.Name = prefix + (b.Name.Length > 0 ? b.Name : b.OpType);
                copy.Input.Clear();
                copy.Input.AddRange(b.Input.Select(Map));
                copy.Output.Clear();
                copy.Output.AddRange(b.Output.Select(o => o.Length == 0 ? o : prefix + o));
                emitted.Add(copy);
            }

            for (int k = 0; k < carried; k++)
            {
                current[k] = Map(body.Output[k + 1].Name);
            }

            for (int j = 0; j < scans; j++)
            {
                scanned[j].Add(Map(body.Output[1 + carried + j].Name));
            }
        }

        for (int k = 0; k < carried && k < loop.Output.Count; k++)
        {
            if (loop.Output[k].Length > 0)
            {
                emitted.Add(new NodeProto { OpType = "Identity", Name = $"{name}/final{k}", Input = { current[k] }, Output = { loop.Output[k] } });
            }
        }

        for (int j = 0; j < scans && carried + j < loop.Output.Count; j++)
        {
            string output = loop.Output[carried + j];
            if (output.Length == 0)
            {
                continue;
            }

            // Scan outputs stack the iterations on a new leading axis: Unsqueeze each, then Concat.
            string axes = $"{name}/scan{j}/axes";
            emitted.Add(ConstantNode(axes, new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 1 }, Int64Data = { 0 } }));
            var parts = new List<string>();
            for (int i = 0; i < scanned[j].Count; i++)
            {
                string part = $"{name}/scan{j}/iter{i}";
                var unsqueeze = new NodeProto { OpType = "Unsqueeze", Name = part, Input = { scanned[j][i] }, Output = { part } };
                if (opset >= 13)
                {
                    unsqueeze.Input.Add(axes);
                }
                else
                {
                    unsqueeze.Attribute.Add(new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 0 } });
                }

                emitted.Add(unsqueeze);
                parts.Add(part);
            }

            emitted.Add(new NodeProto
            {
                OpType = "Concat", Name = $"{name}/scan{j}", Input = { parts }, Output = { output },
                Attribute = { new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 0 } },
            });
        }

        return emitted;
    }

    /// <summary>The body's condition output is the constant true, or passes the (true) condition input through.</summary>
    private static bool ConditionStaysTrue(GraphProto body, List<NodeProto> bodyNodes, Dictionary<string, TensorProto> constants, string baseDirectory)
    {
        string cond = body.Output[0].Name;
        for (int hops = 0; hops < 4; hops++)
        {
            if (cond == body.Input[1].Name || ConstantBool(cond, constants, baseDirectory) == true)
            {
                return true;
            }

            var producer = bodyNodes.FirstOrDefault(b => b.Output.Contains(cond));
            if (producer is null || producer.OpType != "Identity" || producer.Input.Count != 1)
            {
                return false;
            }

            cond = producer.Input[0];
        }

        return false;
    }

    private static long? ConstantInt(string name, Dictionary<string, TensorProto> constants, string baseDirectory) =>
        constants.TryGetValue(name, out var t) && TensorDecoder.ElementCount(t) == 1 &&
        (TensorProto.Types.DataType)t.DataType is TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Int32
            ? TensorDecoder.ToInt64s(t, baseDirectory)[0]
            : null;

    private static bool? ConstantBool(string name, Dictionary<string, TensorProto> constants, string baseDirectory)
    {
        if (!constants.TryGetValue(name, out var t) || TensorDecoder.ElementCount(t) != 1 || (TensorProto.Types.DataType)t.DataType != TensorProto.Types.DataType.Bool)
        {
            return null;
        }

        return t.RawData.Length > 0 ? t.RawData[0] != 0 : t.Int32Data.Count > 0 && t.Int32Data[0] != 0;
    }

    private static NodeProto ConstantNode(string output, TensorProto value)
    {
        var tensor = value.Clone();
        tensor.Name = output;
        return new NodeProto
        {
            OpType = "Constant", Name = output, Output = { output },
            Attribute = { new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = tensor } },
        };
    }
}
