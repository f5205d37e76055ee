using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate;

/// <summary>Runs a prepared graph once on one input tensor; values are dropped after their last reader.</summary>
internal static class GraphExecutor
{
    /// <summary>Milliseconds per op type when AQ4SVIT_PROFILE=1 (printed at exit); null otherwise.</summary>
    private static readonly Dictionary<string, double>? s_profile = CreateProfile();

    private static Dictionary<string, double>? CreateProfile()
    {
        if (Environment.GetEnvironmentVariable("AQ4SVIT_PROFILE") != "1")
        {
            return null;
        }

        var profile = new Dictionary<string, double>(StringComparer.Ordinal);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var (op, ms) in profile.OrderByDescending(p => p.Value))
            {
                Console.Error.WriteLine($"profile {op,-24} {ms,10:F1} ms");
            }
        };
        return profile;
    }

    /// <summary>
    /// Runs the graph on <paramref name="input"/>; with <paramref name="record"/>, keeps copies of the live values before
    /// the nodes it names; with <paramref name="resume"/>, starts at its node from values recorded by an earlier run
    /// (input unused).
    /// </summary>
    public static Tensor Run(
        SpikingGraph graph, Tensor? input, IReadOnlyDictionary<string, Tensor>? overrides, ExecContext ctx, LiveValues? record = null, (int Node, LiveValues From)? resume = null)
    {
        var values = resume is { } r
            ? new Dictionary<string, Tensor>(r.From.At(r.Node), StringComparer.Ordinal)
            : new Dictionary<string, Tensor>(StringComparer.Ordinal) { [graph.InputName] = input! };
        var nodes = graph.Nodes;
        var arena = new TensorArena { MaxElements = TensorArena.Limit(graph.Constants.Values, graph.TimeSteps, input?.Length ?? values.Values.Select(v => (long)v.Length).DefaultIfEmpty(0).Max()) };
        ctx = ctx.IsConstant is null ? ctx.With(graph) : ctx;
        using var scope = arena.Enter();
        for (int i = resume?.Node ?? 0; i < nodes.Count; i++)
        {
            var node = nodes[i];
            record?.TakeBefore(i, values);
            var inputs = new Tensor?[node.Inputs.Length];
            for (int k = 0; k < inputs.Length; k++)
            {
                inputs[k] = Lookup(graph, values, overrides, node.Inputs[k], node);
            }

            if (graph.OverwritesInput[i] && inputs[0] is { } dying)
            {
                arena.Donate(dying);
            }

            Tensor[] outputs;
            long started = s_profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                outputs = OpKernels.Run(node, inputs, ctx, graph.BaseDirectory);
            }
            catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidOperationException or InvalidCastException or NullReferenceException or OverflowException or DivideByZeroException)
            {
                // The model's shapes or types do not fit the op: bad input naming the node (exit 3), not a crash.
                throw new BadInputException(
                    $"node '{node.DisplayName}' ({node.OpType}) failed on inputs {string.Join(", ", inputs.Select(t => t?.ToString() ?? "-"))}: {e.Message}", e);
            }

            arena.EndNode();
            ctx.NodeObserver?.OnNode(i, input?.Shape[0] ?? 0, [.. inputs.Select(t => t?.Shape)], [.. outputs.Select(t => t.Shape)]);
            if (s_profile is not null)
            {
                lock (s_profile)
                {
                    string key = Environment.GetEnvironmentVariable("AQ4SVIT_PROFILE_NODES") == "1" ? $"{node.OpType} {node.DisplayName} {inputs[0]}" : node.OpType;
                    s_profile[key] = s_profile.GetValueOrDefault(key) + System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                }
            }

            for (int k = 0; k < node.Outputs.Length && k < outputs.Length; k++)
            {
                if (node.Outputs[k].Length > 0)
                {
                    values[node.Outputs[k]] = outputs[k];
                    arena.AddReference(outputs[k]);
                }
            }

            foreach (string dead in graph.LastUse[i])
            {
                if (values.Remove(dead, out var gone))
                {
                    arena.Release(gone);
                }
            }

            foreach (string shapeOnly in graph.ShapeOnlyAfter[i])
            {
                if (values.TryGetValue(shapeOnly, out var read))
                {
                    values[shapeOnly] = read.ShapeOnly();
                    arena.Release(read);
                }
            }
        }

        return values.TryGetValue(graph.OutputName, out var output)
            ? output
            : Lookup(graph, values, overrides, graph.OutputName, null)!;
    }

    private static Tensor? Lookup(SpikingGraph graph, Dictionary<string, Tensor> values, IReadOnlyDictionary<string, Tensor>? overrides, string name, Node? node)
    {
        if (name.Length == 0)
        {
            return null;
        }

        if (values.TryGetValue(name, out var t))
        {
            return t;
        }

        if (overrides is not null && overrides.TryGetValue(name, out t))
        {
            return t;
        }

        return graph.Constants.TryGetValue(name, out t)
            ? t
            : Throw.BadInput<Tensor>($"value '{name}' read by {node?.ToString() ?? "the graph output"} is not available");
    }
}
