using AQ4SViT.Onnx.Data;

namespace AQ4SViT.Onnx.Tests;

/// <summary>
/// The one dataset fixture: the bundled Fashion-MNIST test set, read once for the whole run and shared by every test
/// class. Tests only read it (they take slices and selections).
/// </summary>
internal static class SharedData
{
    private static readonly Lazy<ImageSet> s_fashion = new(() => IdxReader.LoadEvaluationSet(RepoPaths.FashionMnist));

    /// <summary>All 10,000 images; the search split is the first half, the test split the second.</summary>
    public static ImageSet FashionMnist => s_fashion.Value;
}
