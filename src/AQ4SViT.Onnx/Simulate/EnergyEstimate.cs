using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate;

/// <summary>What feeds a weight layer: spikes of a LIF layer, the (repeated) input image, or other real values.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<LayerInput>))]
public enum LayerInput
{
    Spikes,
    Image,
    Real,
}

/// <summary>One weight layer's share of <see cref="EnergyEstimate"/>.</summary>
/// <param name="Node">The Conv/MatMul/Gemm node.</param>
/// <param name="Weight">Its quantizable weight: the initializer name as <see cref="OperationCounter"/> counts it; the search's
/// report gives its <c>QuantizableWeight.DisplayName</c> (Quantize) instead.</param>
/// <param name="Input">What feeds it.</param>
/// <param name="SpikeSources">The LIF layers whose spikes feed it (for <see cref="LayerInput.Spikes"/>): one, or several when
/// spike tensors are added on the way (Spikformer's residual sums), each spike then an event of its own.</param>
/// <param name="Macs">Dense multiply-accumulates per image of one pass (what the float ANN does once).</param>
/// <param name="Passes">Passes per image: T when the layer runs at every time step, else 1.</param>
/// <param name="RateFloat">Firing rate of the input in the float model: the sum of <see cref="SpikeSources"/>' rates (null when not spike-fed).</param>
/// <param name="RateQuantized">The same in the quantized model.</param>
public sealed record EnergyLayer(string Node, string Weight, LayerInput Input, IReadOnlyList<string> SpikeSources, double Macs, int Passes, double? RateFloat, double? RateQuantized)
{
    /// <summary>Synaptic operations per image: rate × MACs × passes (spike-fed layers; 0 otherwise).</summary>
    public double Sops(bool quantized) => Input == LayerInput.Spikes ? ((quantized ? RateQuantized : RateFloat) ?? 0) * Macs * Passes : 0;

    /// <summary>MACs the spiking model still does per image at full cost: the image layer once, other real-fed layers every pass.</summary>
    public double SnnMacs => Input switch
    {
        LayerInput.Image => Macs,
        LayerInput.Real => Macs * Passes,
        _ => 0,
    };
}

/// <summary>
/// Energy per image as SViT papers estimate it (Spikformer, Spike-driven Transformer), from 45 nm figures (Horowitz 2014):
/// an accumulate E_AC = 0.9 pJ, a multiply-accumulate E_MAC = 4.6 pJ (32-bit float).
/// <list type="bullet">
/// <item>Float ANN: every weight layer dense, once: E_ANN = E_MAC · Σ MACs_l.</item>
/// <item>SNN: a layer fed by spikes does SOPs_l = r_l · MACs_l · passes_l accumulates (r_l the firing rate of the LIF layer
/// feeding it, measured on the calibration images; passes_l = T for a layer run at every step); the layer fed by the
/// input image (repeated over T by direct encoding) costs MACs_l once, as the papers count it; any other layer fed by real
/// values costs MACs_l · passes_l. E_SNN = E_AC · Σ SOPs + E_MAC · Σ those MACs.</item>
/// </list>
/// The bit-width of the weights is not modelled (an accumulate of a 4-bit weight is cheaper than of a float one): the
/// quantized model's figure differs from the float SNN's only through its firing rates.
/// </summary>
public sealed record EnergyEstimate
{
    public const double EacPicojoules = 0.9;
    public const double EmacPicojoules = 4.6;

    public required int TimeSteps { get; init; }

    /// <summary>Calibration images the rates and shapes were measured on.</summary>
    public required int Images { get; init; }

    public required IReadOnlyList<EnergyLayer> Layers { get; init; }

    /// <summary>Σ MACs_l: the float ANN's multiply-accumulates per image.</summary>
    public double AnnMacs => Layers.Sum(l => l.Macs);

    public double SopsFloat => Layers.Sum(l => l.Sops(quantized: false));

    public double SopsQuantized => Layers.Sum(l => l.Sops(quantized: true));

    /// <summary>MACs the SNN still does (layers fed by the image or other real values).</summary>
    public double SnnMacs => Layers.Sum(l => l.SnnMacs);

    /// <summary>Energy per image in microjoules.</summary>
    public double AnnMicrojoules => AnnMacs * EmacPicojoules * 1e-6;

