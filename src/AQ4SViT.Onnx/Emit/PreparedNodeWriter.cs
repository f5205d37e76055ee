using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import.Proto;
using DataType = AQ4SViT.Onnx.Import.Proto.TensorProto.Types.DataType;

namespace AQ4SViT.Onnx.Emit;

/// <summary>
/// Writes the nodes of a prepared <see cref="SpikingGraph"/> back as standard ONNX operators, one side of a
/// <see cref="DriftGraph"/>: plain nodes as they are, the simulator's fusions as the operators they fused (the same
/// operations per element), and each LIF layer as its steps unrolled (<see cref="LifStepsWriter"/>), so that every step's
/// membrane potential is a value of the graph. Value names go through <see cref="Name"/> (a side's prefix).
/// </summary>
internal sealed class PreparedNodeWriter(GraphProto target, Func<string, string> name, string prefix, int opset, Dictionary<string, TensorProto> constants)
{
    /// <summary>A name for a value this writer invents (a step of a LIF layer, a fused op's intermediate): unique per side.</summary>
    public string Fresh(string value) => prefix + value;

    /// <summary>Scalar constants both sides share (by name), written once as initializers.</summary>
    public Dictionary<string, TensorProto> Constants { get; } = constants;

    /// <summary>A float scalar constant named <paramref name="constantName"/> (shared by both sides).</summary>
    public string Scalar(string constantName, float value)
    {
        if (!Constants.ContainsKey(constantName))
        {
            Constants[constantName] = QuantizedTensors.FloatTensor(constantName, [], [value]);
        }

        return constantName;
    }

    public Func<string, string> Name { get; } = name;

    public int Opset { get; } = opset;

    /// <summary>Per LIF layer written so far: its steps' membrane values and threshold tests (bool).</summary>
    public Dictionary<int, LifSteps> Lifs { get; } = [];

    public void Write(Node node)
    {
        switch (node.OpType)
        {
            case LifRecognizer.OpType:
                Lifs[node.Lif!.Index] = LifStepsWriter.Write(this, node.Lif!, Name(node.Inputs[0]), Name(node.Outputs[0]));
                break;
            case LinearFusion.OpType:
                WriteLinear(node);
                break;
            case BatchNormLastFusion.OpType:
                WriteBatchNormLast(node, Name(node.Inputs[0]), Name(node.Outputs[0]));
                break;
            default:
                Add(node.OpType, node.Name, [.. node.Inputs.Select(i => i.Length == 0 ? "" : Name(i))], [.. node.Outputs.Select(o => o.Length == 0 ? "" : Name(o))], node.Attributes.Values, node.Domain);
                break;
        }
    }

    /// <summary>Adds one node, named <paramref name="nodeName"/> with the side's prefix.</summary>
    public void Add(string opType, string nodeName, string[] inputs, string[] outputs, IEnumerable<AttributeProto>? attributes = null, string domain = "")
    {
        var np = new NodeProto { OpType = opType, Name = prefix + nodeName, Domain = domain };
        np.Input.AddRange(inputs);
        np.Output.AddRange(outputs);
        np.Attribute.AddRange(attributes ?? []);
        target.Node.Add(np);
    }

    public static AttributeProto Int(string attribute, long value) => new() { Name = attribute, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string attribute, params long[] values)
    {
        var a = new AttributeProto { Name = attribute, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto CastTo(DataType type) => Int("to", (long)type);

    /// <summary>MatMul, Add(bias), and the normalisation of the last axis when it was fused too (<see cref="LinearFusion"/>).</summary>
    private void WriteLinear(Node node)
    {
        string product = Fresh(node.Name + "/matmul");
        Add("MatMul", node.Name + "/matmul", [Name(node.Inputs[0]), Name(node.Inputs[1])], [product]);
        bool normalised = node.Inputs.Length == 7;
        string biased = normalised ? Fresh(node.Name + "/biased") : Name(node.Outputs[0]);
        Add("Add", node.Name + "/bias", [product, Name(node.Inputs[2])], [biased]);
        if (normalised)
        {
            WriteBatchNormLast(new Node(BatchNormLastFusion.OpType, node.Name + "/bn", "aq4svit", 1, [node.Inputs[0], .. node.Inputs[3..]], node.Outputs, node.Attributes), biased, Name(node.Outputs[0]));
        }
    }

    /// <summary>Transpose(0, 2, 1) → BatchNormalization → Transpose(0, 2, 1), as exported (<see cref="BatchNormLastFusion"/>).</summary>
    private void WriteBatchNormLast(Node node, string input, string output)
    {
        string swapped = Fresh(node.Name + "/swapped");
        string normalised = Fresh(node.Name + "/normalised");
        Add("Transpose", node.Name + "/in", [input], [swapped], [Ints("perm", 0, 2, 1)]);
        Add("BatchNormalization", node.Name, [swapped, .. node.Inputs[1..5].Select(Name)], [normalised], node.Attributes.Values.Where(a => a.Name != "perm"));
        Add("Transpose", node.Name + "/out", [normalised], [output], [Ints("perm", 0, 2, 1)]);
    }
}

/// <summary>One written LIF layer: its input (T, …), and per step the membrane before reset and whether it fired (bool).</summary>
internal sealed record LifSteps(string Input, string[] Membranes, string[] Fired);
