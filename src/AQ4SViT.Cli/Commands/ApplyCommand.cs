using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Files;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using CommandLine;
using CommandLine.Text;

namespace AQ4SViT.Cli.Commands;

[Verb("apply", HelpText = "Write a quantized ONNX model (QDQ integer weights, or fake-quant FP32) from a model and a setting.json.")]
internal sealed class ApplyCommand : ICommand
{
    [Value(0, MetaName = "MODEL", Required = true, HelpText = "The float .onnx model.")]
    public string Model { get; set; } = "";

    [Option("setting", Required = true, HelpText = "setting.json: granularity, per_channel, symmetric and bits per group (as search writes it).")]
    public string SettingPath { get; set; } = "";

    [Option("out", Required = true, HelpText = "The .onnx file to write (its external data, if any, goes to FILE.data beside it).")]
    public string Out { get; set; } = "";

    [Option("format", Default = "qdq", HelpText = "qdq (integer weights + DequantizeLinear) or fakequant (FP32 weights on the grid).")]
    public string Format { get; set; } = "qdq";

    [Option("int2", HelpText = "Store 2-bit weights as INT2 (opset 25) instead of INT4 (opset 21).")]
    public bool Int2 { get; set; }

    [Option("json", HelpText = "Print one JSON object on stdout and nothing else.")]
    public bool Json { get; set; }

    [Usage(ApplicationAlias = "aq4svit")]
    public static IEnumerable<Example> Examples =>
    [
        Usage.Example("Emit the QDQ model of a setting found by search",
            new ApplyCommand { Model = "models/spikformer-fmnist/model.onnx", SettingPath = "out/setting.json", Out = "out/quantized.onnx" }),
    ];

    public int Run(CommandContext context)
    {
        var format = Format.ToLowerInvariant() switch
        {
            "qdq" => EmitFormat.Qdq,
            "fakequant" or "fake-quant" => EmitFormat.FakeQuant,
            _ => Throw.BadInput<EmitFormat>($"--format must be qdq or fakequant, got '{Format}'"),
        };
        Model = Onnx.Models.ModelLocator.ResolveModelPath(Model);

        if (Directory.Exists(Out))
        {
            Throw.BadInput($"--out {Out} is a folder; give the .onnx file to write");
        }

        AtomicFile.RequireWritableFolder(Path.GetDirectoryName(Path.GetFullPath(Out)) ?? ".", $"--out {Out}");

        var model = OnnxModelFile.Load(Model);
        var weights = WeightCatalog.Find(model);
        var setting = Setting.Load(SettingPath, weights);
        // The model is read for this call only: the emitter may rewrite it in place (one copy of the weights at a time).
        long sourceBytes = model.FileBytes();
        var options = EmitOptions.Default with { Widths = Int2 ? StorageWidths.Int2 : StorageWidths.Int4, ConsumeSource = true };
        var result = ModelEmitter.Write(model, setting, Out, format, options);
        var m = result.Memory;
        if (Json)
        {
            context.WriteJson(new
            {
                @out = result.Path,
                data_file = result.DataPath,
                format = format == EmitFormat.Qdq ? "qdq" : "fakequant",
                opset = result.Opset,
                ir_version = result.IrVersion,
                quantized_weights = result.QuantizedWeights,
                weight_params = m.WeightParams,
                fp32_weight_bytes = m.Fp32WeightBytes,
                quantized_weight_bytes = m.QuantizedWeightBytes,
                scale_overhead_bytes = m.ScaleOverheadBytes,
                stored_weight_bytes = m.StoredWeightBytes,
                memory_saving = m.MemorySaving,
                onnx_file_bytes = result.TotalBytes,
                source_file_bytes = sourceBytes,
                storage_types = result.StorageTypes,
            });
        }
        else
        {
            context.Output.WriteLine($"{result.Path}: {(format == EmitFormat.Qdq ? "QDQ" : "fake-quant")}, opset {result.Opset}, {result.QuantizedWeights} of {weights.Count} weights quantized");
            context.Output.WriteLine($"  weights {m.Fp32WeightBytes:N0} B fp32 -> {m.QuantizedWeightBytes:N0} B ({m.AverageBits:F2} bits/param, memory saving {m.MemorySaving:P1}); scales/zero points {m.ScaleOverheadBytes:N0} B");
            context.Output.WriteLine($"  file {result.TotalBytes:N0} B (source {sourceBytes:N0} B)" + (result.DataPath is null ? "" : $"; data in {result.DataPath}"));
        }

        return ExitCodes.Success;
    }
}
