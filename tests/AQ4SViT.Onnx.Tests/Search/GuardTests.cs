using System.Collections;
using AQ4SViT.Onnx.Search;

namespace AQ4SViT.Onnx.Tests.Search;

public class GuardTests
{
    [Fact]
    public void Paired_CountsLostAndGainedOverSeenImagesOnly()
    {
        var reference = new BitArray(new[] { true, true, false, false, true, true });
        var hits = new BitArray(new[] { true, false, true, false, false, false });

        var score = FullScore.Paired(new SplitScore(0.5, hits, Seen: 5), reference);

        Assert.Equal(2, score.Lost); // images 1 and 4; image 5 was not seen
        Assert.Equal(1, score.Gained); // image 2
        Assert.Equal(6, score.Images);
    }

    [Fact]
    public void DropStandardError_MatchesHandComputedValues()
    {
        // n = 100, lost 5, gained 1: d = 0.04, SE = 100·√((0.06 − 0.0016)/100) = 2.41661 points.
        Assert.Equal(2.416609, new FullScore(0.9, 5, 1, 100).DropStandardError, 5);

        // Disagreeing on nothing: no uncertainty. Only lost images: the binomial error of the lost fraction.
        Assert.Equal(0, new FullScore(0.9, 0, 0, 100).DropStandardError);
        Assert.Equal(100 * Math.Sqrt(0.1 * 0.9 / 1000), new FullScore(0.8, 100, 0, 1000).DropStandardError, 9);
    }

    private static SyntheticBackend Backend() => new(
        parameters: [200, 5000, 8000, 8000, 20000, 20000, 3000, 1000],
        sensitivity: [40, 20, 4, 4, 2, 3, 6, 30],
        slope: 0.01);

    private static SearchOutcome Run(SearchOptions options)
    {
        var backend = Backend();
        var journal = new EvaluationJournal(backend, null, options.Fingerprint, resume: false);
        return (options.Strategy == SearchStrategy.Sensitivity
            ? new SensitivitySearch(new SearchContext(backend, journal, options, null, null, CancellationToken.None)).Run()
            : new BeamSearch(new SearchContext(backend, journal, options, null, null, CancellationToken.None)).Run());
    }

    /// <summary>The SyntheticBackend's pairing: a candidate only loses images, so lost = drop·n.</summary>
    private static double GuardedDrop(SearchOutcome outcome, double guard)
    {
        double drop = (outcome.FpSearchAccuracy - outcome.BestSearchAccuracy) * 100;
        int lost = (int)Math.Round(drop / 100 * SyntheticBackend.Images);
        return drop + (guard * new FullScore(outcome.BestSearchAccuracy, lost, 0, SyntheticBackend.Images).DropStandardError);
    }

    [Theory]
    [InlineData(SearchStrategy.Greedy)]
    [InlineData(SearchStrategy.Beam)]
    [InlineData(SearchStrategy.Sensitivity)]
    public void Guard_KeepsDropPlusStandardErrorsWithinBudget_AndCostsMemoryOnlyWhereTheRawRuleWasClose(SearchStrategy strategy)
    {
        var raw = Run(new SearchOptions { Strategy = strategy, Guard = 0 });
        var guarded = Run(new SearchOptions { Strategy = strategy, Guard = 2 });
        var backend = Backend();

        Assert.True(GuardedDrop(guarded, 2) <= 1.5 + 1e-9, $"{strategy}: drop + 2 SE = {GuardedDrop(guarded, 2)}");
        Assert.True(guarded.Best.TotalBits(backend.WeightParams) >= raw.Best.TotalBits(backend.WeightParams));

        // The raw rule's choice sits close to the budget here, so the guard must have changed it: the case tests something.
        Assert.True(GuardedDrop(raw, 2) > 1.5, $"{strategy}: raw choice already within the guard ({GuardedDrop(raw, 2)})");
    }

    [Fact]
    public void Guard_IsPartOfTheFingerprint_SoResumeCannotMixRules()
    {
        Assert.NotEqual(new SearchOptions { Guard = 0 }.Fingerprint, new SearchOptions { Guard = 1 }.Fingerprint);
    }
}
