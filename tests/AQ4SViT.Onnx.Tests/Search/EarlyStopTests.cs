using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>A full evaluation stops once a candidate cannot pass, and decides exactly as a whole evaluation does.</summary>
public sealed class EarlyStopTests
{
    private static readonly Lazy<ImageSet> s_fashion = new(() => IdxReader.LoadEvaluationSet(RepoPaths.FashionMnist));

    [Fact]
    public void Tally_HandCounted_StopsWhenEvenAPerfectRestFails()
    {
        // Labels 0, 1, 0, 0; two logits per image, so the argmax is class 0 or 1.
        var set = new ImageSet(new byte[4 * 4], [0, 1, 0, 0], 2, 2, "hand");
        var tally = new TopOneTally(set, accuracy => accuracy >= 0.75);
        tally.Add(0, 2, [1f, 0f, 0f, 1f]); // both right
        Assert.Equal(1.0, tally.UpperBound);
        Assert.False(tally.Hopeless);
        tally.Add(2, 1, [0f, 1f]); // wrong: at best 3 of 4 = 0.75, still possible
        Assert.Equal(0.75, tally.UpperBound);
        Assert.False(tally.Hopeless);

        var strict = new TopOneTally(set, accuracy => accuracy > 0.75);
        strict.Add(0, 3, [1f, 0f, 0f, 1f, 0f, 1f]);
        Assert.True(strict.Hopeless); // 3 of 4 is the best left, and 0.75 fails
        Assert.Equal(0.75, strict.Result.Accuracy);
        Assert.Equal(3, strict.Result.Seen);
        Assert.True(strict.Result.Hits[0] && strict.Result.Hits[1] && !strict.Result.Hits[2]);
    }

    [Fact]
    public void Simulator_StopsEarlyOnlyWhenFailing_WithTheWholeRunsDecision()
    {
        var model = RepoPaths.Model("tests/spikformer-d64");
        var file = OnnxModelFile.Load(model);
        var weights = new FakeQuantWeights(file, WeightCatalog.Find(file), new QuantizationOptions());
        var search = DataSplits.Select(s_fashion.Value, DataSplit.Search, 300);
        var backend = new SimulatorBackend(Simulator.Load(model, 2), weights, search, search, search, InputScaling.PixelOver255, batch: 50);
        var twoBit = BitVector.AllFloat(backend.WeightNames.Count).With(Enumerable.Range(0, backend.WeightNames.Count).ToArray(), 2);

        double whole = backend.SearchAccuracy(twoBit, null, CancellationToken.None).Accuracy;
        foreach (double floor in new[] { 0.0, whole - 0.01, whole, whole + (1.0 / 300), 0.99 })
        {
            bool Passes(double accuracy) => accuracy >= floor - 1e-12;
            long before = backend.FullImages;
            double stopped = backend.SearchAccuracy(twoBit, Passes, CancellationToken.None).Accuracy;
            long images = backend.FullImages - before;
            Assert.Equal(Passes(whole), Passes(stopped));
            if (Passes(whole))
            {
                Assert.Equal(whole, stopped); // a passing candidate is always evaluated whole
                Assert.Equal(300, images);
            }
            else
            {
                Assert.True(stopped >= whole, $"{stopped} is not an upper bound of {whole}");
            }
        }

        // Far out of reach: the first batch already decides.
        long start = backend.FullImages;
        backend.SearchAccuracy(twoBit, a => a >= 0.999, CancellationToken.None);
        Assert.Equal(50, backend.FullImages - start);
    }
}
