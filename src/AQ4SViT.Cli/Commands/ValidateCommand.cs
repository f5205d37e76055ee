using System.Runtime.CompilerServices;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Models;
using AQ4SViT.Onnx.Ort;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Validate;
using CommandLine;
using CommandLine.Text;

namespace AQ4SViT.Cli.Commands;

[Verb("validate", HelpText = "Run an emitted (quantized) model in ONNX Runtime on the test split; with --reference, compare with our simulator.")]
internal sealed class ValidateCommand : DataFileOptions, ICommand
{
    /// <summary>
    /// Runs the reference in our simulator with the emitted model's setting (read from its metadata) fake-quantized:
    /// the weights are exactly those DequantizeLinear yields from the QDQ file. Replaceable (tests, other engines);
    /// when null, <c>--reference</c> reports only ONNX Runtime numbers and leaves <c>sim_accuracy</c>,
    /// <c>argmax_agreement</c> and <c>max_abs_logit_diff</c> out of the JSON.
    /// </summary>
    internal static QuantizedSimulatorFactory? SimulatorFactory { get; set; } = QuantizedSimulator.Create;

    [Value(0, MetaName = "QUANTIZED", Required = true, HelpText = "The emitted .onnx model (QDQ or fake-quant).")]
    public string Model { get; set; } = "";

    [Option("reference", HelpText = "The float model it was made from: also run it (ONNX Runtime) and compare the quantized model with our simulator.")]
    public string? Reference { get; set; }

    [Option("limit", HelpText = "Only the first N images of the test split.")]
    public int? Limit { get; set; }

    [Option("device", Default = "cpu", HelpText = "cpu or cuda[:N] (falls back to the CPU with a message).")]
    public string Device { get; set; } = "cpu";

    [Option("threads", Default = 0, HelpText = "Threads (0: all cores).")]
    public int Threads { get; set; }

    [Option("ort-fused", HelpText = "Run the quantized model with ONNX Runtime's stock QDQ fusions (MatMulNBits with int8 activations) instead of exact dequantization.")]
    public bool OrtFused { get; set; }

    [Option("batch", Default = 100, HelpText = "Images per batch.")]
    public int Batch { get; set; } = 100;

    [Usage(ApplicationAlias = "aq4svit")]
    public static IEnumerable<Example> Examples =>
    [
        Usage.Example("Top-1 of a QDQ model in ONNX Runtime on the test split, next to its float reference",
            new ValidateCommand { Model = "out/quantized.onnx", Reference = "models/spikformer-fmnist/model.onnx" }),
    ];

