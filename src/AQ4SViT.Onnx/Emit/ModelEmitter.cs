using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Quantize;
using Google.Protobuf;
using DataType = AQ4SViT.Onnx.Import.Proto.TensorProto.Types.DataType;

namespace AQ4SViT.Onnx.Emit;

/// <summary>What the emitter writes.</summary>
public enum EmitFormat
{
    /// <summary>Integer weights (INT2/INT4/INT8/INT16, unsigned when asymmetric) feeding DequantizeLinear nodes.</summary>
    Qdq,

    /// <summary>The original graph with FP32 weights moved onto the quantization grid.</summary>
    FakeQuant,
}

/// <summary>When the output keeps its tensors in a separate <c>&lt;file&gt;.data</c>.</summary>
public enum ExternalDataMode
{
    /// <summary>When the source model had external data, or the tensors pass <see cref="ModelWriter.InlineLimitBytes"/>.</summary>
    Auto,
    Always,
    Never,
}

/// <param name="Widths">Smallest container for 2-bit weights: INT4 (opset 21, default) or INT2 (opset 25).</param>
/// <param name="ExternalData">Whether to write <c>&lt;file&gt;.data</c>.</param>
/// <param name="EmbedSetting">Record the setting and format in the model's metadata_props (<c>aq4svit.setting</c>, <c>aq4svit.format</c>).</param>
/// <param name="ConsumeSource">Rewrite the source model's protobuf in place instead of a copy, so that each replaced weight's
/// bytes can go as soon as it is rewritten: a large model is then never held twice. The source <see cref="OnnxModelFile"/>
/// must not be used afterwards (the CLI's <c>apply</c> sets it; the search, which emits twice, does not).</param>
public sealed record EmitOptions(StorageWidths Widths = StorageWidths.Int4, ExternalDataMode ExternalData = ExternalDataMode.Auto, bool EmbedSetting = true, bool ConsumeSource = false)
{
    public static EmitOptions Default { get; } = new();
}

/// <summary>What was written.</summary>
public sealed record EmitResult(
    string Path,
    string? DataPath,
    EmitFormat Format,
    int Opset,
    long IrVersion,
    long OnnxFileBytes,
    long DataFileBytes,
    int QuantizedWeights,
    IReadOnlyDictionary<string, string> StorageTypes,
    MemoryReport Memory)
{
    /// <summary>The model file plus its data file: the on-disk size.</summary>
    public long TotalBytes => OnnxFileBytes + DataFileBytes;
}

/// <summary>
/// Rewrites a model's weight initializers according to a <see cref="Setting"/>, leaving every other node, name, input and
/// output as it was. Output is deterministic (same model + setting → same bytes) and written atomically.
/// <para>QDQ: each quantized weight <c>W</c> becomes initializers <c>W_quantized</c> (integers), <c>W_scale</c> (float, one per
/// output channel, or a scalar per tensor) and, when asymmetric, <c>W_zero_point</c>, feeding a DequantizeLinear node
/// named <c>W_DequantizeLinear</c> (axis = the channel axis) whose output is named <c>W</c>, so consumers are unchanged.
/// DequantizeLinear nodes come first in the node list. INT8 needs opset 13; INT4/INT16 raise the model to opset 21 (IR 10),
/// INT2 to 25, rewriting nodes whose form changed (<see cref="OpsetUpgrader"/>).</para>
/// <para>Fake-quant: every quantized weight replaced in place by FP32 values on the grid (bit-identical to what
/// DequantizeLinear computes from the QDQ file); the opset is unchanged.</para>
/// </summary>
public static class ModelEmitter
{
    public const string SettingMetadataKey = "aq4svit.setting";
    public const string FormatMetadataKey = "aq4svit.format";
    public const string DatasetMetadataKey = "aq4svit.dataset";
    public const string ScalingMetadataKey = "aq4svit.input_scaling";

