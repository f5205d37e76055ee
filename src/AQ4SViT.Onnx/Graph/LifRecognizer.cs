using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Graph;

/// <summary>
/// Finds unrolled LIF populations in either exporter's form and replaces each by one fused node.
/// Anchor: spikes joined over T by Concat(axis 0) of Unsqueeze(axis 0). Per step: fire s = Cast(GreaterOrEqual(Sub(v, thr), 0))
/// (or GreaterOrEqual(v, thr)); charge one of
/// <c>v + (x − v)/τ</c>, <c>v + (x − (v − v_r))/τ</c>, <c>(v − v/τ) + x</c>, <c>(v − (v − v_r)/τ) + x</c> (÷τ or ×1/τ, Add/Mul
/// either order) where x = step t of one (T, ...) input; the previous v is the previous step's reset
/// (hard <c>(1 − s)·v + s·v_r</c>, soft <c>v − s·thr</c>) or, at t = 0, a constant fill equal to v_reset (0 for soft).
/// Every intermediate must be read only inside the pattern; anything else stays plain ops.
/// </summary>
public static class LifRecognizer
{
    /// <summary>Op type of fused LIF nodes (domain "aq4svit").</summary>
    public const string OpType = "AQ4SViT.Lif";

    private sealed class Ctx(List<Node> nodes, Dictionary<string, Tensor> constants)
    {
        public Dictionary<string, Node> Producer { get; } = nodes.SelectMany(n => n.Outputs.Where(o => o.Length > 0).Select(o => (o, n))).ToDictionary(p => p.o, p => p.n, StringComparer.Ordinal);

        public Dictionary<string, List<Node>> Readers { get; } = BuildReaders(nodes);

        public Dictionary<string, Tensor> Constants { get; } = constants;

        private static Dictionary<string, List<Node>> BuildReaders(List<Node> nodes)
        {
            var r = new Dictionary<string, List<Node>>(StringComparer.Ordinal);
            foreach (var n in nodes)
            {
                foreach (string i in n.Inputs.Distinct())
                {
                    if (i.Length > 0)
                    {
                        (r.TryGetValue(i, out var l) ? l : r[i] = []).Add(n);
                    }
                }
            }

            return r;
        }

        /// <summary>The value of a constant whose elements are all equal, or null.</summary>
        public float? Scalar(string value)
        {
            // Exporters may wrap Python scalars in CastLike/Cast/Identity of a constant (dynamo's onnxscript does).
            for (int hops = 0; hops < 3 && !Constants.ContainsKey(value) && Producer.TryGetValue(value, out var wrap) &&
                 wrap.OpType is "CastLike" or "Cast" or "Identity" && wrap.HasInput(0); hops++)
            {
                if (wrap.OpType == "Cast" && wrap.Int("to", 1) != 1)
                {
                    return null;
                }

                value = wrap.Inputs[0];
            }

            if (!Constants.TryGetValue(value, out var t) || t.Length == 0)
            {
                return null;
            }

            var f = t.ToFloatArray();
            return f.All(x => x == f[0]) ? f[0] : null;
        }

        public Node? Op(string value, string opType) => Producer.TryGetValue(value, out var n) && n.OpType == opType ? n : null;
    }