    public int Run(CommandContext context)
    {
        if (Batch < 1)
        {
            Throw.BadInput($"--batch must be at least 1, got {Batch}");
        }

        string model = ResolveModel(Model);
        string? reference = Reference is null ? null : ResolveModel(Reference);
        // Everything needed from the emitted file's protobuf, read once and let go before any session opens.
        var (embeddedCard, embeddedSetting, fileBytes) = ReadEmitted(model);
        long referenceBytes = reference is null ? 0 : FileBytes(reference);
        FreedMemory.Release();

        // The emitted model usually has no card: use the dataset it records, else the reference's card.
        var card = ModelCard.TryLoadBeside(model) ?? embeddedCard;
        string cardOwner = model;
        if (card is null && reference is not null)
        {
            card = ModelCard.TryLoadBeside(reference);
            cardOwner = reference;
        }

        // An emitted model records its dataset and scaling, not the preprocessing: that stays on the reference's card.
        if (card is not null && card.Preprocess is null && reference is not null && ModelCard.TryLoadBeside(reference)?.Preprocess is { } preprocess)
        {
            card = card with { Preprocess = preprocess };
        }

        var scaling = ResolveScaling(card);
        var images = DataSplits.Select(LoadData(cardOwner, card), DataSplit.Test, Limit);
        void Message(string line) => context.Info($"aq4svit: {line}");

        // Our simulator with the same bits first, before ONNX Runtime's library and threads are in the process, which
        // otherwise sat under its phase (spikformer-8-768: peak 2.47x the weights with the simulator last, 2.36x first).
        EvalResult? simResult = null;
        if (reference is not null)
        {
            if (SimulatorFactory is null)
            {
                Message("simulator comparison is not connected yet; reporting ONNX Runtime numbers only");
            }
            else if (embeddedSetting is null)
            {
                Message($"{model} records no setting (metadata '{ModelEmitter.SettingMetadataKey}'); cannot run the simulator with the same bits");
            }
            else
            {
                simResult = Simulated(context, SimulatorFactory, reference, embeddedSetting, scaling, images);
                FreedMemory.Release();
            }
        }

        // Resolved once, so a missing CUDA is reported in one line for both sessions.
        var requested = OrtSessions.Resolve(ComputeDevice.Parse(Device), Message);
        EvalResult quantized;
        string device;
        using (var ort = OrtFused
            ? new OrtClassifier(model, scaling, Threads, requested, Message, OrtQdq.Fused)
            : OrtQdq.OpenExact(model, scaling, Threads, requested, Message))
        {
            quantized = Evaluate(context, "quantized [ort]", ort, images, Batch);
            device = ort.ActualDevice.ToString();
        }

        FreedMemory.Release(); // each engine in turn: a large model's phases must not stack up

        EvalResult? floatResult = null;
        LogitComparison? simComparison = null;
        LogitComparison? floatComparison = null;
        if (reference is not null)
        {
            using (var ort = new OrtClassifier(reference, scaling, Threads, requested, Message))
            {
                floatResult = Evaluate(context, "float [ort]", ort, images, Batch);
            }

            FreedMemory.Release();

            floatComparison = LogitComparison.Compare(quantized, floatResult);
            if (simResult is not null)
            {
                simComparison = LogitComparison.Compare(quantized, simResult);
            }
        }

        if (Json)
        {
            var json = new Dictionary<string, object?>
            {
                ["model"] = Path.GetFullPath(model),
                ["split"] = "test",
                ["images"] = quantized.Images,
                ["device"] = device,
                ["ort_qdq"] = OrtFused ? "fused" : "exact",
                ["ort_accuracy"] = quantized.Accuracy,
                ["ort_images_per_second"] = quantized.ImagesPerSecond,
                ["onnx_file_bytes"] = fileBytes,
            };
            if (floatResult is not null && floatComparison is not null)
            {
                json["reference"] = Path.GetFullPath(reference!);
                json["fp_ort_accuracy"] = floatResult.Accuracy;
                json["accuracy_drop"] = (floatResult.Accuracy - quantized.Accuracy) * 100;
                json["fp_argmax_agreement"] = floatComparison.ArgmaxAgreement;
                json["reference_onnx_file_bytes"] = referenceBytes;
            }

            if (simResult is not null && simComparison is not null)
            {
                json["sim_accuracy"] = simResult.Accuracy;
                json["argmax_agreement"] = simComparison.ArgmaxAgreement;
                json["max_abs_logit_diff"] = simComparison.MaxAbsLogitDiff;
            }

            context.WriteJson(json);
        }
        else
        {
            context.Output.WriteLine($"{Path.GetFileName(model)}: ONNX Runtime top-1 {quantized.Accuracy:P2} on {quantized.Images} test images ({device}, {(OrtFused ? "fused QDQ kernels" : "exact dequantization")}, {quantized.ImagesPerSecond:F1} images/s), {fileBytes:N0} B on disk");
            if (floatResult is not null && floatComparison is not null)
            {
                context.Output.WriteLine($"  float reference: top-1 {floatResult.Accuracy:P2} (drop {(floatResult.Accuracy - quantized.Accuracy) * 100:F2} points), same top-1 class on {floatComparison.ArgmaxAgreement:P1} of images, {referenceBytes:N0} B on disk");
            }

            if (simResult is not null && simComparison is not null)
            {
                context.Output.WriteLine($"  simulator: top-1 {simResult.Accuracy:P2}, argmax agreement {simComparison.ArgmaxAgreement:P2}, max |logit diff| {simComparison.MaxAbsLogitDiff:G4}");
            }
        }

        return ExitCodes.Success;
    }

    /// <summary>
    /// The simulator's phase in a method of its own: a local inside a <c>using</c> may be reported live until its method
    /// returns, and here it holds the model's weights (sdt-8-768: 255 MB still reachable after the phase).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private EvalResult Simulated(CommandContext context, QuantizedSimulatorFactory factory, string reference, Setting setting, InputScaling scaling, ImageSet images)
    {
        using var sim = factory(reference, setting, scaling, Threads);
        return Evaluate(context, "quantized [sim]", sim, images, Batch);
    }

    private static (ModelCard? Card, Setting? Setting, long FileBytes) ReadEmitted(string path)
    {
        var file = OnnxModelFile.Load(path);
        return (ModelEmitter.EmbeddedCard(file), ModelEmitter.EmbeddedSetting(file), file.FileBytes());
    }

    /// <summary>The model file plus its external data file(s).</summary>
    private static long FileBytes(string path) => OnnxModelFile.Load(path).FileBytes();
}
