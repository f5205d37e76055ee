using System.Collections;
using AQ4SViT.Onnx.Search;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>
/// The held-out confirmation, with hand-counted images: 100 search and 100 held-out images, the float model right on the
/// first 90 held-out ones; budget 1.5 points with a guard of 1 standard error.
/// </summary>
public sealed class ConfirmationTests
{
    private static readonly long[] s_params = [10, 10];
    private static readonly SearchOptions s_options = new() { MaxDrop = 1.5, Guard = 1 };
    private static readonly BitVector s_float = BitVector.AllFloat(2);
    private static readonly BitVector s_small = new([2, 2]);
    private static readonly BitVector s_medium = new([4, 2]);
    private static readonly BitVector s_large = new([8, 8]);

    private static BitArray FloatHits() => new(Enumerable.Range(0, 100).Select(i => i < 90).ToArray());

    /// <summary>Held-out hits of a setting that loses the first <paramref name="lost"/> of the float model's right images.</summary>
    private static SplitScore Losing(int lost)
    {
        var hits = FloatHits();
        for (int i = 0; i < lost; i++)
        {
            hits[i] = false;
        }

        return new SplitScore((90 - lost) / 100.0, hits, 100);
    }

    private static FullScore Search(int lost) => new((90 - lost) / 100.0, lost, 0, 100);

    [Fact]
    public void AChoiceThatFailsOnTheHeldOutImages_GivesWayToTheNextPasserByMemory()
    {
        var heldOut = new Dictionary<string, int> { [s_small.Key] = 4, [s_medium.Key] = 1, [s_large.Key] = 0 };
        var tried = new List<string>();
        var confirmation = new Confirmation(s => { tried.Add(s.Key); return Losing(heldOut[s.Key]); }, FloatHits(), s_options);

        var passers = new[] { (s_large, Search(0)), (s_small, Search(1)), (s_medium, Search(0)) };
        var (chosen, attempts) = confirmation.Choose(s_small, passers, s_params, s_float);

        Assert.Equal(s_medium, chosen);
        Assert.Equal([s_small.Key, s_medium.Key], tried);

        // Small: lost 1 + 4 of 200 images: drop 2.5 points, beyond the budget before any guard.
        Assert.False(attempts[0].Confirmed);
        Assert.Equal(2.5, attempts[0].Drop, 9);

        // Medium: lost 0 + 1 of 200: drop 0.5, SE = 100·√((1/200 − (1/200)²)/200) = 0.49875; 0.99875 ≤ 1.5.
        Assert.True(attempts[1].Confirmed);
        Assert.Equal(0.5, attempts[1].Drop, 9);
        Assert.Equal(0.49875, attempts[1].Pooled.DropStandardError, 5);
        Assert.Equal(((0.90 * 100) + (0.89 * 100)) / 200, attempts[1].Pooled.Accuracy, 9);
    }

    [Fact]
    public void TheGuardCounts_AndWhenNothingIsConfirmedTheFloatModelIsKept()
    {
        // Lost 1 + 2 of 200: drop 1.5 is within the raw budget, but 1.5 + SE is not.
        var confirmation = new Confirmation(_ => Losing(2), FloatHits(), s_options);
        var (chosen, attempts) = confirmation.Choose(s_small, [(s_small, Search(1))], s_params, s_float);

        Assert.Equal(s_float, chosen);
        Assert.Single(attempts);
        Assert.Equal(1.5, attempts[0].Drop, 9);
        Assert.False(attempts[0].Confirmed);

        var raw = new Confirmation(_ => Losing(2), FloatHits(), s_options with { Guard = 0 });
        Assert.Equal(s_small, raw.Choose(s_small, [(s_small, Search(1))], s_params, s_float).Setting);
    }

    [Fact]
    public void PassersWithFewerBitsThanTheChoice_AreNotTried()
    {
        var tried = new List<string>();
        var confirmation = new Confirmation(s => { tried.Add(s.Key); return Losing(0); }, FloatHits(), s_options);
        var (chosen, _) = confirmation.Choose(s_medium, [(s_small, Search(0)), (s_medium, Search(0))], s_params, s_float);

        Assert.Equal(s_medium, chosen);
        Assert.Equal([s_medium.Key], tried);
    }
}
