using System.Text.Json;
using System.Text.Json.Nodes;
using AQ4SViT.Onnx.Tests.Cli;
using static AQ4SViT.Onnx.Tests.Data.DataFixtures;

namespace AQ4SViT.Onnx.Tests.Data;

/// <summary>card.json's <c>preprocess</c> object feeds the same pipeline as the options, and options override it.</summary>
[Collection("Console")]
public sealed class CardPreprocessTests
{
    private static string SmallModel => Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx");

    /// <summary>A model (spikformer-d64, random weights, or <paramref name="trained"/>: spikformer-fmnist) copied with its card, plus <paramref name="preprocess"/> in the card.</summary>
    private static string ModelWithCard(TempDir dir, JsonObject preprocess, bool trained = false)
    {
        string source = Path.GetDirectoryName(trained ? RepoPaths.Model("spikformer-fmnist") : SmallModel)!;
        Directory.CreateDirectory(dir.File("model"));
        File.Copy(Path.Combine(source, "model.onnx"), dir.File("model/model.onnx"));
        var card = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "card.json")))!.AsObject();
        card["preprocess"] = preprocess;
        File.WriteAllText(dir.File("model/card.json"), card.ToJsonString());
        return dir.File("model/model.onnx");
    }

    private static double Accuracy(CliResult r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(r.Stdout);
        return json.RootElement.GetProperty("accuracy").GetDouble();
    }

    [Fact]
    public void CardCropAndGrey_ReadRgbCifar_AsTheIdxOriginal()
    {
        using var dir = new TempDir();
        string model = ModelWithCard(dir, new JsonObject { ["crop"] = 28, ["rgb_to_grey"] = true, ["mean"] = 0, ["std"] = new JsonArray(1) });
        WriteCifar(dir.File("test_batch.bin"), PadTo32(Rgb(First(60))));
        Robustness.TinyDataset.FashionMnist(dir.File("idx"), 60);
        string[] common = ["--split", "all", "--json", "--quiet", "--threads", "2"];

        double fromCifar = Accuracy(CliRun.Run(["eval", model, "--data", dir.File("test_batch.bin"), .. common]));
        double fromIdx = Accuracy(CliRun.Run(["eval", SmallModel, "--data", dir.File("idx"), .. common]));

        Assert.Equal(fromIdx, fromCifar);
    }

    [Fact]
    public void CardMeanStd_ChangeTheInput_AndOptionsOverrideThem()
    {
        using var dir = new TempDir();
        string model = ModelWithCard(dir, new JsonObject { ["mean"] = 0.9, ["std"] = 0.05 }, trained: true);
        Robustness.TinyDataset.FashionMnist(dir.File("idx"), 100);
        string[] common = ["--data", dir.File("idx"), "--split", "all", "--json", "--quiet", "--threads", "2"];

        double withCard = Accuracy(CliRun.Run(["eval", model, .. common]));
        double overridden = Accuracy(CliRun.Run(["eval", model, "--mean", "0", "--std", "1", .. common]));
        double plain = Accuracy(CliRun.Run(["eval", RepoPaths.Model("spikformer-fmnist"), .. common]));

        // (x − 0.9)/0.05 is far from what the model was trained on: accuracy collapses; --mean 0 --std 1 restores it exactly.
        Assert.Equal(plain, overridden);
        Assert.True(withCard < plain - 0.2, $"card mean/std not applied: {withCard} vs {plain}");
    }

    [Fact]
    public void CardMeanForThreeChannels_OnGreyModel_IsOneLineError()
    {
        using var dir = new TempDir();
        string model = ModelWithCard(dir, new JsonObject { ["mean"] = new JsonArray(0.5, 0.5, 0.5) });
        Robustness.TinyDataset.FashionMnist(dir.File("idx"), 4);

        var r = CliRun.Run("eval", model, "--data", dir.File("idx"), "--quiet");

        CliRun.AssertBadInput(r, "3 and 1 values for the 1 channels", "'input'");
    }
}
