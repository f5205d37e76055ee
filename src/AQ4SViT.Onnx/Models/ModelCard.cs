using System.Text.Json;
using System.Text.Json.Serialization;
using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Models;

/// <summary>
/// <c>card.json</c> beside a model: what it is, how it was made, what data it expects and what it scored.
/// Only the fields the tool reads are typed; the file may hold more.
/// </summary>
public sealed record ModelCard
{
    public const string FileName = "card.json";

    [JsonPropertyName("name")] public string Name { get; init; } = "";
    [JsonPropertyName("architecture")] public string Architecture { get; init; } = "";
    [JsonPropertyName("dim")] public int Dim { get; init; }
    [JsonPropertyName("depth")] public int Depth { get; init; }
    [JsonPropertyName("heads")] public int Heads { get; init; }
    [JsonPropertyName("time_steps")] public int TimeSteps { get; init; }
    /// <summary>The dataset folder name under <c>models/datasets/</c>; null for models made without one (random weights).</summary>
    [JsonPropertyName("dataset")] public string? Dataset { get; init; }
    [JsonPropertyName("exporter")] public string Exporter { get; init; } = "";
    [JsonPropertyName("torch_version")] public string TorchVersion { get; init; } = "";
    [JsonPropertyName("opset")] public int Opset { get; init; }
    [JsonPropertyName("params")] public long Params { get; init; }
    /// <summary>PyTorch top-1 on the test set; null when the exporter had no labelled data (random-weight models).</summary>
    [JsonPropertyName("top1_torch")] public double? Top1Torch { get; init; }
    [JsonPropertyName("input")] public CardInput? Input { get; init; }
    /// <summary>How images are prepared for the model (torchvision's transforms); null: none beyond <see cref="CardInput.Scaling"/>.</summary>
    [JsonPropertyName("preprocess")] public CardPreprocess? Preprocess { get; init; }

    /// <summary>The card beside <paramref name="modelPath"/>, or null when there is none.</summary>
    public static ModelCard? TryLoadBeside(string modelPath)
    {
        string path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".", FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<ModelCard>(File.ReadAllText(path))
                ?? Throw.BadInput<ModelCard>($"{path}: empty model card");
        }
        catch (JsonException e)
        {
            return Throw.BadInput<ModelCard>($"{path}: not a valid model card ({e.Message})", e);
        }
    }
}

public sealed record CardInput
{
    [JsonPropertyName("name")] public string Name { get; init; } = "";
    [JsonPropertyName("scaling")] public string Scaling { get; init; } = "pixel/255";
}

/// <summary>
/// The card's <c>preprocess</c> object, e.g. <c>{ "resize": 256, "crop": 224, "mean": [0.485, 0.456, 0.406],
/// "std": [0.229, 0.224, 0.225] }</c>; <c>mean</c>/<c>std</c> are one number or one per channel. Options override it.
/// </summary>
public sealed record CardPreprocess
{
    [JsonPropertyName("mean")] public JsonElement? Mean { get; init; }
    [JsonPropertyName("std")] public JsonElement? Std { get; init; }
    [JsonPropertyName("resize")] public int? Resize { get; init; }
    [JsonPropertyName("crop")] public int? Crop { get; init; }
    [JsonPropertyName("grey_to_rgb")] public bool? GreyToRgb { get; init; }
    [JsonPropertyName("rgb_to_grey")] public bool? RgbToGrey { get; init; }

    /// <summary><c>mean</c> or <c>std</c> as floats: a number, or an array of numbers; null when absent.</summary>
    public static float[]? Numbers(JsonElement? value, string name) => value switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v => [v.GetSingle()],
        { ValueKind: JsonValueKind.Array } v when v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number) && v.GetArrayLength() > 0 =>
            v.EnumerateArray().Select(e => e.GetSingle()).ToArray(),
        _ => Throw.BadInput<float[]>($"model card: preprocess.{name} must be a number or an array of numbers"),
    };
}
