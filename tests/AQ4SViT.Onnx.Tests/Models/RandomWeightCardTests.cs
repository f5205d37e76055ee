using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Models;

namespace AQ4SViT.Onnx.Tests.Models;

/// <summary>Cards that tools/export.py writes for random-weight ImageNet-size models have no dataset and no top-1.</summary>
public sealed class RandomWeightCardTests
{
    [Fact]
    public void Card_NullDatasetAndTop1_LoadsAndAsksForData()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("card.json"), """{ "name": "spikformer-8-768", "dataset": null, "top1_torch": null, "params": 66357064, "input": { "name": "input", "scaling": "pixel/255" } }""");
        File.WriteAllText(dir.File("model.onnx"), "");

        var card = ModelCard.TryLoadBeside(dir.File("model.onnx"));

        Assert.NotNull(card);
        Assert.Null(card.Dataset);
        Assert.Null(card.Top1Torch);
        Assert.Equal(66357064, card.Params);
        var e = Assert.Throws<BadInputException>(() => ModelLocator.ResolveDataDirectory(dir.File("model.onnx"), null, card));
        Assert.Contains("--data", e.Message);
        Assert.Equal("/some/data", ModelLocator.ResolveDataDirectory(dir.File("model.onnx"), "/some/data", card));
    }
}
