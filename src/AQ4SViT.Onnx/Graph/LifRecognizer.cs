using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Graph;

/// <summary>
/// Finds LIF populations by what they compute and replaces each by one fused node. Anchor: the spikes of T steps joined
/// by Concat(axis 0) (of Unsqueeze(axis 0), or of a constant-shape Reshape when an unrolled Loop wrote them); each spike
/// is Cast(GreaterOrEqual(v − thr, 0)) or Cast(GreaterOrEqual(v, thr)). Each step's v is then read as an arithmetic
/// expression of the step before's (v, s) and step t of one (T, ...) input, and <see cref="FitLif"/> finds the LIF
/// charge, reset and initial state that computes the same in float, whatever the export's node shapes (folded step 0,
/// Sub(v, 0) kept, Neg-based reset, Identity for detach, ÷τ or ×1/τ, IF and PLIF). Every intermediate must be read only
/// inside the neuron; anything else stays plain ops, and a spiking-looking Concat that does not fit says why.
/// </summary>
internal static partial class LifRecognizer
{
    /// <summary>Op type of fused LIF nodes (domain "aq4svit").</summary>
    public const string OpType = "AQ4SViT.Lif";

    /// <summary>The fill of an initial membrane made at run time: ConstantOfShape, or Expand of a scalar constant (with
    /// the Shape it reads, usually of x₀); the nodes join <paramref name="used"/>.</summary>
    private static float? InitialFill(GraphMatcher c, string value, HashSet<Node> used)
    {
        void TakeShapeOf(Node fill, int input)
        {
            used.Add(fill);
            if (fill.HasInput(input) && c.Op(fill.Inputs[input], "Shape") is { } shape)
            {
                used.Add(shape);
            }
        }

        if (c.Op(value, "ConstantOfShape") is { } cos)
        {
            var fill = cos.TensorAttribute("value");
            TakeShapeOf(cos, 0);
            return fill is null ? 0f : Import.TensorDecoder.ToFloats(fill, ".")[0];
        }

        if (c.Op(value, "Expand") is { } expand && c.Scalar(expand.Inputs[0]) is { } e)
        {
            TakeShapeOf(expand, 1);
            return e;
        }

        return null;
    }

    /// <param name="diagnostics">Receives one line per spiking-looking structure that was not recognised, naming the node
    /// and the rule it broke.</param>
    public static List<Node> Fuse(List<Node> nodes, Dictionary<string, Tensor> constants, List<LifLayer> layers, List<string>? diagnostics = null)
    {
        var ctx = new GraphMatcher(new GraphIndex(nodes), constants);
        var removed = new HashSet<Node>();
        var replacement = new Dictionary<Node, Node>();
        foreach (var concat in nodes.Where(n => n.OpType == "Concat"))
        {
            var match = TryMatch(concat, ctx, out string? why);
            if (match is null || match.Value.Nodes.Overlaps(removed))
            {
                if (why is not null)
                {
                    diagnostics?.Add($"Concat '{concat.DisplayName}' joins spikes but is no LIF layer: {why}");
                }

                continue;
            }

            var (layerTemplate, used) = match.Value;
            string name = layerTemplate.Name.Length > 0 ? layerTemplate.Name : $"lif.{layers.Count}";
            var layer = layerTemplate with { Index = layers.Count, Name = UniqueName(name, layers) };
            layers.Add(layer);
            removed.UnionWith(used);
            replacement[concat] = new Node(OpType, layer.Name, "aq4svit", 1, [layer.Input], [layer.Output], new Dictionary<string, Import.Proto.AttributeProto>()) { Lif = layer };
        }

        // Threshold steps left as plain ops: Cast(GreaterOrEqual) to float that no recognised layer took.
        int loose = nodes.Count(n => n.OpType is "GreaterOrEqual" or "Greater" && !removed.Contains(n) &&
            ctx.Index.Readers(n.Outputs[0]).Any(x => x.OpType == "Cast" && x.Int("to", 0) == 1));
        if (loose > 0)
        {
            diagnostics?.Add($"{loose} threshold step(s) (Cast of GreaterOrEqual or Greater) are not part of a recognised LIF layer and run as plain ops" +
                (layers.Count == 0 ? "; membrane drift then has no LIF layer to read" : ""));
        }

        var result = new List<Node>(nodes.Count);
        foreach (var n in nodes)
        {
            if (replacement.TryGetValue(n, out var fused))
            {
                result.Add(fused);
            }
            else if (!removed.Contains(n))
            {
                result.Add(n);
            }
        }

        return result;
    }

    private static string UniqueName(string name, List<LifLayer> layers)
    {
        string candidate = name;
        for (int k = 1; layers.Any(l => l.Name == candidate); k++)
        {
            candidate = $"{name}#{k}";
        }

        return candidate;
    }

