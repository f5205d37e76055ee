using AQ4SViT.Onnx.Import.Proto;
using DataType = AQ4SViT.Onnx.Import.Proto.TensorProto.Types.DataType;

namespace AQ4SViT.Onnx.Emit;

/// <summary>
/// The reductions of a <see cref="DriftGraph"/>: per LIF layer and the logits, the sums the search's <c>MembraneDrift</c> needs,
/// each a double scalar, then joined into the graph's four outputs. Differences are taken in float and squared in double,
/// as the simulator's comparison does; a side the candidate did not change contributes exact zeros without being computed.
/// </summary>
internal sealed class DriftSums(PreparedNodeWriter w)
{
    private const string Zero = "aq4svit.drift/zero";
    private const string One = "aq4svit.drift/shape1";
    private readonly List<string> _diff = [];
    private readonly List<string> _norm = [];
    private readonly List<string> _mismatch = [];
    private readonly List<string> _neurons = [];

    public IEnumerable<TensorProto> Constants =>
    [
        new TensorProto { Name = Zero, DataType = (int)DataType.Double, DoubleData = { 0.0 } },
        QuantizedTensors.Int64Tensor(One, [1], [1]),
    ];

    /// <param name="candidate">The candidate's steps, or null when it reads the float layer's input unchanged.</param>
    public void AddLayer(int layer, LifSteps reference, LifSteps? candidate)
    {
        string at = $"aq4svit.drift/lif{layer}";
        var norms = new List<string>();
        var diffs = new List<string>();
        var mismatches = new List<string>();
        for (int t = 0; t < reference.Membranes.Length; t++)
        {
            norms.Add(SquareSum($"{at}/t{t}/norm", reference.Membranes[t]));
            if (candidate is not null)
            {
                string d = w.Fresh($"{at}/t{t}/d");
                w.Add("Sub", $"{at}/t{t}/d", [candidate.Membranes[t], reference.Membranes[t]], [d]);
                diffs.Add(SquareSum($"{at}/t{t}/diff", d));
                string x = w.Fresh($"{at}/t{t}/xor");
                w.Add("Xor", $"{at}/t{t}/xor", [candidate.Fired[t], reference.Fired[t]], [x]);
                mismatches.Add(Reduce("ReduceSum", $"{at}/t{t}/mismatch", x));
            }
        }

        string size = w.Fresh($"{at}/size");
        w.Add("Size", $"{at}/size", [reference.Input], [size]);
        _norm.Add(Total($"{at}/norm", norms));
        _diff.Add(candidate is null ? Zero : Total($"{at}/diff", diffs));
        _mismatch.Add(candidate is null ? Zero : Total($"{at}/mismatch", mismatches));
        _neurons.Add(Double($"{at}/neurons", size));
    }

    /// <param name="candidate">The candidate's logits, or null when nothing it changed reaches them.</param>
    public void AddLogits(string reference, string? candidate)
    {
        const string at = "aq4svit.drift/logits";
        _norm.Add(SquareSum($"{at}/norm", reference));
        if (candidate is null)
        {
            _diff.Add(Zero);
            return;
        }

        string d = w.Fresh($"{at}/d");
        w.Add("Sub", $"{at}/d", [candidate, reference], [d]);
        _diff.Add(SquareSum($"{at}/diff", d));
    }

    public void WriteOutputs(GraphProto graph, bool hasLayers)
    {
        Join(graph, DriftGraph.DiffOutput, _diff);
        Join(graph, DriftGraph.NormOutput, _norm);
        if (hasLayers)
        {
            Join(graph, DriftGraph.MismatchOutput, _mismatch);
            Join(graph, DriftGraph.NeuronOutput, _neurons);
        }
    }

    /// <summary>Σ x² over all elements in double (x cast from float first).</summary>
    private string SquareSum(string name, string value) => Reduce("ReduceSumSquare", name, value);

    /// <summary>A full reduction in double: no axes input or attribute reduces every axis in every opset.</summary>
    private string Reduce(string op, string name, string value)
    {
        string cast = Double(name + "/f64", value);
        string sum = w.Fresh(name);
        w.Add(op, name, [cast], [sum], [PreparedNodeWriter.Int("keepdims", 0)]);
        return sum;
    }

    private string Double(string name, string value)
    {
        string cast = w.Fresh(name);
        w.Add("Cast", name, [value], [cast], [PreparedNodeWriter.CastTo(DataType.Double)]);
        return cast;
    }

    /// <summary>The parts added in step order.</summary>
    private string Total(string name, List<string> parts)
    {
        string total = parts[0];
        for (int i = 1; i < parts.Count; i++)
        {
            string next = w.Fresh($"{name}/{i}");
            w.Add("Add", $"{name}/{i}", [total, parts[i]], [next]);
            total = next;
        }

        return total;
    }

    /// <summary>Scalars reshaped to [1] and concatenated: one vector output per kind of sum.</summary>
    private void Join(GraphProto graph, string output, List<string> scalars)
    {
        var parts = new List<string>();
        foreach (string s in scalars)
        {
            string part = w.Fresh($"{output}/{parts.Count}");
            w.Add("Reshape", $"{output}/{parts.Count}", [s, One], [part]);
            parts.Add(part);
        }

        w.Add("Concat", output, [.. parts], [output], [PreparedNodeWriter.Int("axis", 0)]);
        graph.Output.Add(ValueInfos.Tensor(output, DataType.Double, [scalars.Count]));
    }
}
