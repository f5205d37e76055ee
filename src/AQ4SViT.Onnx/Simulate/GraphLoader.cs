using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Simulate.Ops;

namespace AQ4SViT.Onnx.Simulate;

/// <summary>
/// Builds the <see cref="SpikingGraph"/> from an ONNX file: decodes initializers once, folds Constant nodes, sorts
/// topologically (a cycle is bad input naming a node), checks every op is supported, folds subgraphs whose inputs are
/// all constant (never through a weight, so weight overrides stay live), fuses LIF populations, drops dead nodes.
/// </summary>
public static class GraphLoader
{
    /// <summary>Upper bound on floats per image (C·H·W): 2^28, far beyond any vision model's input.</summary>
    private const long MaxImageElements = 1L << 28;

    /// <summary>The newest ONNX opset there is as of this writing (25); a larger number is a corrupt or future file whose op forms we cannot know.</summary>
    private const int MaxOpset = 25;

    /// <summary>Loads and prepares a model file; the protobuf's tensor bytes are let go as they are decoded.</summary>
    public static SpikingGraph Load(string path) => Load(OnnxModelFile.Load(path), releaseInitializerData: true);

    /// <param name="releaseInitializerData">Empty each initializer's raw_data once decoded, so that a large model is never held
    /// twice (protobuf bytes and floats). The file's tensors are unusable afterwards: only for a file loaded for this call.</param>
    public static SpikingGraph Load(OnnxModelFile file, bool recognizeLif = true, bool releaseInitializerData = false)
    {
        var g = file.Graph;
        var opsets = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var o in file.Proto.OpsetImport)
        {
            opsets[o.Domain == "ai.onnx" ? "" : o.Domain] = (int)o.Version;
        }

        int defaultOpset = opsets.GetValueOrDefault("");
        if (defaultOpset is < 1 or > MaxOpset)
        {
            Throw.BadFile(file.Path, defaultOpset == 0
                ? "no opset import for the default ONNX domain"
                : $"opset {defaultOpset} of the default ONNX domain is outside the 1–{MaxOpset} this tool knows");
        }