    /// <param name="weights">The run's weight table (<see cref="WeightTable"/>) of <paramref name="model"/> with the
    /// setting's options, whose quantized tensors this reads; null: the emitter decodes the weights itself, one at a time.</param>
    public static EmitResult Write(OnnxModelFile model, Setting setting, string outPath, EmitFormat format, EmitOptions? options = null, WeightTable? weights = null)
    {
        options ??= EmitOptions.Default;
        if (string.Equals(Path.GetFullPath(outPath), model.Path, StringComparison.Ordinal))
        {
            Throw.BadInput($"{outPath}: the output would overwrite the source model; choose another --out");
        }

        bool sourceExternal = ModelWriter.HasExternalData(model.Proto);
        var (proto, memory, storage) = Build(model, setting, format, options, weights);
        bool external = options.ExternalData switch
        {
            ExternalDataMode.Always => true,
            ExternalDataMode.Never => false,
            _ => sourceExternal || ModelWriter.TensorDataBytes(proto) > ModelWriter.InlineLimitBytes,
        };
        string? dataPath = ModelWriter.Write(proto, outPath, model.BaseDirectory, external);
        int opset = (int)(proto.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 0);
        return new EmitResult(
            Path.GetFullPath(outPath),
            dataPath,
            format,
            opset,
            proto.IrVersion,
            new FileInfo(outPath).Length,
            dataPath is null ? 0 : new FileInfo(dataPath).Length,
            memory.QuantizedWeights,
            storage,
            memory);
    }

    /// <summary>
    /// The rewritten model in memory (tensors that were external in the source stay external references to the
    /// source's folder until written by <see cref="ModelWriter"/>). Also returns the memory report and, per quantized
    /// weight, the ONNX type it is stored in ("INT4", "UINT8", "FLOAT" for fake-quant).
    /// </summary>
    /// <param name="table">As <see cref="Write"/>'s <c>weights</c>.</param>
    public static (ModelProto Model, MemoryReport Memory, IReadOnlyDictionary<string, string> StorageTypes) Build(OnnxModelFile model, Setting setting, EmitFormat format, EmitOptions? options = null, WeightTable? table = null)
    {
        options ??= EmitOptions.Default;
        var weights = table?.Weights ?? WeightCatalog.Find(model);
        if (!setting.IsBound)
        {
            setting = setting.Bind(weights);
        }

        bool ownTable = false;
        if (table is null || table.Options != setting.Options)
        {
            // Nothing cached: each weight is quantized once here, and let go of before the next (Release).
            table = new WeightTable(model, weights, setting.Options, cacheBytes: 0);
            ownTable = true;
        }

        var memory = MemoryAccounting.Compute(weights, setting, options.Widths);
        var proto = options.ConsumeSource ? model.Proto : model.Proto.Clone();
        var graph = proto.Graph;
        var names = new OpsetUpgrader.UniqueNames(proto);
        var initializerIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < graph.Initializer.Count; i++)
        {
            initializerIndex[graph.Initializer[i].Name] = i;
        }

