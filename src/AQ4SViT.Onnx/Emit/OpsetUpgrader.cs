using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import.Proto;

namespace AQ4SViT.Onnx.Emit;

/// <summary>
/// Raises a model's default-domain opset (to 21 for INT4/INT16 DequantizeLinear, 25 for INT2) and rewrites the nodes
/// whose form changed on the way, so the graph means the same at the new opset.
/// <para>Checked against the ONNX operator changelog for opsets 13 → 25. Incompatible changes and what we do:</para>
/// <list type="bullet">
/// <item>18: ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp,
/// ReduceSumSquare take <c>axes</c> as an input instead of an attribute → the attribute becomes an int64 initializer
/// (a Constant node inside functions). ReduceSum already did so at 13. Which ops moved which attributes into inputs at
/// which opset is <see cref="OpFacts"/>'s table.</item>
/// <item>18: Split without a <c>split</c> input must say <c>num_outputs</c> → set to its number of outputs.</item>
/// <item>20: GridSample renames modes <c>bilinear</c>/<c>bicubic</c> to <c>linear</c>/<c>cubic</c> → renamed.</item>
/// <item>16: RoiAlign's default <c>coordinate_transformation_mode</c> changed → the old default is written explicitly.</item>
/// <item>20: DFT takes <c>dft_length</c>/<c>axis</c> as inputs; 21: GroupNormalization's scale/bias change shape → refused (bad input).</item>
/// </list>
/// Every other change from 13 to 25 only adds types, attributes with backward-compatible defaults, or new ops.
/// Models below opset 13 are refused (Softmax, Squeeze, Unsqueeze, Split and ReduceSum changed form at 13).
/// </summary>
internal static class OpsetUpgrader
{
    public const int MinimumSourceOpset = 13;

    /// <summary>The lowest IR version that can hold a model of this default-domain opset (ONNX release table).</summary>
    public static long IrVersionFor(int opset) => opset switch
    {
        <= 12 => 7,
        <= 14 => 7,
        <= 18 => 8,
        <= 20 => 9,
        <= 22 => 10,
        23 => 11,
        24 => 11,
        _ => 13,
    };

