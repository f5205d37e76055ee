using AQ4SViT.Onnx.Core;


namespace AQ4SViT.Onnx.Models;

/// <summary>Finds the bundled models and datasets: beside the tool (packed as content) or in the source tree.</summary>
public static class ModelLocator
{
    public const string BundledModelName = "spikformer-fmnist";

    /// <summary>The <c>models/</c> folder: next to the running binary, else the nearest one above the current directory.</summary>
    public static string? FindModelsRoot()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "models");
                if (File.Exists(Path.Combine(candidate, BundledModelName, "model.onnx")))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    public static string BundledModelPath()
    {
        string root = FindModelsRoot()
            ?? Throw.BadInput<string>($"bundled model models/{BundledModelName}/model.onnx not found next to the tool or above the current folder; pass MODEL");
        return Path.Combine(root, BundledModelName, "model.onnx");
    }

    /// <summary>
    /// The .onnx file a MODEL argument names: the file itself, or <c>model.onnx</c> inside a folder (as <c>models/NAME/</c>
    /// holds it). A folder without one, or a path that does not exist, is bad input naming the path.
    /// </summary>
    public static string ResolveModelPath(string path)
    {
        if (Directory.Exists(path))
        {
            string inside = Path.Combine(path, "model.onnx");
            return File.Exists(inside)
                ? inside
                : Throw.BadInput<string>($"{path}: a folder without model.onnx; give the .onnx file");
        }

        if (!File.Exists(path))
        {
            Throw.FileMissing(path, "model");
        }

        return path;
    }

    /// <summary>
    /// The dataset folder to use: <paramref name="dataOption"/> if given; else the card's dataset under
    /// <c>models/datasets/</c> (next to the model's folder, then the bundled root).
    /// </summary>
    public static string ResolveDataDirectory(string modelPath, string? dataOption, ModelCard? card)
    {
        if (!string.IsNullOrEmpty(dataOption))
        {
            return dataOption;
        }

        if (card is null || string.IsNullOrEmpty(card.Dataset))
        {
            return Throw.BadInput<string>($"{modelPath}: no card.json naming a dataset beside the model; pass --data DIR");
        }

        string modelDir = Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";
        string beside = Path.Combine(modelDir, "..", "datasets", card.Dataset);
        if (Directory.Exists(beside))
        {
            return Path.GetFullPath(beside);
        }

        if (FindModelsRoot() is { } root && Directory.Exists(Path.Combine(root, "datasets", card.Dataset)))
        {
            return Path.Combine(root, "datasets", card.Dataset);
        }

        return Throw.BadInput<string>($"{modelPath}: dataset '{card.Dataset}' named by card.json not found under models/datasets/; pass --data DIR");
    }
}