    public double SnnFloatMicrojoules => ((SopsFloat * EacPicojoules) + (SnnMacs * EmacPicojoules)) * 1e-6;

    public double SnnQuantizedMicrojoules => ((SopsQuantized * EacPicojoules) + (SnnMacs * EmacPicojoules)) * 1e-6;

    /// <summary>
    /// Builds the estimate from the counts of one run (<see cref="OperationCounter"/>) and the firing rates of the float
    /// and the quantized model (layer name → spikes per neuron per step).
    /// </summary>
    public static EnergyEstimate From(OperationCounter counts, IReadOnlyDictionary<string, double> ratesFloat, IReadOnlyDictionary<string, double> ratesQuantized) => new()
    {
        TimeSteps = counts.TimeSteps,
        Images = counts.Images,
        Layers = [.. counts.Layers().Select(l => l with
        {
            RateFloat = l.Input == LayerInput.Spikes ? l.SpikeSources.Sum(ratesFloat.GetValueOrDefault) : null,
            RateQuantized = l.Input == LayerInput.Spikes ? l.SpikeSources.Sum(ratesQuantized.GetValueOrDefault) : null,
        })],
    };
}

/// <summary>
/// Counts, in one simulator run, the dense multiply-accumulates of every weight layer (Conv, MatMul, Gemm and the fused
/// Linear, with a weight among <c>weights</c>) from the shapes it ran with, and its firing rates (<see cref="Rates"/>).
/// MACs: Conv = output elements × (C_in / group) × kernel size (the weight's elements per output channel); MatMul and
/// Linear = output elements × the inner dimension; Gemm the same. A layer's input is traced back through layout-only ops
/// (Reshape, Transpose, Flatten, (Un)Squeeze, Identity, Cast, MaxPool, Pad, Slice, Gather, Split, Tile, Expand): to a LIF
/// layer's output, or an Add of such (each input traced the same way), it is spike-fed; to the graph input image-fed;
/// else real-fed. Passes = T when the output's leading
/// dimension is T·B (time and batch flattened) or T followed by B (time-major), else 1.
/// </summary>
public sealed class OperationCounter : IMembraneObserver, INodeObserver
{
    private static readonly HashSet<string> s_layout = new(StringComparer.Ordinal)
    {
        "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Cast", "MaxPool", "Pad", "Slice", "Gather", "Split", "Tile", "Expand",
    };

    private readonly SpikingGraph _graph;
    private readonly Dictionary<int, (string Weight, int WeightInput, LayerInput Input, string[] Sources)> _layers = [];
    private readonly Dictionary<int, (double Macs, long Images, int Passes)> _counts = [];
    private readonly Lock _gate = new();

    public OperationCounter(SpikingGraph graph, IReadOnlyCollection<string> weights)
    {
        _graph = graph;
        var wanted = new HashSet<string>(weights, StringComparer.Ordinal);
        var producers = new Dictionary<string, Node>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            foreach (string output in node.Outputs)
            {
                producers.TryAdd(output, node);
            }
        }

        string? WeightBehind(string value)
        {
            for (int depth = 0; depth < 8; depth++)
            {
                if (wanted.Contains(value))
                {
                    return value;
                }

                if (!producers.TryGetValue(value, out var p) || p.OpType is not ("Transpose" or "Identity" or "Reshape" or "Cast") || p.Inputs.Length == 0)
                {
                    return null;
                }

                value = p.Inputs[0];
            }

            return null;
        }

        // The LIF layers whose spikes reach value through layout ops and Adds; null when anything else is on the way.
        List<string>? Spikes(string value, int depth)
        {
            for (; depth < 64; depth++)
            {
                if (!producers.TryGetValue(value, out var p))
                {
                    return null;
                }

                if (p.Lif is { } lif)
                {
                    return [lif.Name];
                }

                if (p.OpType == "Add" && p.Inputs.Length == 2)
                {
                    var a = Spikes(p.Inputs[0], depth + 1);
                    var b = a is null ? null : Spikes(p.Inputs[1], depth + 1);
                    return b is null ? null : [.. a!, .. b];
                }

                if (!s_layout.Contains(p.OpType) || p.Inputs.Length == 0)
                {
                    return null;
                }

                value = p.Inputs[0];
            }

            return null;
        }

