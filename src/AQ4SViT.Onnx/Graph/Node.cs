using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Import.Proto;

namespace AQ4SViT.Onnx.Graph;

/// <summary>One operator of the graph IR: op type, name, value names in and out, attributes, and the opset of its domain.</summary>
public sealed class Node
{
    public Node(string opType, string name, string domain, int opset, string[] inputs, string[] outputs, IReadOnlyDictionary<string, AttributeProto> attributes)
    {
        OpType = opType;
        Name = name;
        Domain = domain;
        Opset = opset;
        Inputs = inputs;
        Outputs = outputs;
        Attributes = attributes;
    }

    public string OpType { get; }

    public string Name { get; }

    public string Domain { get; }

    /// <summary>Opset version of this node's domain (attribute forms depend on it).</summary>
    public int Opset { get; }

    /// <summary>Input value names; "" for an omitted optional input.</summary>
    public string[] Inputs { get; }

    public string[] Outputs { get; }

    public IReadOnlyDictionary<string, AttributeProto> Attributes { get; }

    /// <summary>For a fused LIF node (<see cref="LifRecognizer.OpType"/>): the layer it runs.</summary>
    public LifLayer? Lif { get; init; }

    /// <summary>The exporter's module scope when it recorded one (dynamo metadata), else null.</summary>
    public string? Scope { get; init; }

    /// <summary>Name for messages: the node name, or its first output when unnamed.</summary>
    public string DisplayName => Name.Length > 0 ? Name : (Outputs.Length > 0 ? Outputs[0] : "?");

    public bool HasInput(int index) => index < Inputs.Length && Inputs[index].Length > 0;

    public long Int(string name, long defaultValue) =>
        Attributes.TryGetValue(name, out var a) ? a.I : defaultValue;

    public float Float(string name, float defaultValue) =>
        Attributes.TryGetValue(name, out var a) ? a.F : defaultValue;

    public long[]? Ints(string name) =>
        Attributes.TryGetValue(name, out var a) ? a.Ints.ToArray() : null;

    public float[]? Floats(string name) =>
        Attributes.TryGetValue(name, out var a) ? a.Floats.ToArray() : null;

    public string? String(string name) =>
        Attributes.TryGetValue(name, out var a) ? a.S.ToStringUtf8() : null;

    public TensorProto? TensorAttribute(string name) =>
        Attributes.TryGetValue(name, out var a) ? a.T : null;

    public long RequiredInt(string name) =>
        Attributes.TryGetValue(name, out var a) ? a.I : Throw.BadInput<long>($"node '{DisplayName}' ({OpType}): attribute '{name}' is required");

    public override string ToString() => $"{OpType} '{DisplayName}'";
}