        var storage = new Dictionary<string, string>(StringComparer.Ordinal);
        var dequantizeNodes = new List<NodeProto>();
        var removed = new HashSet<int>();
        var added = new List<TensorProto>();
        int requiredOpset = 0;
        for (int w = 0; w < weights.Count; w++)
        {
            var weight = weights[w];
            int bits = setting.BitsOfWeight(weight.Name);
            if (bits >= Setting.Fp32)
            {
                continue;
            }

            int index = initializerIndex[weight.Name];
            var source = graph.Initializer[index];
            // Fake-quant: the cached floats of the table (what the search evaluated); QDQ: their codes and scales. Both
            // are taken before Release lets go of the weight's floats.
            float[]? grid = format == EmitFormat.FakeQuant ? table.At(w, bits) : null;
            QuantizedTensor? codes = grid is null ? table.Quantized(w, bits) : null;
            if (ownTable)
            {
                table.Release(w);
            }

            if (options.ConsumeSource && !source.RawData.IsEmpty)
            {
                source.RawData = ByteString.Empty; // decoded: the bytes are not needed again
            }

            if (grid is not null)
            {
                var replacement = QuantizedTensors.FloatTensor(weight.Name, weight.Shape, grid);
                replacement.DocString = source.DocString;
                graph.Initializer[index] = replacement;
                storage[weight.Name] = "FLOAT";
                continue;
            }

            var q = codes!; // QDQ: taken above
            var type = QuantizedTensors.StorageType(bits, setting.Options.Symmetric, options.Widths);
            requiredOpset = Math.Max(requiredOpset, MinimumOpset(type, q.PerChannel));
            storage[weight.Name] = type.ToString().ToUpperInvariant();

            string qName = names.Make(weight.Name + "_quantized");
            string scaleName = names.Make(weight.Name + "_scale");
            added.Add(QuantizedTensors.IntegerTensor(qName, weight.Shape, q.Values, type));
            added.Add(QuantizedTensors.FloatTensor(scaleName, q.PerChannel ? [q.Scales.Length] : [], q.Scales));
            var node = new NodeProto { OpType = "DequantizeLinear", Name = names.Make(weight.Name + "_DequantizeLinear") };
            node.Input.Add(qName);
            node.Input.Add(scaleName);
            if (q.ZeroPoints is { } zp)
            {
                string zpName = names.Make(weight.Name + "_zero_point");
                added.Add(QuantizedTensors.IntegerTensor(zpName, q.PerChannel ? [zp.Length] : [], zp, type));
                node.Input.Add(zpName);
            }

            node.Output.Add(weight.Name);
            if (q.PerChannel)
            {
                node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = q.Axis });
            }

            dequantizeNodes.Add(node);
            removed.Add(index);
        }

        if (format == EmitFormat.Qdq && dequantizeNodes.Count > 0)
        {
            // Keep the surviving initializers in their order, then the new ones in weight order.
            var kept = graph.Initializer.Where((_, i) => !removed.Contains(i)).ToList();
            var removedNames = removed.Select(i => graph.Initializer[i].Name).ToHashSet(StringComparer.Ordinal);
            graph.Initializer.Clear();
            graph.Initializer.AddRange(kept);
            graph.Initializer.AddRange(added);
            // Old-style models list initializers as graph inputs too; a weight that is now computed is no input.
            var inputs = graph.Input.Where(v => !removedNames.Contains(v.Name)).ToList();
            graph.Input.Clear();
            graph.Input.AddRange(inputs);
            var nodes = dequantizeNodes.Concat(graph.Node).ToList();
            graph.Node.Clear();
            graph.Node.AddRange(nodes);
            OpsetUpgrader.Upgrade(proto, requiredOpset, model.Path);
        }

        if (options.EmbedSetting)
        {
            SetMetadata(proto, SettingMetadataKey, setting.ToJson().TrimEnd('\n'));
            SetMetadata(proto, FormatMetadataKey, format == EmitFormat.Qdq ? "qdq" : "fakequant");
            // The source's card (dataset, input scaling) travels along, so the emitted file validates without it.
            if (Models.ModelCard.TryLoadBeside(model.Path) is { } card && !string.IsNullOrEmpty(card.Dataset))
            {
                SetMetadata(proto, DatasetMetadataKey, card.Dataset);
                SetMetadata(proto, ScalingMetadataKey, card.Input?.Scaling ?? "pixel/255");
            }
        }

        return (proto, memory, storage);
    }

    /// <summary>The setting an emitted model records in its metadata, or null.</summary>
    public static Setting? EmbeddedSetting(OnnxModelFile model)
    {
        var entry = model.Proto.MetadataProps.FirstOrDefault(e => e.Key == SettingMetadataKey);
        return entry is null ? null : Setting.Parse(entry.Value, $"{model.Path} (metadata {SettingMetadataKey})");
    }

    /// <summary>The dataset and input scaling an emitted model carries from its source's card, as a card; null when it has none.</summary>
    public static Models.ModelCard? EmbeddedCard(OnnxModelFile model)
    {
        string? dataset = model.Proto.MetadataProps.FirstOrDefault(e => e.Key == DatasetMetadataKey)?.Value;
        if (string.IsNullOrEmpty(dataset))
        {
            return null;
        }

        string scaling = model.Proto.MetadataProps.FirstOrDefault(e => e.Key == ScalingMetadataKey)?.Value ?? "pixel/255";
        return new Models.ModelCard { Dataset = dataset, Input = new Models.CardInput { Scaling = scaling } };
    }

    private static int MinimumOpset(DataType type, bool perChannel) =>
        !perChannel && type is DataType.Int8 or DataType.Uint8 ? 10 : QuantizedTensors.MinimumOpset(type);

    private static void SetMetadata(ModelProto proto, string key, string value)
    {
        var existing = proto.MetadataProps.FirstOrDefault(e => e.Key == key);
        if (existing is null)
        {
            proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }
        else
        {
            existing.Value = value;
        }
    }
}

/// <summary>The QDQ emitter (integer weights + DequantizeLinear); see <see cref="ModelEmitter"/>.</summary>
internal static class QdqEmitter
{
    public static EmitResult Write(OnnxModelFile model, Setting setting, string outPath, EmitOptions? options = null) =>
        ModelEmitter.Write(model, setting, outPath, EmitFormat.Qdq, options);
}

/// <summary>The fake-quant emitter (FP32 weights on the grid); see <see cref="ModelEmitter"/>.</summary>
internal static class FakeQuantEmitter
{
    public static EmitResult Write(OnnxModelFile model, Setting setting, string outPath, EmitOptions? options = null) =>
        ModelEmitter.Write(model, setting, outPath, EmitFormat.FakeQuant, options);
}
