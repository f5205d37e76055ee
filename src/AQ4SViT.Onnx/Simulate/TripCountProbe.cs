using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import.Proto;

namespace AQ4SViT.Onnx.Simulate;

/// <summary>
/// Reads a Loop trip count that the export computes from shapes (SpikingJelly 0.0.0.0.14 loops over
/// <c>Gather(Shape(x_seq), 0)</c>): runs the graph up to it, once, on a zero image of the input's declared shape
/// (batch 1 where the batch is symbolic). The count is used only when it depends on shapes alone: every path from it
/// back to the image passes through a Shape node. Nodes are run as the unroller emits them, each once.
/// </summary>
internal sealed class TripCountProbe(
    Func<NodeProto, Node> toNode, Action<NodeProto> takeConstant, Dictionary<string, Tensor> constants, string inputName, int[] inputDims, string baseDirectory)
{
    private readonly Dictionary<string, Tensor> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _readsImage = new(StringComparer.Ordinal) { inputName };
    private readonly List<NodeProto> _pending = [];
    private bool _started;

    /// <summary>Whether the batch was symbolic, so a count was read at batch 1 (said in the model's diagnostics).</summary>
    public bool ReadAtBatchOne { get; private set; }

    public void Emitted(NodeProto node) => _pending.Add(node);

    /// <summary>
    /// Values the probe computed from shapes alone (a Loop's buffers made by ConstantOfShape(Shape(...)), say): constants
    /// of the graph when the input's shape is fixed, batch included; none when the batch is symbolic.
    /// </summary>
    public IEnumerable<KeyValuePair<string, Tensor>> ShapeConstants()
    {
        if (!_started || ReadAtBatchOne)
        {
            return [];
        }

        foreach (var np in _pending)
        {
            Run(np, "(none)");
        }

        _pending.Clear();
        return _values.Where(kv => !_readsImage.Contains(kv.Key));
    }

    public long? TripCount(string value, string loopName)
    {
        if (!_started)
        {
            _started = true;
            if (inputDims.Skip(1).Any(d => d <= 0))
            {
                return null;
            }

            ReadAtBatchOne = inputDims.Length > 0 && inputDims[0] <= 0;
            int[] shape = inputDims.Select(d => d <= 0 ? 1 : d).ToArray();
            _values[inputName] = Tensor.NewFloats(shape);
        }

        foreach (var np in _pending)
        {
            Run(np, loopName);
        }

        _pending.Clear();
        if (_readsImage.Contains(value) || !(_values.TryGetValue(value, out var t) || constants.TryGetValue(value, out t)) || t.Length != 1)
        {
            return null;
        }

        return t.ToLongArray()[0];
    }

    private void Run(NodeProto np, string loopName)
    {
        if (np.OpType == "Constant")
        {
            takeConstant(np);
            return;
        }

        var node = toNode(np);
        if (!OpKernels.IsSupported(node))
        {
            Throw.UnsupportedOp(node.OpType, node.DisplayName, $"needed to compute the trip count of Loop '{loopName}'");
        }

        var inputs = node.Inputs.Select(i => i.Length == 0 ? null : _values.TryGetValue(i, out var v) ? v : constants.GetValueOrDefault(i)).ToArray();
        Tensor[] outputs;
        try
        {
            outputs = OpKernels.Run(node, inputs, ExecContext.Serial, baseDirectory);
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidOperationException or NullReferenceException)
        {
            Throw.BadNode(node.OpType, node.DisplayName, $"cannot run it to find the trip count of Loop '{loopName}': {e.Message}");
            return;
        }

        bool reads = node.OpType != "Shape" && node.Inputs.Any(_readsImage.Contains);
        for (int k = 0; k < node.Outputs.Length && k < outputs.Length; k++)
        {
            _values[node.Outputs[k]] = outputs[k];
            if (reads)
            {
                _readsImage.Add(node.Outputs[k]);
            }
        }
    }
}