        (LayerInput, string[]) Source(string value)
        {
            if (Spikes(value, 0) is { } lifs)
            {
                return (LayerInput.Spikes, [.. lifs]);
            }

            for (int depth = 0; depth < 64; depth++)
            {
                if (value == graph.InputName)
                {
                    return (LayerInput.Image, []);
                }

                if (!producers.TryGetValue(value, out var p) || !s_layout.Contains(p.OpType) || p.Inputs.Length == 0)
                {
                    return (LayerInput.Real, []);
                }

                value = p.Inputs[0];
            }

            return (LayerInput.Real, []);
        }

        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            // The fused Linear is a MatMul (+ Add): its weight slots are MatMul's.
            foreach (int k in OpFacts.WeightSlots(node.OpType == LinearFusion.OpType ? "MatMul" : node.OpType))
            {
                if (k < node.Inputs.Length && WeightBehind(node.Inputs[k]) is { } weight)
                {
                    int data = k == 1 ? 0 : 1;
                    var (input, source) = data < node.Inputs.Length ? Source(node.Inputs[data]) : (LayerInput.Real, []);
                    _layers[i] = (weight, k, input, source);
                    break;
                }
            }
        }
    }

    /// <summary>Firing rates of the run(s) observed.</summary>
    public FiringRates Rates { get; } = new();

    public int TimeSteps => Math.Max(1, _graph.TimeSteps);

    /// <summary>Images seen by the first weight layer (the run's batch).</summary>
    public int Images
    {
        get
        {
            lock (_gate)
            {
                return _counts.Count == 0 ? 0 : (int)_counts.Values.Max(c => c.Images);
            }
        }
    }

    public bool Observes(LifLayer layer) => true;

    public bool ReadsMembrane => false;

    public void OnStep(LifLayer layer, int t, int batchStart, ReadOnlySpan<int> shape, ReadOnlySpan<float> membrane, ReadOnlySpan<float> spikes) =>
        Rates.OnStep(layer, t, batchStart, shape, membrane, spikes);

    public void OnNode(int node, int images, IReadOnlyList<int[]?> inputShapes, IReadOnlyList<int[]> outputShapes)
    {
        if (!_layers.TryGetValue(node, out var layer) || outputShapes.Count == 0 || images <= 0)
        {
            return;
        }

        var n = _graph.Nodes[node];
        int[] output = outputShapes[0];
        double outElements = output.Aggregate(1.0, (a, d) => a * d);
        int[]? weight = layer.WeightInput < inputShapes.Count ? inputShapes[layer.WeightInput] : null;
        int[]? data = 1 - layer.WeightInput < inputShapes.Count ? inputShapes[1 - layer.WeightInput] : null;
        double fanIn = n.OpType switch
        {
            "Conv" when weight is { Length: > 1 } => weight.Skip(1).Aggregate(1.0, (a, d) => a * d),
            "Gemm" when data is { Length: 2 } => n.Int("transA", 0) != 0 ? data[0] : data[1],
            "MatMul" or LinearFusion.OpType when weight is { Length: >= 2 } => layer.WeightInput == 1 ? weight[^2] : weight[^1],
            _ => 0,
        };
        int t = TimeSteps;
        int passes = t > 1 && (output[0] == t * images || (output.Length > 1 && output[0] == t && output[1] == images)) ? t : 1;
        lock (_gate)
        {
            var (macs, seen, _) = _counts.GetValueOrDefault(node);
            _counts[node] = (macs + (outElements * fanIn), seen + images, passes);
        }
    }

    /// <summary>Every weight layer that ran, in graph order, with its MACs per image per pass (rates not yet set).</summary>
    public IReadOnlyList<EnergyLayer> Layers()
    {
        lock (_gate)
        {
            return [.. _counts.OrderBy(c => c.Key).Select(c =>
            {
                var layer = _layers[c.Key];
                var (macs, images, passes) = c.Value;
                return new EnergyLayer(_graph.Nodes[c.Key].DisplayName, layer.Weight, layer.Input, layer.Sources, macs / images / passes, passes, null, null);
            })];
        }
    }
}
