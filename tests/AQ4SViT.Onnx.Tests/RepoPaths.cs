namespace AQ4SViT.Onnx.Tests;

/// <summary>Paths into the source tree (models, datasets), found by walking up from the test binary.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Models => Path.Combine(Root, "models");

    public static string FashionMnist => Path.Combine(Models, "datasets", "fashion-mnist");

    public static string Model(string name) => Path.Combine(Models, name, "model.onnx");

    /// <summary>The bundled reference models every model-level test runs on.</summary>
    public static TheoryData<string> BundledModels => new() { "spikformer-fmnist", "spikformer-fmnist-dynamo", "sdt-fmnist" };

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AQ4SViT.Onnx.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("AQ4SViT.Onnx.sln not found above " + AppContext.BaseDirectory);
    }
}