    public static List<Node> Fuse(List<Node> nodes, Dictionary<string, Tensor> constants, List<LifLayer> layers)
    {
        var ctx = new Ctx(nodes, constants);
        var removed = new HashSet<Node>();
        var replacement = new Dictionary<Node, Node>();
        foreach (var concat in nodes.Where(n => n.OpType == "Concat"))
        {
            var match = TryMatch(concat, ctx);
            if (match is null || match.Value.Nodes.Overlaps(removed))
            {
                continue;
            }

            var (layerTemplate, used) = match.Value;
            string name = layerTemplate.Name.Length > 0 ? layerTemplate.Name : $"lif.{layers.Count}";
            var layer = layerTemplate with { Index = layers.Count, Name = UniqueName(name, layers) };
            layers.Add(layer);
            removed.UnionWith(used);
            replacement[concat] = new Node(OpType, layer.Name, "aq4svit", 1, [layer.Input], [layer.Output], new Dictionary<string, Import.Proto.AttributeProto>()) { Lif = layer };
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

    private static (LifLayer Layer, HashSet<Node> Nodes)? TryMatch(Node concat, Ctx c)
    {
        if (concat.Int("axis", -1) != 0 || concat.Inputs.Length < 1)
        {
            return null;
        }

        int steps = concat.Inputs.Length;
        var used = new HashSet<Node> { concat };
        var spikes = new string[steps];
        var membranes = new string[steps];
        float? thr = null;
        for (int t = 0; t < steps; t++)
        {
            var unsq = c.Op(concat.Inputs[t], "Unsqueeze");
            if (unsq is null || !UnsqueezesAxis0(unsq, c))
            {
                return null;
            }

            var cast = c.Op(unsq.Inputs[0], "Cast");
            if (cast is null || cast.Int("to", 0) != 1)
            {
                return null;
            }

            var ge = c.Op(cast.Inputs[0], "GreaterOrEqual");
            if (ge is null)
            {
                return null;
            }

            used.UnionWith([unsq, cast, ge]);
            float? stepThr;
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
                return null;
            }

            if (thr is not null && thr != stepThr)
            {
                return null;
            }

            thr = stepThr;
            spikes[t] = unsq.Inputs[0];
            membranes[t] = v;
        }

        // Charge per step; the previous v is the previous step's reset (t > 0) or a constant fill (t = 0).
        string? x = null;
        ChargeForm? form = null;
        bool? decay = null;
        float? vReset = null;
        bool? soft = null;
        float? initial = null;
        for (int t = 0; t < steps; t++)
        {
            var m = new Matcher(c);
            var charge = MatchCharge(m, membranes[t]);
            if (charge is null)
            {
                return null;
            }

            var (stepForm, stepDecay) = charge.Value;
            if ((form is not null && form != stepForm) || (decay is not null && decay != stepDecay))
            {
                return null;
            }

            form = stepForm;
            decay = stepDecay;
            string vp = m.Vars["vp"];
            string xt = m.Vars["x"];
            string? source = StepSource(xt, t, c, m.Nodes);
            if (source is null || (x is not null && x != source))
            {
                return null;
            }

            x = source;
            if (t == 0)
            {
                initial = InitialFill(vp, c, used);
                if (initial is null)
                {
                    return null;
                }
            }
            else
            {
                var r = new Matcher(c);
                r.Vars["s"] = spikes[t - 1];
                r.Vars["v"] = membranes[t - 1];
                var reset = MatchReset(r, vp, thr!.Value);
                if (reset is null || (soft is not null && soft != reset.Value.Soft) || (vReset is not null && reset.Value.VReset is { } rv && rv != vReset))
                {
                    return null;
                }

                soft = reset.Value.Soft;
                vReset = reset.Value.VReset ?? vReset;
                used.UnionWith(r.Nodes);
            }

            used.UnionWith(m.Nodes);
        }

        bool isSoft = soft ?? false;
        float? resetValue = isSoft ? null : (vReset ?? initial);
        if (initial != (resetValue ?? 0f))
        {
            return null;
        }

        if (form!.Value.SubtractsVReset && (isSoft || form.Value.VResetInCharge != resetValue))
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
                if (c.Readers.TryGetValue(o, out var readers) && readers.Any(r => !used.Contains(r)))
                {
                    return null;
                }
            }
        }

