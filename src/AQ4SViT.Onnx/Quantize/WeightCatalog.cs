using System.Text.RegularExpressions;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;

namespace AQ4SViT.Onnx.Quantize;

/// <summary>
/// Finds the weights a search may quantize and groups them.
/// <para>Which initializers are weights is <see cref="WeightRule"/>'s one rule (the graph loader uses it too).</para>
/// <para>Blocks come from the PyTorch module path of the weight, read (first that works) from the initializer name
/// (<c>blocks.0.attn.q.linear.weight</c>, dynamo), the consuming node's scope name (<c>/blocks.0/attn/q/linear/MatMul</c>,
/// TorchScript) or its <c>pkg.torch.onnx.name_scopes</c> metadata (dynamo); see <see cref="BlockOf"/>.</para>
/// <para>Users see a weight by its <see cref="QuantizableWeight.DisplayName"/>: the module path, so that the TorchScript and
/// dynamo exports of one model name their weights and groups alike (<see cref="DisplayNames"/>).</para>
/// </summary>
public static partial class WeightCatalog
{
    public const string NetworkGroupName = "network";

    /// <summary>The quantizable weights of <paramref name="model"/> (<see cref="WeightRule"/>) with their module paths, blocks and display names.</summary>
    public static IReadOnlyList<QuantizableWeight> Find(OnnxModelFile model)
    {
        var found = new List<QuantizableWeight>();
        foreach (var slot in WeightRule.Find(model.Graph, model.InitializersByName()))
        {
            var consumer = slot.Consumer;
            string name = slot.Name;
            long[] shape = TensorDecoder.Dims(slot.Tensor);
            string nodeName = string.IsNullOrEmpty(consumer.Name) ? consumer.Output.FirstOrDefault() ?? consumer.OpType : consumer.Name;
            string? module = ModulePathOfInitializer(name) ?? ModulePathOfNode(consumer) ??
                (slot.FirstHop is { } first ? ModulePathOfNode(first) : null);
            string block = module is null or "" ? name : BlockOf(module);
            found.Add(new QuantizableWeight(name, shape, TensorDecoder.ElementCount(slot.Tensor), consumer.OpType, nodeName, slot.ChannelAxis, block) { Module = module is null or "" ? null : module });
        }

        return DisplayNames(found);
    }

    /// <summary>
    /// <paramref name="weights"/> with their <see cref="QuantizableWeight.DisplayName"/>s: the module path, or the
    /// initializer name where the export gives none; where several weights share one (or one is another's initializer
    /// name), the second in graph order gets <c>#2</c>, the third <c>#3</c>, and so on.
    /// </summary>
    public static IReadOnlyList<QuantizableWeight> DisplayNames(IReadOnlyList<QuantizableWeight> weights)
    {
        var taken = new HashSet<string>(weights.Select(w => w.Name), StringComparer.Ordinal);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var named = new List<QuantizableWeight>(weights.Count);
        foreach (var w in weights)
        {
            string name = w.Module ?? w.Name;
            // An initializer name is never another weight's display name: an old setting.json naming it must mean one weight.
            if (!used.Add(name) || (w.Module is not null && taken.Contains(name)))
            {
                int n = 2;
                while (!used.Add($"{name}#{n}") || taken.Contains($"{name}#{n}"))
                {
                    n++;
                }

                name = $"{name}#{n}";
            }

            named.Add(w with { DisplayName = name });
        }

        return named;
    }

    /// <summary>
    /// The groups of <paramref name="weights"/> at a granularity, in graph order of their first weight.
    /// Network: one group "network". Block: one per <see cref="QuantizableWeight.Block"/>. Layer: one per weight, named by its
    /// <see cref="QuantizableWeight.DisplayName"/>. A group's <see cref="WeightGroup.Weights"/> are initializer names.
    /// </summary>
    public static IReadOnlyList<WeightGroup> Groups(IReadOnlyList<QuantizableWeight> weights, Granularity granularity)
    {
        switch (granularity)
        {
            case Granularity.Network:
                return weights.Count == 0 ? [] : [new WeightGroup(NetworkGroupName, weights.Select(w => w.Name).ToList(), weights.Sum(w => w.Params))];
            case Granularity.Layer:
                return weights.Select(w => new WeightGroup(w.DisplayName, [w.Name], w.Params)).ToList();
            case Granularity.Block:
                var order = new List<string>();
                var members = new Dictionary<string, List<QuantizableWeight>>(StringComparer.Ordinal);
                foreach (var w in weights)
                {
                    if (!members.TryGetValue(w.Block, out var list))
                    {
                        members[w.Block] = list = [];
                        order.Add(w.Block);
                    }

                    list.Add(w);
                }

                return order.Select(b => new WeightGroup(b, members[b].Select(w => w.Name).ToList(), members[b].Sum(w => w.Params))).ToList();
            default:
                throw new ArgumentOutOfRangeException(nameof(granularity));
        }
    }

