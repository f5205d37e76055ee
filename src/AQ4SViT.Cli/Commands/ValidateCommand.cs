using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Runners;
using CommandLine;
using CommandLine.Text;

namespace AQ4SViT.Cli.Commands;

[Verb("validate", HelpText = "Run an emitted (quantized) model in ONNX Runtime on the test split; with --reference, compare with our simulator.")]
internal sealed class ValidateCommand : DataFileOptions, ICommand
{
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
        ValidateRunner.CheckBatch(Batch);
        string model = ResolveModel(Model);
        string? reference = Reference is null ? null : ResolveModel(Reference);
        var emitted = ValidateRunner.ReadEmitted(model, reference);
        var (card, cardOwner) = ValidateRunner.ResolveCard(model, reference, emitted.Card);
        var scaling = ResolveScaling(card);
        var images = DataSplits.Select(LoadData(cardOwner, card), DataSplit.Test, Limit);
        var result = ValidateRunner.Run(new ValidateRequest
        {
            ModelPath = model,
            ReferencePath = reference,
            Reference = emitted.Reference,
            Images = images,
            Scaling = scaling,
            Setting = emitted.Setting,
            Device = Device,
            Threads = Threads,
            Batch = Batch,
            OrtFused = OrtFused,
            Info = line => context.Info($"aq4svit: {line}"),
            Phase = (label, count, evaluate) => ConsoleUi.WithProgress(context, Quiet || Json, label, count, evaluate),
        }, context.Cancellation);
        var (quantized, device, floatResult, floatComparison, simResult, simComparison) = result;
        long fileBytes = emitted.FileBytes;
        long referenceBytes = emitted.ReferenceFileBytes;

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
}