        var f = form.Value;
        var layer = new LifLayer
        {
            Index = 0,
            Name = NameOf(concat, used),
            Tau = f.TauIsMultiplier ? 1f / f.TauConstant : f.TauConstant,
            VThreshold = thr!.Value,
            VReset = resetValue,
            DecayInput = decay!.Value,
            TimeSteps = steps,
            Charge = f,
            Input = x!,
            Output = concat.Outputs[0],
        };
        return (layer, used);
    }

    private static bool UnsqueezesAxis0(Node unsq, Ctx c)
    {
        long[]? axes = unsq.HasInput(1) && c.Constants.TryGetValue(unsq.Inputs[1], out var t) ? t.ToLongArray() : unsq.Ints("axes");
        return axes is [0];
    }

    /// <summary>x_t must be step t of one (T, ...) tensor: Gather(X, t, axis 0), or Squeeze(Slice(X, t, t+1, axis 0), 0).</summary>
    private static string? StepSource(string xt, int t, Ctx c, HashSet<Node> used)
    {
        if (c.Op(xt, "Gather") is { } gather && gather.Int("axis", 0) == 0 &&
            c.Constants.TryGetValue(gather.Inputs[1], out var idx) && idx.Rank == 0 && idx.ToLongArray()[0] == t)
        {
            used.Add(gather);
            return gather.Inputs[0];
        }

        if (c.Op(xt, "Squeeze") is { } squeeze && c.Op(squeeze.Inputs[0], "Slice") is { } slice && slice.Inputs.Length >= 4 &&
            c.Constants.TryGetValue(slice.Inputs[1], out var starts) && c.Constants.TryGetValue(slice.Inputs[2], out var ends) &&
            c.Constants.TryGetValue(slice.Inputs[3], out var axes) &&
            starts.ToLongArray() is [var s] && s == t && ends.ToLongArray() is [var e] && e == t + 1 && axes.ToLongArray() is [0] &&
            (!squeeze.HasInput(1) || (c.Constants.TryGetValue(squeeze.Inputs[1], out var sq) && sq.ToLongArray() is [0])))
        {
            used.UnionWith([squeeze, slice]);
            return slice.Inputs[0];
        }

        return null;
    }

    /// <summary>The fill value of the initial membrane: a constant, ConstantOfShape, or Expand of a scalar constant.</summary>
    private static float? InitialFill(string vp, Ctx c, HashSet<Node> used)
    {
        // The fill's shape usually comes from Shape(x_0): that Shape belongs to the pattern too.
        void TakeShapeOf(Node fill, int input)
        {
            used.Add(fill);
            if (fill.HasInput(input) && c.Op(fill.Inputs[input], "Shape") is { } shape)
            {
                used.Add(shape);
            }
        }

        if (c.Scalar(vp) is { } k)
        {
            return k;
        }

        if (c.Op(vp, "ConstantOfShape") is { } cos)
        {
            TakeShapeOf(cos, 0);
            var value = cos.TensorAttribute("value");
            return value is null ? 0f : Import.TensorDecoder.ToFloats(value, ".")[0];
        }

        if (c.Op(vp, "Expand") is { } expand && c.Scalar(expand.Inputs[0]) is { } e)
        {
            TakeShapeOf(expand, 1);
            return e;
        }

        return null;
    }

    private static (ChargeForm Form, bool Decay)? MatchCharge(Matcher m, string v)
    {
        // decay_input, v_reset subtracted: v + (x − (v − vr))/τ
        if (m.Try(v, s => s.Add(s.Var("vp"), s.Scale(s.Sub(s.Var("x"), s.Sub(s.Var("vp"), s.Const("vr")))))))
        {
            return (Form(m, true), true);
        }

        if (m.Try(v, s => s.Add(s.Var("vp"), s.Scale(s.Sub(s.Var("x"), s.Var("vp"))))))
        {
            return (Form(m, false), true);
        }

        if (m.Try(v, s => s.Add(s.Sub(s.Var("vp"), s.Scale(s.Sub(s.Var("vp"), s.Const("vr")))), s.Var("x"))))
        {
            return (Form(m, true), false);
        }

        if (m.Try(v, s => s.Add(s.Sub(s.Var("vp"), s.Scale(s.Var("vp"))), s.Var("x"))))
        {
            return (Form(m, false), false);
        }

        return null;
    }

    private static ChargeForm Form(Matcher m, bool subtracts) =>
        new(subtracts, subtracts ? m.Consts["vr"] : 0f, m.ScaleIsMultiply, m.Consts["tau"]);

    private static (bool Soft, float? VReset)? MatchReset(Matcher m, string value, float thr)
    {
        if (m.Try(value, s => s.Sub(s.Var("v"), s.Mul(s.Var("s"), s.Const("thr")))) && m.Consts["thr"] == thr)
        {
            return (true, null);
        }

        // v − s·1 simplified to v − s (dynamo folds the multiplication by a threshold of 1).
        if (thr == 1f && m.Try(value, s => s.Sub(s.Var("v"), s.Var("s"))))
        {
            return (true, null);
        }

        if (m.Try(value, s => s.Add(s.Mul(s.Sub(s.Const("one"), s.Var("s")), s.Var("v")), s.Mul(s.Var("s"), s.Const("vr")))) && m.Consts["one"] == 1f)
        {
            return (false, m.Consts["vr"]);
        }

        if (m.Try(value, s => s.Mul(s.Sub(s.Const("one"), s.Var("s")), s.Var("v"))) && m.Consts["one"] == 1f)
        {
            return (false, 0f);
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

    /// <summary>Matches small expression patterns against the graph, binding variables to value names and constants to scalars.</summary>
    private sealed class Matcher(Ctx c)
    {
        public Dictionary<string, string> Vars { get; private set; } = new(StringComparer.Ordinal);
        public Dictionary<string, float> Consts { get; private set; } = new(StringComparer.Ordinal);
        public HashSet<Node> Nodes { get; private set; } = [];
        public bool ScaleIsMultiply { get; private set; }

        public bool Try(string value, Func<Matcher, Pattern> build)
        {
            var (vars, consts, nodes, mul) = (new Dictionary<string, string>(Vars), new Dictionary<string, float>(Consts), new HashSet<Node>(Nodes), ScaleIsMultiply);
            if (build(this)(value))
            {
                return true;
            }

            (Vars, Consts, Nodes, ScaleIsMultiply) = (vars, consts, nodes, mul);
            return false;
        }

        public delegate bool Pattern(string value);

        public Pattern Var(string name) => value =>
        {
            if (Vars.TryGetValue(name, out var bound))
            {
                // Fixed-shape exports fold the initial fill into separate but equal constants.
                return bound == value || (c.Scalar(bound) is { } kb && c.Scalar(value) == kb &&
                    c.Constants[bound].Shape.AsSpan().SequenceEqual(c.Constants[value].Shape));
            }

            Vars[name] = value;
            return true;
        };

        public Pattern Const(string name) => value =>
        {
            if (c.Scalar(value) is not { } k)
            {
                return false;
            }

            if (Consts.TryGetValue(name, out var bound))
            {
                return bound == k;
            }

            Consts[name] = k;
            return true;
        };

        private Pattern Binary(string op, bool commutative, Pattern a, Pattern b) => value =>
        {
            if (c.Op(value, op) is not { } n || n.Inputs.Length != 2)
            {
                return false;
            }

            if (TryOrdered(n, a, b, 0, 1) || (commutative && TryOrdered(n, a, b, 1, 0)))
            {
                return true;
            }

            return false;
        };

        private bool TryOrdered(Node n, Pattern a, Pattern b, int ia, int ib)
        {
            var (vars, consts, nodes, mul) = (new Dictionary<string, string>(Vars), new Dictionary<string, float>(Consts), new HashSet<Node>(Nodes), ScaleIsMultiply);
            if (a(n.Inputs[ia]) && b(n.Inputs[ib]))
            {
                Nodes.Add(n);
                return true;
            }

            (Vars, Consts, Nodes, ScaleIsMultiply) = (vars, consts, nodes, mul);
            return false;
        }

        public Pattern Add(Pattern a, Pattern b) => Binary("Add", true, a, b);

        public Pattern Sub(Pattern a, Pattern b) => Binary("Sub", false, a, b);

        public Pattern Mul(Pattern a, Pattern b) => Binary("Mul", true, a, b);

        /// <summary>a/τ as Div(a, τ) or a·(1/τ) as Mul(a, k); binds "tau" to the exported constant.</summary>
        public Pattern Scale(Pattern a) => value =>
        {
            if (Binary("Div", false, a, Const("tau"))(value))
            {
                ScaleIsMultiply = false;
                return true;
            }

            if (Binary("Mul", true, a, Const("tau"))(value))
            {
                ScaleIsMultiply = true;
                return true;
            }

            return false;
        };
    }
}
