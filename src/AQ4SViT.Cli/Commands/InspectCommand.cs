using System.Globalization;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Simulate;
using CommandLine;
using CommandLine.Text;

namespace AQ4SViT.Cli.Commands;

[Verb("inspect", HelpText = "What the simulator sees in a model: opset, time steps, LIF layers, quantizable weights.")]
internal sealed class InspectCommand : ICommand
{
    [Value(0, MetaName = "MODEL", Required = true, HelpText = "The .onnx model.")]
    public string Model { get; set; } = "";

    [Option("json", HelpText = "Print one JSON object on stdout and nothing else.")]
    public bool Json { get; set; }

    [Usage(ApplicationAlias = "aq4svit")]
    public static IEnumerable<Example> Examples =>
    [
        Usage.Example("LIF layers and weights of the bundled Spikformer", new InspectCommand { Model = "models/spikformer-fmnist/model.onnx" }),
    ];

    public int Run(CommandContext context)
    {
        Model = Onnx.Models.ModelLocator.ResolveModelPath(Model);

        // One read of the file: the catalog needs only the graph's structure, then the loader decodes and lets go of the bytes.
        var file = OnnxModelFile.Load(Model);
        var catalog = WeightCatalog.Find(file);
        var graph = GraphLoader.Load(file, releaseInitializerData: true);
        var byInitializer = catalog.ToDictionary(w => w.Name, StringComparer.Ordinal);
        // Users see a weight by its module path (as the search's groups name it); the initializer name stays a second field.
        string NameOf(WeightTensor w) => byInitializer.GetValueOrDefault(w.Name)?.DisplayName ?? w.Name;
        long weightParams = graph.Weights.Sum(w => w.Params);
        if (Json)
        {
            context.WriteJson(new
            {
                model = Path.GetFullPath(Model),
                opset = graph.DefaultOpset,
                time_steps = graph.TimeSteps,
                input = new
                {
                    name = graph.InputName,
                    shape = graph.InputDims,
                    fixed_batch = graph.FixedBatch,
                    layout = graph.InputAxes.Layout,
                    batch_axis = graph.InputAxes.Batch,
                    time_axis = graph.InputAxes.Time,
                    encoding = Encoding(graph),
                },
                nodes = graph.OriginalNodeCount,
                prepared_nodes = graph.Nodes.Count,
                lif_count = graph.LifLayers.Count,
                lif = graph.LifLayers.Select(l => new
                {
                    name = l.Name,
                    tau = l.Tau,
                    v_threshold = l.VThreshold,
                    v_reset = l.VReset,
                    reset = l.Reset == LifReset.Soft ? "soft" : "hard",
                    decay_input = l.DecayInput,
                    time_steps = l.TimeSteps,
                    form = l.Form,
                }),
                lif_diagnostics = graph.LifDiagnostics,
                batch_one_only = graph.FixedBatch == 1,
                weights = graph.Weights.Select(w => new
                {
                    name = NameOf(w),
                    initializer = w.Name,
                    shape = w.Shape,
                    @params = w.Params,
                    op = w.Op,
                    node = w.Node,
                    group = byInitializer.GetValueOrDefault(w.Name)?.Block,
                }),
                weight_params = weightParams,
                fp32_weight_bytes = weightParams * 4,
            });
            return ExitCodes.Success;
        }

        var o = context.Output;
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine($"{Path.GetFullPath(Model)}");
        o.WriteLine($"  opset {graph.DefaultOpset}, input {graph.InputName} [{string.Join(",", graph.InputDims.Select(d => d < 0 ? "N" : d.ToString(inv)))}], " +
                    $"{graph.OriginalNodeCount} nodes → {graph.Nodes.Count} after folding and fusion (LIF layers, Linear layers), T = {graph.TimeSteps}");
        o.WriteLine(graph.InputAxes.IsFrames
            ? $"  input layout {graph.InputAxes.Layout}: axis {graph.InputAxes.Time} is time (T = {graph.InputDims[graph.InputAxes.Time!.Value]}), axis {graph.InputAxes.Batch} the batch; encoding: frames (each time step is its own input frame, e.g. DVS events)"
            : $"  input layout NCHW: encoding: {Encoding(graph)}");
        o.WriteLine();
        o.WriteLine($"{graph.LifLayers.Count} LIF layers" + (graph.LifLayers.Count == 0 ? " (search falls back to logit drift)" : ":"));
        if (graph.LifLayers.Count > 0)
        {
            var lif = ConsoleUi.Table("name", "tau>", "v_threshold>", "v_reset>", "reset", "decay_input", "T>", "form");
            foreach (var l in graph.LifLayers)
            {
                lif.AddCells(l.Name, l.Tau.ToString("G4", inv), l.VThreshold.ToString("G4", inv), l.VReset?.ToString("G4", inv) ?? "-",
                    l.Reset == LifReset.Soft ? "soft" : "hard", l.DecayInput ? "yes" : "no", l.TimeSteps, l.Form);
            }

            ConsoleUi.Write(context, lif);
        }

        foreach (string d in graph.LifDiagnostics)
        {
            o.WriteLine($"warning: {d}");
        }

        if (graph.FixedBatch == 1)
        {
            o.WriteLine("note: the input's batch is fixed at 1 in the export (some upstream code, e.g. QKFormer's T·B loops or SDT-V2's padding, is valid at batch 1 only); images run one at a time");
        }

        o.WriteLine();
        o.WriteLine(string.Create(inv, $"{graph.Weights.Count} weight tensors, {weightParams:N0} params, {weightParams * 4:N0} bytes as fp32:"));
        var weights = ConsoleUi.Table("name", "initializer", "shape", "params>", "op", "block group");
        foreach (var w in graph.Weights)
        {
            weights.AddCells(NameOf(w), w.Name, "[" + string.Join(",", w.Shape) + "]", w.Params.ToString("N0", inv), w.Op, byInitializer.GetValueOrDefault(w.Name)?.Block ?? "-");
        }

        ConsoleUi.Write(context, weights);
        return ExitCodes.Success;
    }

    /// <summary>How the model encodes its input over time: <c>frames</c> (a time axis in the input) or <c>repeated image</c> (direct encoding, T from the LIF layers).</summary>
    private static string Encoding(SpikingGraph graph) =>
        graph.InputAxes.IsFrames ? "frames" : graph.TimeSteps > 0 ? "repeated image" : "image";
}
