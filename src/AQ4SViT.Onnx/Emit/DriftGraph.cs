using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Quantize;
using Google.Protobuf;
using DataType = AQ4SViT.Onnx.Import.Proto.TensorProto.Types.DataType;

namespace AQ4SViT.Onnx.Emit;

/// <summary>
/// The drift proxy as one ONNX graph (issue 23): the float model and a candidate side by side on the same input, written
/// from the prepared graph the simulator runs (<see cref="PreparedNodeWriter"/>, LIF layers as explicit steps), with the
/// sums of the search's <c>MembraneDrift</c> as its only outputs, so that a few scalars per batch leave the device:
/// <list type="bullet">
/// <item><see cref="DiffOutput"/> (double, L + 1): per LIF layer Σ_t ‖V_q[t] − V_fp[t]‖² (the difference in float, as the
/// simulator takes it, squared and summed in double), then the logits' Σ (z_q − z_fp)²;</item>
/// <item><see cref="NormOutput"/> (double, L + 1): Σ_t ‖V_fp[t]‖², then Σ z_fp²;</item>
/// <item><see cref="MismatchOutput"/> and <see cref="NeuronOutput"/> (double, L): steps·neurons where exactly one side
/// reached v_threshold, and steps·neurons (absent without LIF layers).</item>
/// </list>
/// The candidate side reads every quantizable weight from a graph input named <see cref="CandidateWeight"/>(weight), so
/// that one session serves every candidate: a candidate binds its weights (the float originals where it keeps FP32)
/// and runs, instead of serializing a model and opening a session each (seconds per candidate on a GPU at 224×224).
/// Nodes that read no weight, directly or through other nodes, the candidate side takes from the float side.
/// </summary>
internal sealed class DriftGraph
{
    public const string DiffOutput = "aq4svit.drift/diff";
    public const string NormOutput = "aq4svit.drift/norm";
    public const string MismatchOutput = "aq4svit.drift/mismatch";
    public const string NeuronOutput = "aq4svit.drift/neurons";
    private const string CandidatePrefix = "aq4svit.q/";

    private readonly SpikingGraph _graph;
    private readonly OnnxModelFile _model;
    private readonly int _opset;
    private readonly Lazy<Dictionary<string, TensorProto>> _initializers;
    private readonly Dictionary<string, TensorProto> _written = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <param name="graph">The prepared graph (the simulator's), LIF layers recognised.</param>
    /// <param name="model">The file it came from: its initializers are written as they are there (types kept).</param>
    public DriftGraph(SpikingGraph graph, OnnxModelFile model)
    {
        _graph = graph;
        _model = model;
        _opset = graph.DefaultOpset;
        _initializers = new(() =>
        {
            var proto = new ModelProto { Graph = new GraphProto() };
            proto.Graph.Initializer.AddRange(model.Graph.Initializer.Select(t => t.Clone()));
            ModelWriter.InlineExternal(proto, model.BaseDirectory);
            return proto.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        });
    }

    public int LifLayers => _graph.LifLayers.Count;

    /// <summary>The initializer name of the candidate's value of <paramref name="weight"/>.</summary>
    public static string CandidateWeight(string weight) => CandidatePrefix + weight;

    /// <summary>
    /// The side-by-side model whose candidate side reads each of <paramref name="weights"/> from the float input
    /// <see cref="CandidateWeight"/>(weight), of the weight's shape.
    /// </summary>
    public ModelProto For(IReadOnlyList<QuantizableWeight> weights)
    {
        var differs = weights.Select(w => w.Name).ToHashSet(StringComparer.Ordinal);
        var graph = new GraphProto { Name = "aq4svit-drift" };
        var scalars = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        var fp = new PreparedNodeWriter(graph, n => n, "", _opset, scalars);
        var q = new PreparedNodeWriter(graph, n => differs.Contains(n) ? CandidatePrefix + n : n, CandidatePrefix, _opset, scalars);
        var changedLayers = new HashSet<int>();
        foreach (var node in _graph.Nodes)
        {
            fp.Write(node);
            if (node.Inputs.Any(differs.Contains))
            {
                foreach (string o in node.Outputs.Where(o => o.Length > 0))
                {
                    differs.Add(o);
                }

                q.Write(node);
                if (node.Lif is { } lif)
                {
                    changedLayers.Add(lif.Index);
                }
            }
        }

        var sums = new DriftSums(fp);
        for (int l = 0; l < _graph.LifLayers.Count; l++)
        {
            var reference = fp.Lifs[l];
            sums.AddLayer(l, reference, changedLayers.Contains(l) ? q.Lifs[l] : null);
        }

        string output = _graph.OutputName;
        sums.AddLogits(output, differs.Contains(output) ? q.Name(output) : null);
        sums.WriteOutputs(graph, _graph.LifLayers.Count > 0);

        graph.Input.Add(_model.Graph.Input.First(i => i.Name == _graph.InputName));
        // Only what a node reads: ONNX Runtime warns about every unused initializer and input.
        var read = graph.Node.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        graph.Input.AddRange(weights.Where(w => read.Contains(CandidateWeight(w.Name))).Select(w => ValueInfos.Float(CandidateWeight(w.Name), w.Shape)));
        graph.Initializer.AddRange(scalars.Values.Concat(sums.Constants).Where(t => read.Contains(t.Name)));
        graph.Initializer.AddRange(ConstantsRead(graph));
        var proto = new ModelProto { IrVersion = _model.Proto.IrVersion, ProducerName = "aq4svit-drift", Graph = graph };
        proto.OpsetImport.AddRange(_model.Proto.OpsetImport);
        return proto;
    }

    /// <summary>The graph's constants the written nodes read: the file's initializers as they are, folded values written once.</summary>
    private List<TensorProto> ConstantsRead(GraphProto graph)
    {
        var have = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var result = new List<TensorProto>();
        foreach (string name in graph.Node.SelectMany(n => n.Input).Distinct())
        {
            if (name.Length == 0 || have.Contains(name) || _graph.ConstantShape(name) is null)
            {
                continue;
            }

            result.Add(Constant(name));
        }

        return result;
    }

    private TensorProto Constant(string name)
    {
        if (_initializers.Value.TryGetValue(name, out var original))
        {
            return original;
        }

        lock (_gate)
        {
            if (!_written.TryGetValue(name, out var tensor))
            {
                tensor = Folded(name, _graph.Constants[name]);
                _written[name] = tensor;
            }

            return tensor;
        }
    }

    /// <summary>A value the loader folded (shapes, indices, masks), in the element type the simulator holds it in.</summary>
    private static TensorProto Folded(string name, Tensor value)
    {
        long[] dims = [.. value.Shape.Select(d => (long)d)];
        switch (value.Kind)
        {
            case ElementKind.Int64:
                return QuantizedTensors.Int64Tensor(name, dims, value.Longs);
            case ElementKind.Bool:
                var t = new TensorProto { Name = name, DataType = (int)DataType.Bool, RawData = ByteString.CopyFrom([.. value.Floats.ToArray().Select(f => f != 0 ? (byte)1 : (byte)0)]) };
                t.Dims.AddRange(dims);
                return t;
            default:
                return QuantizedTensors.FloatTensor(name, dims, value.Floats);
        }
    }
}