    private static (LifLayer Layer, HashSet<Node> Nodes)? TryMatch(Node concat, GraphMatcher c, out string? why)
    {
        why = null;
        if (concat.Int("axis", -1) != 0 || concat.Inputs.Length < 1)
        {
            return null;
        }

        int steps = concat.Inputs.Length;
        var used = new HashSet<Node> { concat };
        var spikes = new string[steps];
        var membranes = new string[steps];
        float? thr = null;
        long[]? stepShape = null;
        for (int t = 0; t < steps; t++)
        {
            var spike = StepSpike(concat.Inputs[t], c, used, ref stepShape);
            if (spike is null)
            {
                // Not spikes at all (an ordinary Concat), unless an earlier step was.
                why = t > 0 ? $"input {t} is not a spike (Cast of a threshold comparison) reaching the Concat through Unsqueeze/Reshape/Expand" : null;
                return null;
            }

            var ge = c.Index.Producer(c.Op(spike, "Cast")!.Inputs[0])!;
            if (ge.OpType != "GreaterOrEqual")
            {
                why = $"step {t} fires on a strict '{ge.OpType}' ('{ge.DisplayName}'); SpikingJelly's Heaviside fires at v − v_threshold ≥ 0";
                return null;
            }

            used.Add(ge);
            float stepThr;
            string v;
            if (c.Scalar(ge.Inputs[1]) == 0f && c.Op(ge.Inputs[0], "Sub") is { } sub && c.Scalar(sub.Inputs[1]) is { } th)
            {
                used.Add(sub);
                v = sub.Inputs[0];
                stepThr = th;
            }
            else if (c.Scalar(ge.Inputs[1]) is { } th2)
            {
                v = ge.Inputs[0];
                stepThr = th2;
            }
            else
            {
                why = $"step {t}: the threshold of '{ge.DisplayName}' is not a constant";
                return null;
            }

            if (thr is not null && thr != stepThr)
            {
                why = $"step {t}: threshold {stepThr} differs from step 0's {thr}";
                return null;
            }

            thr = stepThr;
            spikes[t] = spike;
            membranes[t] = v;
        }

        // Each step's membrane as an expression of (v before reset, spike) of the step before and x_t; step 0 of x_0.
        string? x = null;
        var stepExprs = new StepExpression[steps];
        for (int t = 0; t < steps; t++)
        {
            string[] leaves = t == 0 ? [] : [membranes[t - 1], spikes[t - 1]];
            var expr = StepExpression.Build(membranes[t], leaves, c, used, out string? input, out why);
            if (expr is null)
            {
                why = $"step {t} ('{membranes[t]}'): {why}";
                return null;
            }

            string? source = input is null ? null : StepSource(input, t, c, used);
            if (source is null || (x is not null && x != source))
            {
                why = $"step {t}: the charge does not read step {t} of the same (T, ...) input (reads '{input ?? "no input"}')";
                return null;
            }

            x = source;
            stepExprs[t] = expr;
        }

        var fit = FitLif(stepExprs, thr!.Value, out why);
        if (fit is null)
        {
            return null;
        }

        // Every value made inside the pattern must be read only inside it (the spikes leave through the Concat).
        foreach (var n in used)
        {
            if (n == concat)
            {
                continue;
            }

            foreach (string o in n.Outputs)
            {
                if (c.Index.Readers(o).FirstOrDefault(r => !used.Contains(r)) is { } outside)
                {
                    why = $"'{o}' of {n.OpType} '{n.DisplayName}' is also read outside the neuron, by {outside.OpType} '{outside.DisplayName}'";
                    return null;
                }
            }
        }

        var f = fit.Value;
        var layer = new LifLayer
        {
            Index = 0,
            Name = NameOf(concat, used),
            Tau = f.Charge.TauIsMultiplier ? 1f / f.Charge.TauConstant : f.Charge.TauConstant,
            VThreshold = thr.Value,
            VReset = f.VReset,
            DecayInput = f.DecayInput,
            TimeSteps = steps,
            Charge = f.Charge,
            Form = (concat.Name.Contains("/iter", StringComparison.Ordinal) ? "Loop, unrolled at import" : "unrolled") + (f.Exact ? "" : ", approximate"),
            StepShape = stepShape,
            Input = x!,
            Output = concat.Outputs[0],
        };
        return (layer, used);
    }

