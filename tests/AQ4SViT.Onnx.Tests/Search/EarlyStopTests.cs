using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>A full evaluation stops once a candidate cannot pass, and decides exactly as a whole evaluation does.</summary>
public sealed class EarlyStopTests
{
    [Fact]
    public void Tally_HandCounted_StopsWhenEvenAPerfectRestFails()
    {
        // Labels 0, 1, 0, 0; two logits per image, so the argmax is class 0 or 1.
        var set = new ImageSet(new byte[4 * 4], [0, 1, 0, 0], 2, 2, "hand");
        var tally = new TopOneTally(set, score => score.Accuracy >= 0.75);
        tally.Add(0, 2, [1f, 0f, 0f, 1f]); // both right
        Assert.Equal(1.0, tally.UpperBound);
        Assert.False(tally.Hopeless);
        tally.Add(2, 1, [0f, 1f]); // wrong: at best 3 of 4 = 0.75, still possible
        Assert.Equal(0.75, tally.UpperBound);
        Assert.False(tally.Hopeless);

        var strict = new TopOneTally(set, score => score.Accuracy > 0.75);
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
        var weights = new WeightTable(file, WeightCatalog.Find(file), new QuantizationOptions());
        var search = DataSplits.Select(SharedData.FashionMnist, DataSplit.Search, 300);
        var backend = new SimulatorBackend(Simulator.Load(model, 2), weights, search, search, InputScaling.PixelOver255, batch: 50);
        var twoBit = BitVector.AllFloat(backend.WeightNames.Count).With(Enumerable.Range(0, backend.WeightNames.Count).ToArray(), 2);

        double whole = backend.SearchAccuracy(twoBit, null, CancellationToken.None).Accuracy;
        foreach (double floor in new[] { 0.0, whole - 0.01, whole, whole + (1.0 / 300), 0.99 })
        {
            bool Passes(double accuracy) => accuracy >= floor - 1e-12;
            long before = backend.FullImages;
            double stopped = backend.SearchAccuracy(twoBit, score => Passes(score.Accuracy), CancellationToken.None).Accuracy;
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
        backend.SearchAccuracy(twoBit, score => score.Accuracy >= 0.999, CancellationToken.None);
        Assert.Equal(50, backend.FullImages - start);
    }

    private const int Trained = 200;

    /// <summary>The trained Spikformer on 200 search images and the candidates "whole network at 2, 3, 4, 5 bits".</summary>
    private static (SimulatorBackend Backend, BitVector[] Candidates) NetworkCandidates()
    {
        var model = RepoPaths.Model("spikformer-fmnist");
        var file = OnnxModelFile.Load(model);
        var weights = new WeightTable(file, WeightCatalog.Find(file), new QuantizationOptions());
        var search = DataSplits.Select(SharedData.FashionMnist, DataSplit.Search, Trained);
        var backend = new SimulatorBackend(Simulator.Load(model, 2), weights, search.Slice(0, 8), search, InputScaling.PixelOver255, batch: 50);
        var all = Enumerable.Range(0, backend.WeightNames.Count).ToArray();
        var fp32 = BitVector.AllFloat(all.Length);
        return (backend, [.. new[] { 2, 3, 4, 5 }.Select(bits => fp32.With(all, bits))]);
    }

    /// <summary>The oracle: each candidate evaluated on every image in natural order and paired with the float model by hand.</summary>
    private static readonly Lazy<(SplitScore Reference, SplitScore[] Whole, FullScore[] Exact)> s_whole = new(() =>
    {
        var (backend, candidates) = NetworkCandidates();
        var reference = backend.SearchAccuracy(BitVector.AllFloat(backend.WeightNames.Count), null, CancellationToken.None);
        var whole = candidates.Select(c => backend.SearchAccuracy(c, null, CancellationToken.None)).ToArray();
        return (reference, whole, [.. whole.Select(w => FullScore.Paired(w, reference.Hits))]);
    });

    [Fact]
    public void OrderedSearch_GivesEveryImageTheResultItHasInNaturalOrder()
    {
        var (backend, candidates) = NetworkCandidates();
        var natural = s_whole.Value.Whole[1];
        var order = Enumerable.Range(0, Trained).OrderBy(i => (i * 7919) % Trained).ThenBy(i => i).ToArray(); // splits every batch
        backend.OrderSearch(order);
        var ordered = backend.SearchAccuracy(candidates[1], null, CancellationToken.None);

        Assert.Equal(natural.Accuracy, ordered.Accuracy);
        for (int p = 0; p < order.Length; p++)
        {
            Assert.Equal(natural.Hits[order[p]], ordered.Hits[p]);
            Assert.Equal(natural.Margins![order[p]], ordered.Margins![p]);
        }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    public void GuardedEarlyStop_HardestFirst_DecidesAsTheWholeEvaluation(double guard)
    {
        var exact = s_whole.Value.Exact;
        var (backend, candidates) = NetworkCandidates();
        int stopped = 0;
        foreach (double maxDrop in new[] { 0.5, 2.0, 8.0 })
        {
            var options = new SearchOptions { MaxDrop = maxDrop, Guard = guard };
            var context = new SearchContext(backend, new EvaluationJournal(backend, null, options.Fingerprint, resume: false), options, null, null, CancellationToken.None);
            context.EvaluateFloat();
            for (int c = 0; c < candidates.Length; c++)
            {
                long before = backend.FullImages;
                var (accuracy, _, passed) = context.Evaluate(candidates[c], "test", 1, $"network {c}", null, null);
                Assert.Equal(context.Passes(exact[c]), passed);
                if (passed)
                {
                    Assert.Equal(exact[c].Accuracy, accuracy);
                }
                else
                {
                    Assert.True(accuracy >= exact[c].Accuracy - 1e-12, $"{accuracy} is not an upper bound of {exact[c].Accuracy}");
                }

                stopped += backend.FullImages - before < Trained ? 1 : 0;
            }
        }

        Assert.True(stopped > 0, "no evaluation stopped early: the case tests nothing");
    }

    [Fact]
    public void HardestFirst_StopsAFailingCandidateSoonerThanNaturalOrder()
    {
        var (natural, candidates) = NetworkCandidates();
        double fp = s_whole.Value.Reference.Accuracy;
        var options = new SearchOptions { MaxDrop = 1.5, Guard = 0 };
        bool WithinBudget(SplitScore score) => (fp - score.Accuracy) * 100 <= options.MaxDrop + 1e-9;

        var (ordered, _) = NetworkCandidates();
        var context = new SearchContext(ordered, new EvaluationJournal(ordered, null, options.Fingerprint, resume: false), options, null, null, CancellationToken.None);
        context.EvaluateFloat();
        int compared = 0;
        foreach (var candidate in candidates)
        {
            long naturalBefore = natural.FullImages, orderedBefore = ordered.FullImages;
            natural.SearchAccuracy(candidate, WithinBudget, CancellationToken.None);
            var (_, _, passed) = context.Evaluate(candidate, "test", 1, "network", null, null);
            long naturalImages = natural.FullImages - naturalBefore, orderedImages = ordered.FullImages - orderedBefore;
            if (!passed && naturalImages > 50)
            {
                compared++;
                Assert.True(orderedImages < naturalImages, $"{candidate.Key}: hardest first saw {orderedImages} images, natural order {naturalImages}");
            }
        }

        Assert.True(compared > 0, "no candidate failed after its first batch: the case tests nothing");
    }
}