    /// <summary>The group a weight belongs to at a granularity.</summary>
    public static string GroupOf(QuantizableWeight weight, Granularity granularity) => granularity switch
    {
        Granularity.Network => NetworkGroupName,
        Granularity.Block => weight.Block,
        Granularity.Layer => weight.DisplayName,
        _ => throw new ArgumentOutOfRangeException(nameof(granularity)),
    };

    /// <summary>
    /// The block of a PyTorch module path (segments split at '.'):
    /// <list type="number">
    /// <item>a trailing numeric segment (the layer's index in an nn.Sequential such as conv+BN) is dropped once;</item>
    /// <item>if a numeric segment follows the first segment's container at position i (e.g. <c>blocks.0</c>) and at
    /// least two named segments follow it, the block is the path up to the first of them: <c>blocks.0.attn.q.linear</c> →
    /// <c>blocks.0.attn</c>, <c>blocks.0.mlp.fc1</c> → <c>blocks.0.mlp</c>;</item>
    /// <item>otherwise the path up to and including the first numeric segment: <c>sps.convs.0</c> → <c>sps.convs.0</c>;</item>
    /// <item>a path without numbers is its own block: <c>sps.rpe</c>, <c>head</c>, <c>patch_embed.proj_conv</c>.</item>
    /// </list>
    /// </summary>
    public static string BlockOf(string modulePath)
    {
        var segments = modulePath.Split('.', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (segments.Count > 1 && IsIndex(segments[^1]))
        {
            segments.RemoveAt(segments.Count - 1);
        }

        int index = segments.FindIndex(1, IsIndex);
        if (index < 0)
        {
            return string.Join('.', segments);
        }

        int named = segments.Skip(index + 1).Count(s => !IsIndex(s));
        int take = named >= 2 ? index + 2 : index + 1;
        return string.Join('.', segments.Take(take));
    }

    /// <summary>The module path in a parameter name like <c>blocks.0.attn.q.linear.weight</c>; null for exporter names (<c>onnx::MatMul_12</c>, <c>val_3</c>).</summary>
    public static string? ModulePathOfInitializer(string name)
    {
        var m = ParameterName().Match(name);
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>
    /// The module path of a node: from a TorchScript scope name (<c>/sps/convs.0/convs.0.0/Conv</c> → <c>sps.convs.0.0</c>)
    /// or from dynamo's <c>pkg.torch.onnx.name_scopes</c> metadata (the deepest module). Null when neither is there.
    /// </summary>
    public static string? ModulePathOfNode(NodeProto node)
    {
        foreach (var entry in node.MetadataProps)
        {
            if (entry.Key == "pkg.torch.onnx.name_scopes")
            {
                var scopes = QuotedString().Matches(entry.Value).Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value).ToList();
                // Cumulative module paths, first "" (root), last the node's own name.
                for (int i = scopes.Count - 2; i >= 0; i--)
                {
                    if (scopes[i].Length > 0)
                    {
                        return scopes[i];
                    }
                }
            }
        }

        string name = node.Name;
        if (!name.StartsWith('/'))
        {
            return null;
        }

        var parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var path = new List<string>();
        for (int i = 0; i < parts.Length - 1; i++)
        {
            // TorchScript repeats the parent's name for children of containers: "convs.0" then "convs.0.0".
            if (path.Count > 0 && parts[i].StartsWith(path[^1] + ".", StringComparison.Ordinal))
            {
                path[^1] = parts[i];
            }
            else
            {
                path.Add(parts[i]);
            }
        }

        return path.Count == 0 ? null : string.Join('.', path);
    }

    private static bool IsIndex(string segment) => segment.Length > 0 && segment.All(char.IsAsciiDigit);

    [GeneratedRegex(@"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\.(?:weight|bias)$")]
    private static partial Regex ParameterName();

    [GeneratedRegex(@"'((?:[^'\\]|\\.)*)'|""((?:[^""\\]|\\.)*)""")]
    private static partial Regex QuotedString();
}