    /// <summary>
    /// The spike of one step as it enters the joining Concat: Unsqueeze(axis 0) of Cast(GreaterOrEqual(...)) (or a strict
    /// Greater, which is then refused with its reason) to float, or,
    /// from an unrolled Loop's ScatterND, a Reshape to a constant [1, ...] (optionally of an Expand to the same constant
    /// shape, a no-op the export adds). Returns the Cast's output.
    /// </summary>
    private static string? StepSpike(string value, GraphMatcher c, HashSet<Node> used, ref long[]? stepShape)
    {
        var path = new List<Node>();
        if (c.Op(value, "Unsqueeze") is { } unsq && UnsqueezesAxis0(unsq, c))
        {
            path.Add(unsq);
            value = unsq.Inputs[0];
        }
        else if (c.Op(value, "Reshape") is { } reshape && c.Longs(reshape.Inputs[1]) is [1, .. var rest] && rest.All(d => d > 0))
        {
            path.Add(reshape);
            value = reshape.Inputs[0];
            if (c.Op(value, "Expand") is { } expand && c.Longs(expand.Inputs[1]) is { } to && to.SequenceEqual(rest))
            {
                path.Add(expand);
                value = expand.Inputs[0];
            }

            if (stepShape is not null && !stepShape.SequenceEqual(rest))
            {
                return null;
            }

            stepShape = rest;
        }
        else
        {
            return null;
        }

        if (c.Op(value, "Cast") is not { } cast || cast.Int("to", 0) != 1 ||
            (c.Op(cast.Inputs[0], "GreaterOrEqual") ?? c.Op(cast.Inputs[0], "Greater")) is null)
        {
            return null;
        }

        used.UnionWith(path);
        used.Add(cast);
        return value;
    }

    private static bool UnsqueezesAxis0(Node unsq, GraphMatcher c)
    {
        long[]? axes = (unsq.HasInput(1) ? c.Longs(unsq.Inputs[1]) : null) ?? unsq.Ints("axes");
        return axes is [0];
    }

    /// <summary>x_t must be step t of one (T, ...) tensor: Gather(X, t, axis 0), or Squeeze(Slice(X, t, t+1, axis 0), 0).</summary>
    private static string? StepSource(string xt, int t, GraphMatcher c, HashSet<Node> used)
    {
        if (c.Op(xt, "Gather") is { } gather && gather.Int("axis", 0) == 0 &&
            c.Constant(gather.Inputs[1], out var idx) && idx.Rank == 0 && idx.ToLongArray()[0] == t)
        {
            used.Add(gather);
            return gather.Inputs[0];
        }

        if (c.Op(xt, "Squeeze") is { } squeeze && c.Op(squeeze.Inputs[0], "Slice") is { } slice && slice.Inputs.Length >= 4 &&
            c.Constant(slice.Inputs[1], out var starts) && c.Constant(slice.Inputs[2], out var ends) &&
            c.Constant(slice.Inputs[3], out var axes) &&
            starts.ToLongArray() is [var s] && s == t && ends.ToLongArray() is [var e] && e == t + 1 && axes.ToLongArray() is [0] &&
            (!squeeze.HasInput(1) || (c.Constant(squeeze.Inputs[1], out var sq) && sq.ToLongArray() is [0])))
        {
            used.UnionWith([squeeze, slice]);
            return slice.Inputs[0];
        }

        return null;
    }

    /// <summary>The module scope: dynamo's name-scope metadata, else the common "/a/b/" prefix of the node names.</summary>
    private static string NameOf(Node concat, HashSet<Node> used)
    {
        if (concat.Scope is { Length: > 0 } scope && ModulePath(scope) is { Length: > 0 } module)
        {
            return module;
        }

        string name = concat.Name;

        // An unrolled Loop's nodes are "{loop}/iter{i}/...": the Loop is the neuron (TorchScript gives its body no scope).
        int iter = name.IndexOf("/iter", StringComparison.Ordinal);
        if (iter > 0)
        {
            return name[..iter];
        }

        int cut = name.LastIndexOf('/');
        if (cut > 0)
        {
            return name[..cut];
        }

        return "";
    }

    /// <summary>
    /// The LIF module's path from dynamo's scope metadata, in the TorchScript exporter's form so names agree across exporters:
    /// "namespace" ": svit.Spikformer/sps: svit.SpikformerSPS/sps.lifs.0: svit.LIF/stack: aten.stack.default" or
    /// "pkg.torch.onnx.name_scopes" "['', 'sps', 'sps.lifs.0', 'stack']" → "/sps/lifs.0".
    /// </summary>
    internal static string ModulePath(string scope)
    {
        string? module;
        if (scope.StartsWith('['))
        {
            var parts = scope.Trim('[', ']').Split(',').Select(p => p.Trim(' ', '\'', '"')).Where(p => p.Length > 0).ToList();
            module = parts.Count >= 2 ? parts[^2] : parts.LastOrDefault();
        }
        else
        {
            // Segments "name: type"; the last is the op itself (e.g. "stack: aten.stack.default").
            var segments = scope.Split('/');
            module = segments.Length >= 2 ? segments[^2].Split(':')[0].Trim() : null;
        }

        if (string.IsNullOrEmpty(module))
        {
            return "";
        }

        // "blocks.0.attn.q.lif" → "/blocks.0/attn/q/lif" (numeric parts stay with their container).
        var result = new System.Text.StringBuilder();
        foreach (string part in module.Split('.'))
        {
            if (part.Length > 0 && part.All(char.IsAsciiDigit) && result.Length > 0)
            {
                result.Append('.').Append(part);
            }
            else
            {
                result.Append('/').Append(part);
            }
        }

        return result.ToString();
    }
}
