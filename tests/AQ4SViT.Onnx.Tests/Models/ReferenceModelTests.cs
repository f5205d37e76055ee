using System.Globalization;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Models;
using AQ4SViT.Onnx.Validate;

namespace AQ4SViT.Onnx.Tests.Models;

/// <summary>The bundled models run in ONNX Runtime and reproduce what PyTorch measured when they were exported.</summary>
public sealed class ReferenceModelTests
{
    public static TheoryData<string> Bundled => RepoPaths.BundledModels;

    [Theory]
    [MemberData(nameof(Bundled))]
    public void Card_DescribesATrainedModelAboveNinetyOnePercent(string name)
    {
        var card = ModelCard.TryLoadBeside(RepoPaths.Model(name));

        Assert.NotNull(card);
        Assert.Equal(name, card.Name);
        Assert.Equal("fashion-mnist", card.Dataset);
        Assert.Equal(4, card.TimeSteps);
        Assert.True(card.Top1Torch >= 0.91, $"{name}: top1_torch {card.Top1Torch}");
        Assert.True(card.Params is > 100_000 and < 4_000_000, $"{name}: {card.Params} params");
    }

    [Theory]
    [MemberData(nameof(Bundled))]
    public void Ort_LogitsOfFirstHundredImages_MatchPyTorchWithin1e4(string name)
    {
        float[][] reference = ReadReferenceLogits(name);
        using var ort = new OrtClassifier(RepoPaths.Model(name), InputScaling.PixelOver255, threads: 2);
        var logits = new float[reference.Length * ort.Classes];

        ort.Logits(SharedData.FashionMnist, 0, reference.Length, logits);

        Assert.Equal(100, reference.Length);
        for (int i = 0; i < reference.Length; i++)
        {
            for (int c = 0; c < ort.Classes; c++)
            {
                float diff = Math.Abs(logits[(i * ort.Classes) + c] - reference[i][c]);
                Assert.True(diff <= 1e-4, $"{name}: image {i} class {c}: ORT {logits[(i * ort.Classes) + c]} vs PyTorch {reference[i][c]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Bundled))]
    public void Ort_Top1OnWholeTestSet_MatchesCardWithinHalfPoint(string name)
    {
        var card = ModelCard.TryLoadBeside(RepoPaths.Model(name))!;
        using var ort = new OrtClassifier(RepoPaths.Model(name), InputScaling.PixelOver255, threads: 2);

        var result = Accuracy.Evaluate(ort, SharedData.FashionMnist, batch: 100);

        Assert.Equal(10_000, result.Images);
        double top1 = card.Top1Torch ?? double.NaN;
        Assert.InRange(result.Accuracy, top1 - 0.005, top1 + 0.005);
    }

    internal static float[][] ReadReferenceLogits(string name) =>
        File.ReadAllLines(Path.Combine(RepoPaths.Models, name, "reference-logits.csv"))
            .Where(l => l.Length > 0)
            .Select(l => l.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray())
            .ToArray();
}