    /// <summary>
    /// Rewrites <paramref name="model"/> in place to default-domain opset <paramref name="target"/> (no-op when already there or higher);
    /// <paramref name="modelPath"/> names it in error messages.
    /// </summary>
    public static void Upgrade(ModelProto model, int target, string modelPath)
    {
        var entry = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
        int from = (int)(entry?.Version ?? 0);
        if (from >= target)
        {
            return;
        }

        if (from < MinimumSourceOpset)
        {
            Throw.BadFile(modelPath, $"opset {from} cannot be raised to {target}: only models of opset {MinimumSourceOpset} or later are supported");
        }

        var names = new UniqueNames(model);
        var newInitializers = new List<TensorProto>();
        UpgradeNodes(model.Graph.Node, from, target, names, newInitializers, inFunction: false);
        foreach (var function in model.Functions)
        {
            var fEntry = function.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
            if (fEntry is not null && fEntry.Version < target)
            {
                UpgradeNodes(function.Node, (int)fEntry.Version, target, names, null, inFunction: true);
                fEntry.Version = target;
            }
        }

        model.Graph.Initializer.AddRange(newInitializers);
        if (entry is null)
        {
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = target });
        }
        else
        {
            entry.Version = target;
        }

        model.IrVersion = Math.Max(model.IrVersion, IrVersionFor(target));
    }

    private static void UpgradeNodes(Google.Protobuf.Collections.RepeatedField<NodeProto> nodes, int from, int target, UniqueNames names, List<TensorProto>? initializers, bool inFunction)
    {
        for (int index = 0; index < nodes.Count; index++)
        {
            var node = nodes[index];
            foreach (var attribute in node.Attribute)
            {
                if (attribute.G is { } g)
                {
                    UpgradeNodes(g.Node, from, target, names, initializers ?? [], inFunction);
                }

                foreach (var sub in attribute.Graphs)
                {
                    UpgradeNodes(sub.Node, from, target, names, initializers ?? [], inFunction);
                }
            }

            if (node.Domain is not ("" or "ai.onnx"))
            {
                continue;
            }

            string nodeName = string.IsNullOrEmpty(node.Name) ? node.Output.FirstOrDefault() ?? node.OpType : node.Name;
            switch (node.OpType)
            {
                // The table says which attributes became inputs when; from opset 13 on that is the Reduce ops' axes at 18.
                case var op when OpFacts.AttributesBecomingInputs(op, from, target) is ["axes"]:
                {
                    var axes = node.Attribute.FirstOrDefault(a => a.Name == "axes");
                    if (axes is null)
                    {
                        break; // no axes: reduce over all, the same at 18
                    }

                    node.Attribute.Remove(axes);
                    string name = names.Make(nodeName + "_axes");
                    var tensor = QuantizedTensors.Int64Tensor(name, [axes.Ints.Count], axes.Ints.ToArray());
                    if (inFunction || initializers is null)
                    {
                        var constant = new NodeProto { OpType = "Constant", Name = names.Make(nodeName + "_axes_constant") };
                        constant.Output.Add(name);
                        tensor.Name = "";
                        constant.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = tensor });
                        nodes.Insert(index, constant);
                        index++;
                    }
                    else
                    {
                        initializers.Add(tensor);
                    }

                    while (node.Input.Count < 1)
                    {
                        node.Input.Add("");
                    }

                    node.Input.Insert(1, name);
                    break;
                }

                case "Split" when from < 18 && target >= 18:
                    bool hasSplit = node.Input.Count > 1 && node.Input[1].Length > 0;
                    if (!hasSplit && node.Attribute.All(a => a.Name != "num_outputs"))
                    {
                        node.Attribute.Add(new AttributeProto { Name = "num_outputs", Type = AttributeProto.Types.AttributeType.Int, I = node.Output.Count });
                    }

                    break;

                case "GridSample" when from < 20 && target >= 20:
                    var mode = node.Attribute.FirstOrDefault(a => a.Name == "mode");
                    if (mode is null)
                    {
                        node.Attribute.Add(new AttributeProto { Name = "mode", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8("linear") });
                    }
                    else if (mode.S.ToStringUtf8() is "bilinear" or "bicubic")
                    {
                        mode.S = Google.Protobuf.ByteString.CopyFromUtf8(mode.S.ToStringUtf8() == "bilinear" ? "linear" : "cubic");
                    }

                    break;

                case "RoiAlign" when from < 16 && target >= 16:
                    if (node.Attribute.All(a => a.Name != "coordinate_transformation_mode"))
                    {
                        node.Attribute.Add(new AttributeProto { Name = "coordinate_transformation_mode", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8("output_half_pixel") });
                    }

                    break;

                case "DFT" when from < 20 && target >= 20:
                case "GroupNormalization" when from < 21 && target >= 21:
                    Throw.UnsupportedOp(node.OpType, nodeName, $"its form changed between opset {from} and {target}; raising the opset for INT4/INT16 weights is not supported for it");
                    break;

                default:
                    break;
            }
        }
    }

    /// <summary>Names not used anywhere in the model yet.</summary>
    internal sealed class UniqueNames
    {
        private readonly HashSet<string> _used = new(StringComparer.Ordinal);

        public UniqueNames(ModelProto model)
        {
            Collect(model.Graph);
            foreach (var f in model.Functions)
            {
                foreach (var n in f.Node)
                {
                    CollectNode(n);
                }
            }
        }

        public string Make(string wanted)
        {
            string name = wanted;
            for (int i = 1; !_used.Add(name); i++)
            {
                name = $"{wanted}_{i}";
            }

            return name;
        }

        private void Collect(GraphProto graph)
        {
            foreach (var t in graph.Initializer)
            {
                _used.Add(t.Name);
            }

            foreach (var v in graph.Input.Concat(graph.Output).Concat(graph.ValueInfo))
            {
                _used.Add(v.Name);
            }

            foreach (var n in graph.Node)
            {
                CollectNode(n);
            }
        }

        private void CollectNode(NodeProto n)
        {
            _used.Add(n.Name);
            foreach (string s in n.Input.Concat(n.Output))
            {
                _used.Add(s);
            }

            foreach (var a in n.Attribute)
            {
                if (a.G is { } g)
                {
                    Collect(g);
                }

                foreach (var sub in a.Graphs)
                {
                    Collect(sub);
                }
            }
        }
    }
}
