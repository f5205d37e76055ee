using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Graph;

/// <summary>A quantizable weight tensor: an initializer read by Conv, Gemm or MatMul.</summary>
public sealed record WeightTensor(string Name, int[] Shape, long Params, string Op, string Node);

/// <summary>
/// The prepared graph IR: nodes in topological order after Constant folding, constant-foldable subgraphs folded,
/// LIF populations fused into one node each, dead nodes removed. Initializers are decoded once. Shapes are not
/// fixed here: they come from the real tensors at run time.
/// </summary>
public sealed class SpikingGraph
{
    internal SpikingGraph(
        string modelPath,
        IReadOnlyDictionary<string, int> opsets,
        List<Node> nodes,
        Dictionary<string, Tensor> constants,
        string inputName,
        int[] inputDims,
        string outputName,
        int[] outputDims,
        IReadOnlyList<LifLayer> lifLayers,
        IReadOnlyList<WeightTensor> weights,
        int originalNodeCount)
    {
        ModelPath = modelPath;
        BaseDirectory = Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";
        Opsets = opsets;
        Nodes = nodes;
        Constants = constants;
        InputName = inputName;
        InputDims = inputDims;
        OutputName = outputName;
        OutputDims = outputDims;
        LifLayers = lifLayers;
        Weights = weights;
        OriginalNodeCount = originalNodeCount;
        LastUse = ComputeLastUse();
        var lastDataRead = LastDataRead();
        OverwritesInput = ComputeOverwritesInput(lastDataRead);
        ShapeOnlyAfter = ComputeShapeOnlyAfter(lastDataRead);
    }

    public string ModelPath { get; }

    /// <summary>Spiking-looking structure the LIF recogniser did not take, one line each naming the node and the rule it
    /// broke (empty when every threshold step belongs to a recognised layer).</summary>
    public IReadOnlyList<string> LifDiagnostics { get; init; } = [];

    public string BaseDirectory { get; }

    /// <summary>Opset per domain ("" is the default ONNX domain).</summary>
    public IReadOnlyDictionary<string, int> Opsets { get; }

    public int DefaultOpset => Opsets.TryGetValue("", out int v) ? v : (Opsets.TryGetValue("ai.onnx", out v) ? v : 0);

    public IReadOnlyList<Node> Nodes { get; }

    internal Dictionary<string, Tensor> Constants { get; }

    public string InputName { get; }

    /// <summary>Declared input dims; -1 where symbolic (e.g. a dynamic batch).</summary>
    public int[] InputDims { get; }

    public string OutputName { get; }

    /// <summary>Declared output dims; -1 where symbolic.</summary>
    public int[] OutputDims { get; }

    /// <summary>The batch the export baked in (e.g. 1), or null when the batch dimension is dynamic.</summary>
    public int? FixedBatch => InputDims.Length > InputAxes.Batch && InputDims[InputAxes.Batch] > 0 ? InputDims[InputAxes.Batch] : null;

    /// <summary>Which input axis is the batch and which is time (<see cref="Graph.InputAxes"/>): images, or frames <c>[T, B, …]</c> / <c>[B, T, …]</c>.</summary>
    public InputAxes InputAxes => _inputAxes ??= InputAxes.Of(InputDims, TimeSteps, InputName, ModelPath);

    private InputAxes? _inputAxes;

    public IReadOnlyList<LifLayer> LifLayers { get; }

    public IReadOnlyList<WeightTensor> Weights { get; }

    /// <summary>Time steps of the LIF layers (the largest), 0 without LIF layers.</summary>
    public int TimeSteps => LifLayers.Count == 0 ? 0 : LifLayers.Max(l => l.TimeSteps);

    /// <summary>Nodes in the ONNX file, before folding and fusion.</summary>
    public int OriginalNodeCount { get; }

    /// <summary>For each node index, the runtime values whose last reader it is (freed after it runs).</summary>
    internal string[][] LastUse { get; }

    /// <summary>
    /// For each node index, the runtime values whose elements it reads last while Shape nodes still read their shape
    /// later (the multi-step LIF export reshapes by them): after it runs only their shape is kept, so that their buffers
    /// are freed or reused at once.
    /// </summary>
    internal string[][] ShapeOnlyAfter { get; }