        var diagnostics = new List<string>();
        var constants = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, proto) in file.InitializersByName())
        {
            var value = Decode(proto, file.BaseDirectory);
            if (value.IsFloat)
            {
                TensorDecoder.RequireFinite(name, value.Floats);
            }

            constants[name] = value;
            if (releaseInitializerData && !proto.RawData.IsEmpty)
            {
                proto.RawData = Google.Protobuf.ByteString.Empty;
            }
        }

        var inputs = g.Input.Where(i => !constants.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1)
        {
            Throw.BadFile(file.Path, $"expected one image input, found {inputs.Count} ({string.Join(", ", inputs.Select(i => i.Name))})");
        }

        if (g.Output.Count < 1)
        {
            Throw.BadFile(file.Path, "the graph has no output");
        }

        string inputName = inputs[0].Name;
        int[] inputDims = ShapeOf(inputs[0], file.Path);
        string outputName = g.Output[0].Name;
        int[] outputDims = ShapeOf(g.Output[0], file.Path);
        if (inputDims.Skip(1).Aggregate(1L, (n, d) => d > 0 ? n * d : n) > MaxImageElements)
        {
            Throw.BadTensor(inputName, $"{file.Path}: input dims [{string.Join(",", inputDims)}] are impossibly large for one image");
        }

        var nodes = new List<Node>();
        int unnamed = 0;
        Node ToNode(NodeProto np)
        {
            string domain = np.Domain == "ai.onnx" ? "" : np.Domain;
            string name = np.Name.Length > 0 ? np.Name : $"{np.OpType}_{unnamed++}";
            var attrs = np.Attribute.ToDictionary(a => a.Name, a => a, StringComparer.Ordinal);
            return new Node(np.OpType, name, domain, opsets.TryGetValue(domain, out int v) ? v : 0, np.Input.ToArray(), np.Output.ToArray(), attrs)
            {
                Scope = ScopeOf(np),
            };
        }

        void TakeConstant(NodeProto np)
        {
            string name = np.Name.Length > 0 ? np.Name : np.Output.FirstOrDefault() ?? "Constant";
            if (np.Output.Count != 1)
            {
                Throw.BadNode("Constant", name, "expected one output");
            }

            constants[np.Output[0]] = DecodeConstant(name, np.Attribute.ToDictionary(a => a.Name, a => a, StringComparer.Ordinal), file.BaseDirectory);
        }

        // SpikingJelly 0.0.0.0.14's scripted LIF reaches ONNX as a Loop (TorchScript exporter): unrolled here, once. Its
        // trip count comes from shapes; the probe reads it, and takes the Constant nodes as they are emitted.
        TripCountProbe? probe = null;
        IEnumerable<NodeProto> protoNodes = g.Node;
        if (LoopUnroller.HasLoops(g))
        {
            probe = new TripCountProbe(ToNode, TakeConstant, constants, inputName, inputDims, file.BaseDirectory);
            protoNodes = LoopUnroller.Unroll(g, file.BaseDirectory, defaultOpset, probe);
        }

        protoNodes = protoNodes.ToList();
        var shapeConstants = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, value) in probe?.ShapeConstants() ?? [])
        {
            constants[name] = value;
            shapeConstants.Add(name);
        }

        foreach (var np in protoNodes)
        {
            if (np.Output.Count > 0 && np.Output.All(o => o.Length == 0 || shapeConstants.Contains(o)))
            {
                continue; // computed from the fixed input shape by the probe
            }

            if (np.OpType == "Constant" && (np.Domain is "" or "ai.onnx"))
            {
                TakeConstant(np);
                continue;
            }

            if (np.Attribute.Any(a => a.Type is AttributeProto.Types.AttributeType.Graph or AttributeProto.Types.AttributeType.Graphs))
            {
                Throw.UnsupportedOp(np.OpType, np.Name, "subgraph attributes (control flow other than a Loop with a static trip count) are not supported");
            }

            nodes.Add(ToNode(np));
        }

        if (probe is { ReadAtBatchOne: true })
        {
            diagnostics.Add("Loop trip counts were read from shapes at batch 1 (the batch is symbolic): the unrolled graph is valid at batch 1 only if they depend on it");
        }

        int originalCount = g.Node.Count;
        nodes = TopologicalOrder(nodes, constants, inputName, file.Path);
        foreach (var n in nodes)
        {
            int needed = OpFacts.RequiredInputs(n.OpType, n.Opset);
            if (n.Inputs.Length < needed || n.Inputs.Take(needed).Any(i => i.Length == 0))
            {
                Throw.BadNode(n.OpType, n.DisplayName, $"needs {needed} inputs, has {n.Inputs.Count(i => i.Length > 0)} ({string.Join(", ", n.Inputs.Select(i => i.Length == 0 ? "-" : $"'{i}'"))})");
            }

            if (n.Outputs.Length == 0 || n.Outputs[0].Length == 0)
            {
                Throw.BadNode(n.OpType, n.DisplayName, "has no output");
            }
        }

        nodes = GraphRewrites.RemoveIdentities(nodes, outputName);
        GraphRewrites.ShapesThroughScatter(nodes);
        // Which initializers are weights is the quantizer's rule (WeightRule); folding never runs through them.
        var weightNames = WeightRule.Find(g, file.InitializersByName()).Select(w => w.Name).ToHashSet(StringComparer.Ordinal);
        var weights = FindWeights(nodes, constants, weightNames);
        nodes = FoldConstants(nodes, constants, weightNames, file.BaseDirectory);
        nodes = GraphRewrites.JoinScatteredSteps(nodes, constants);
        var lifs = new List<LifLayer>();
        if (recognizeLif)
        {
            // Dead nodes first: an export may keep the last step's unused reset, which would look like an outside reader.
            nodes = RemoveDead(nodes, outputName);
            try
            {
                nodes = LifRecognizer.Fuse(nodes, constants, lifs, diagnostics);
            }
            catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidOperationException or NullReferenceException)
            {
                // The recogniser reads candidate nodes by position; a malformed node it trips over is bad input.
                Throw.BadFile(file.Path, $"malformed nodes in a LIF-like pattern ({e.Message})", e);
            }

        }

        nodes = BatchNormLastFusion.Fuse(RemoveDead(nodes, outputName), outputName);
        nodes = LinearFusion.Fuse(nodes, constants, outputName);

        // After the rewrites and fusions: what they absorbed (a Loop's scatters, say) needs no kernel of its own.
        foreach (var n in nodes.Where(n => !OpKernels.IsSupported(n)))
        {
            Throw.UnsupportedOp(n.Domain.Length > 0 ? $"{n.Domain}.{n.OpType}" : n.OpType, n.DisplayName);
        }

        return new SpikingGraph(file.Path, opsets, nodes, constants, inputName, inputDims, outputName, outputDims, lifs, weights, originalCount)
        {
            LifDiagnostics = diagnostics,
        };
    }

    /// <summary>A graph input's or output's dims; unknown or symbolic dims are -1, dims beyond int range are bad input.</summary>
    private static int[] ShapeOf(ValueInfoProto value, string path)
    {
        var dims = value.Type?.TensorType?.Shape?.Dim;
        if (dims is null)
        {
            return [];
        }

        var result = new int[dims.Count];
        for (int i = 0; i < result.Length; i++)
        {
            var d = dims[i];
            if (d.HasDimValue && d.DimValue > int.MaxValue)
            {
                Throw.BadTensor(value.Name, $"{path}: dim {i} is {d.DimValue}, beyond what any image or batch can be");
            }

            result[i] = d.HasDimValue && d.DimValue > 0 ? (int)d.DimValue : -1;
        }

        return result;
    }

    /// <summary>Scope for naming: dynamo's name-scope metadata when present, else the node name.</summary>
    private static string? ScopeOf(NodeProto np)
    {
        foreach (var m in np.MetadataProps)
        {
            if (m.Key is "pkg.torch.onnx.name_scopes" or "namespace")
            {
                return m.Value;
            }
        }

        return null;
    }

    internal static Tensor Decode(TensorProto proto, string baseDirectory)
    {
        int[] shape = TensorDecoder.Dims(proto).Select(d => (int)d).ToArray();
        var kind = ShapeOps.KindOf(proto);
        return kind == ElementKind.Int64
            ? Tensor.FromLongs(TensorDecoder.ToInt64s(proto, baseDirectory), shape)
            : Tensor.FromFloats(TensorDecoder.ToFloats(proto, baseDirectory), shape, kind);
    }

    private static Tensor DecodeConstant(string name, Dictionary<string, AttributeProto> attrs, string baseDirectory)
    {
        if (attrs.TryGetValue("value", out var a))
        {
            return a.T is null
                ? Throw.BadInput<Tensor>($"node '{name}' (Constant): attribute 'value' holds no tensor")
                : Decode(a.T, baseDirectory);
        }

        if (attrs.TryGetValue("value_float", out a))
        {
            return Tensor.FromFloats([a.F], []);
        }

        if (attrs.TryGetValue("value_floats", out a))
        {
            return Tensor.FromFloats(a.Floats.ToArray(), [a.Floats.Count]);
        }

        if (attrs.TryGetValue("value_int", out a))
        {
            return Tensor.ScalarLong(a.I);
        }

        if (attrs.TryGetValue("value_ints", out a))
        {
            return Tensor.VectorLong(a.Ints.ToArray());
        }

        return Throw.BadInput<Tensor>($"node '{name}' (Constant): no supported value attribute ({string.Join(", ", attrs.Keys)})");
    }

    private static List<Node> TopologicalOrder(List<Node> nodes, Dictionary<string, Tensor> constants, string inputName, string path)
    {
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (string o in nodes[i].Outputs)
            {
                if (o.Length > 0 && !producer.TryAdd(o, i))
                {
                    Throw.BadNode(nodes[i].OpType, nodes[i].DisplayName, $"output '{o}' is also produced by another node");
                }
            }
        }

        var pending = new int[nodes.Count];
        var readers = new List<int>[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (string input in nodes[i].Inputs.Distinct())
            {
                if (input.Length == 0 || constants.ContainsKey(input) || input == inputName)
                {
                    continue;
                }

                if (!producer.TryGetValue(input, out int p))
                {
                    Throw.BadNode(nodes[i].OpType, nodes[i].DisplayName, $"input '{input}' is not produced by any node, initializer or graph input ({path})");
                }

                pending[i]++;
                (readers[p] ??= []).Add(i);
            }
        }

        // Kahn's algorithm; ties keep file order so the result is deterministic.
        var ready = new PriorityQueue<int, int>();
        for (int i = 0; i < nodes.Count; i++)
        {
            if (pending[i] == 0)
            {
                ready.Enqueue(i, i);
            }
        }

        var order = new List<Node>(nodes.Count);
        while (ready.TryDequeue(out int i, out _))
        {
            order.Add(nodes[i]);
            foreach (int r in readers[i] ?? [])
            {
                if (--pending[r] == 0)
                {
                    ready.Enqueue(r, r);
                }
            }
        }

        if (order.Count != nodes.Count)
        {
            int stuck = Enumerable.Range(0, nodes.Count).First(i => pending[i] > 0);
            Throw.BadNode(nodes[stuck].OpType, nodes[stuck].DisplayName, $"the graph has a cycle through this node ({path})");
        }

        return order;
    }

    /// <summary>
    /// Where the <paramref name="weights"/> (<see cref="WeightRule"/>'s) are read in the prepared graph: by Conv/Gemm
    /// (input 1) or MatMul (either input), directly or through a chain of Identity/Transpose/Reshape/Cast/Squeeze/Unsqueeze
    /// (dynamo's Linear reads Transpose(weight)). The chain stays in the graph (never folded) so that a quantized override
    /// of the weight is what runs.
    /// </summary>
    private static List<WeightTensor> FindWeights(List<Node> nodes, Dictionary<string, Tensor> constants, HashSet<string> weights)
    {
        var producer = new Dictionary<string, Node>(StringComparer.Ordinal);
        foreach (var n in nodes)
        {
            foreach (string o in n.Outputs)
            {
                producer.TryAdd(o, n);
            }
        }

        string Source(string value)
        {
            for (int hops = 0; hops < 8 && !weights.Contains(value) && producer.TryGetValue(value, out var p) &&
                 p.OpType is "Identity" or "Transpose" or "Reshape" or "Cast" or "Squeeze" or "Unsqueeze" && p.HasInput(0); hops++)
            {
                value = p.Inputs[0];
            }

            return value;
        }

        var result = new List<WeightTensor>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in nodes)
        {
            // In input order (MatMul's A before B), as the loader has always listed them.
            foreach (int s in OpFacts.WeightSlots(n.OpType).Order())
            {
                if (!n.HasInput(s))
                {
                    continue;
                }

                string source = Source(n.Inputs[s]);
                if (weights.Contains(source) && constants[source] is { IsFloat: true } t && seen.Add(source))
                {
                    result.Add(new WeightTensor(source, t.Shape, t.Length, n.OpType, n.DisplayName));
                }
            }
        }

        return result;
    }

    private static List<Node> FoldConstants(List<Node> nodes, Dictionary<string, Tensor> constants, HashSet<string> weights, string baseDirectory)
    {
        // Folded values are shapes, indices and masks: none may outgrow the model's largest constant (or 4 Mi elements)
        // while it is computed, or a damaged shape constant makes ConstantOfShape allocate gigabytes here (issue 25).
        long largest = constants.Values.Select(c => (long)c.Length).DefaultIfEmpty(0).Max();
        using var limit = new TensorArena { MaxElements = Math.Clamp(4 * largest, 1L << 22, int.MaxValue), Pools = false }.Enter();
        var kept = new List<Node>(nodes.Count);
        foreach (var n in nodes)
        {
            bool foldable = OpKernels.IsSupported(n) && n.Inputs.All(i => i.Length == 0 || (constants.ContainsKey(i) && !weights.Contains(i)));
            if (!foldable)
            {
                kept.Add(n);
                continue;
            }

            var inputs = n.Inputs.Select(i => i.Length == 0 ? null : constants[i]).ToArray();
            Tensor[] outputs;
            try
            {
                outputs = OpKernels.Run(n, inputs, ExecContext.Serial, baseDirectory);
            }
            catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidOperationException or InvalidCastException or NullReferenceException or OverflowException or DivideByZeroException)
            {
                // Folding runs the kernels on the model's own constants: a failure means they do not fit the op.
                return Throw.BadNode<List<Node>>(n.OpType, n.DisplayName, $"cannot fold constant inputs {string.Join(", ", inputs.Select(t => t?.ToString() ?? "-"))}: {e.Message}");
            }

            for (int k = 0; k < n.Outputs.Length && k < outputs.Length; k++)
            {
                if (n.Outputs[k].Length > 0)
                {
                    constants[n.Outputs[k]] = outputs[k];
                }
            }
        }

        return kept;
    }

    private static List<Node> RemoveDead(List<Node> nodes, string output)
    {
        var live = new HashSet<string>(StringComparer.Ordinal) { output };
        var keep = new bool[nodes.Count];
        for (int i = nodes.Count - 1; i >= 0; i--)
        {
            if (nodes[i].Outputs.Any(live.Contains))
            {
                keep[i] = true;
                foreach (string input in nodes[i].Inputs)
                {
                    live.Add(input);
                }
            }
        }

        return nodes.Where((_, i) => keep[i]).ToList();
    }
}