    /// <summary>
    /// For each node index, whether its kernel may write its output into input 0's buffer: the op reads each element
    /// before writing the output's element at the same index (LIF, BatchNorm), and no later node reads that input's
    /// elements. The executor still checks that no other value shares the buffer.
    /// </summary>
    internal bool[] OverwritesInput { get; }

    /// <summary>Element type and shape of an initializer (or folded constant), or null.</summary>
    public int[]? ConstantShape(string name) => Constants.TryGetValue(name, out var t) ? t.Shape : null;

    /// <summary>A copy of an initializer's float values (weights), for quantizers.</summary>
    public float[] InitializerFloats(string name) =>
        Constants.TryGetValue(name, out var t) && t.IsFloat
            ? t.Floats.ToArray()
            : Core.Throw.BadTensor<float[]>(name, $"{ModelPath}: no float initializer of this name in the prepared graph");

    /// <summary>
    /// An initializer's float values as the graph holds them, without a copy: the originals of the weight table
    /// (the quantizer's WeightTable), so that a weight is decoded once per run. Not to be written to.
    /// </summary>
    internal float[] InitializerArray(string name) =>
        Constants.TryGetValue(name, out var t) && t.IsFloat && t.FloatData is { } data
            ? (data.Length == t.Length ? data : t.Floats.ToArray())
            : Core.Throw.BadTensor<float[]>(name, $"{ModelPath}: no float initializer of this name in the prepared graph");

    /// <summary>Index of the first node that reads <paramref name="value"/> (e.g. a weight), or −1 when none does.</summary>
    public int FirstReader(string value)
    {
        for (int i = 0; i < Nodes.Count; i++)
        {
            if (Array.IndexOf(Nodes[i].Inputs, value) >= 0)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Overwrites a float initializer's values in place: a simulator that runs one quantized setting for good, without
    /// keeping a second copy of the weights as overrides. Not for use while a run is in progress.
    /// </summary>
    internal void OverwriteInitializer(string name, ReadOnlySpan<float> values)
    {
        if (!Constants.TryGetValue(name, out var t) || !t.IsFloat)
        {
            Core.Throw.BadTensor(name, $"{ModelPath}: no float initializer of this name in the prepared graph");
        }

        if (values.Length != t.Length)
        {
            Core.Throw.BadTensor(name, $"{values.Length} values for an initializer of {t.Length}");
        }

        values.CopyTo(t.Floats);
    }

    /// <summary>Index of the last node that reads each runtime value's elements (Shape nodes read only its shape).</summary>
    private Dictionary<string, int> LastDataRead()
    {
        var last = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Nodes.Count; i++)
        {
            if (Nodes[i].OpType != "Shape")
            {
                foreach (string input in Nodes[i].Inputs)
                {
                    if (input.Length > 0 && !Constants.ContainsKey(input) && input != OutputName)
                    {
                        last[input] = i;
                    }
                }
            }
        }

        return last;
    }

    private bool[] ComputeOverwritesInput(Dictionary<string, int> lastDataRead)
    {
        var result = new bool[Nodes.Count];
        for (int i = 0; i < Nodes.Count; i++)
        {
            var node = Nodes[i];
            result[i] = node.OpType is LifRecognizer.OpType or "BatchNormalization" or BatchNormLastFusion.OpType &&
                node.Inputs.Length > 0 && lastDataRead.TryGetValue(node.Inputs[0], out int last) && last == i;
        }

        return result;
    }

    private string[][] ComputeShapeOnlyAfter(Dictionary<string, int> lastDataRead)
    {
        var lastUse = LastUse.SelectMany((names, i) => names.Select(n => (n, i))).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        var perNode = new List<string>[Nodes.Count];
        foreach (var (name, index) in lastDataRead)
        {
            if (lastUse.TryGetValue(name, out int last) && last > index)
            {
                (perNode[index] ??= []).Add(name);
            }
        }

        return perNode.Select(l => l?.ToArray() ?? []).ToArray();
    }

    private string[][] ComputeLastUse()
    {
        var last = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Nodes.Count; i++)
        {
            foreach (string input in Nodes[i].Inputs)
            {
                if (input.Length > 0 && !Constants.ContainsKey(input))
                {
                    last[input] = i;
                }
            }
        }

        var perNode = new List<string>[Nodes.Count];
        foreach (var (name, index) in last)
        {
            if (name != OutputName)
            {
                (perNode[index] ??= []).Add(name);
            }
        }

        return perNode.Select(l => l?.ToArray() ?? []).ToArray();
    }
}
