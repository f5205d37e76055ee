using System.Collections;
using System.Collections.Concurrent;
using AQ4SViT.Onnx.Search;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>
/// The held-out confirmation, with hand-counted images: 100 search and 100 held-out images, ordered hardest first as the
/// runner orders them: the float model wrong on the first 10 held-out ones, right on the other 90; budget 1.5 points with a
/// confirmation guard of 1 standard error. Held-out evaluations reveal 10 images at a time and stop when told no result can pass.
/// </summary>
public sealed class ConfirmationTests
{
    private static readonly long[] s_params = [10, 10];
    private static readonly SearchOptions s_options = new() { MaxDrop = 1.5, Guard = 1, ConfirmGuard = 1 };
    private static readonly BitVector s_float = BitVector.AllFloat(2);
    private static readonly BitVector s_small = new([2, 2]);
    private static readonly BitVector s_medium = new([4, 2]);
    private static readonly BitVector s_large = new([8, 8]);

    private static BitArray FloatHits() => new(Enumerable.Range(0, 100).Select(i => i >= 10).ToArray());

    /// <summary>Held-out hits of a setting that loses the first <paramref name="lost"/> of the float model's right images.</summary>
    private static BitArray Losing(int lost)
    {
        var hits = FloatHits();
        for (int i = 10; i < 10 + lost; i++)
        {
            hits[i] = false;
        }

        return hits;
    }

    /// <summary>
    /// A held-out evaluation of settings that lose <paramref name="lost"/>[key] images: 10 images at a time, stopping when
    /// the confirmation's test says no completion can pass (as <see cref="TopOneTally"/> does). Records how many images
    /// each setting saw.
    /// </summary>
    private static Func<BitVector, Func<SplitScore, bool>, SplitScore> Revealing(Func<BitVector, int> lost, ConcurrentQueue<(string Key, int Seen)> seenBy)
    {
        return (setting, couldStillPass) =>
        {
            var all = Losing(lost(setting));
            for (int seen = 10; ; seen += 10)
            {
                var hits = new BitArray(100);
                int right = 0;
                for (int i = 0; i < seen; i++)
                {
                    hits[i] = all[i];
                    right += all[i] ? 1 : 0;
                }

                var partial = new SplitScore((right + 100 - seen) / 100.0, hits, seen);
                if (seen == 100 || !couldStillPass(partial))
                {
                    seenBy.Enqueue((setting.Key, seen));
                    return partial;
                }
            }
        };
    }

    private static FullScore Search(int lost) => new((90 - lost) / 100.0, lost, 0, 100);

    [Fact]
    public void AChoiceThatFailsOnTheHeldOutImages_GivesWayToTheNextPasserByMemory()
    {
        var heldOut = new Dictionary<string, int> { [s_small.Key] = 4, [s_medium.Key] = 1, [s_large.Key] = 0 };
        var seenBy = new ConcurrentQueue<(string Key, int Seen)>();
        var confirmation = new Confirmation(Revealing(s => heldOut[s.Key], seenBy), FloatHits(), s_options);

        var passers = new[] { (s_large, Search(0)), (s_small, Search(1)), (s_medium, Search(0)) };
        var (chosen, attempts) = confirmation.Choose(s_small, passers, s_params, s_float);

        Assert.Equal(s_medium, chosen);

        // Small: after 20 held-out images (the 10 the float model got wrong, none gained, then 4 lost) no completion can
        // pass: lost 1 + 4 of 200 images is a drop of 2.5 points, beyond the budget before any guard. It stops there.
        Assert.Equal([(s_small.Key, 20), (s_medium.Key, 100)], seenBy);
        Assert.False(attempts[0].Confirmed);
        Assert.False(attempts[0].Pooled.Complete);
        Assert.Equal(2.5, attempts[0].Drop, 9);

        // Medium: lost 0 + 1 of 200: drop 0.5, SE = 100·√((1/200 − (1/200)²)/200) = 0.49875; 0.99875 ≤ 1.5.
        Assert.True(attempts[1].Confirmed);
        Assert.True(attempts[1].Pooled.Complete);
        Assert.Equal(0.5, attempts[1].Drop, 9);
        Assert.Equal(0.49875, attempts[1].Pooled.DropStandardError, 5);
        Assert.Equal(((0.90 * 100) + (0.89 * 100)) / 200, attempts[1].Pooled.Accuracy, 9);
    }

    [Fact]
    public void TheGuardCounts_AndWhenNothingIsConfirmedTheFloatModelIsKept()
    {
        // Lost 1 + 2 of 200: drop 1.5 is within the raw budget, but 1.5 + SE is not.
        var seenBy = new ConcurrentQueue<(string Key, int Seen)>();
        var confirmation = new Confirmation(Revealing(_ => 2, seenBy), FloatHits(), s_options);
        var (chosen, attempts) = confirmation.Choose(s_small, [(s_small, Search(1))], s_params, s_float);

        Assert.Equal(s_float, chosen);
        Assert.Single(attempts);
        Assert.Equal(1.5, attempts[0].Drop, 9);
        Assert.False(attempts[0].Confirmed);

        // The confirmation's own guard decides, not the search's.
        var searchGuardOff = new Confirmation(Revealing(_ => 2, seenBy), FloatHits(), s_options with { Guard = 0 });
        Assert.Equal(s_float, searchGuardOff.Choose(s_small, [(s_small, Search(1))], s_params, s_float).Setting);
        var raw = new Confirmation(Revealing(_ => 2, seenBy), FloatHits(), s_options with { ConfirmGuard = 0 });
        Assert.Equal(s_small, raw.Choose(s_small, [(s_small, Search(1))], s_params, s_float).Setting);
    }

    [Fact]
    public void TheDefaultConfirmationGuard_IsTwoStandardErrors()
    {
        // Medium as above: drop 0.5, SE 0.49875. Two SE: 1.4975 ≤ 1.5, confirmed; 2.1 SE: 1.547, not.
        var defaults = new SearchOptions { MaxDrop = 1.5 };
        Assert.Equal(2.0, defaults.ConfirmGuard);
        Assert.Equal(s_medium, new Confirmation(Revealing(_ => 1, new()), FloatHits(), defaults).Choose(s_medium, [(s_medium, Search(0))], s_params, s_float).Setting);
        Assert.Equal(s_float, new Confirmation(Revealing(_ => 1, new()), FloatHits(), defaults with { ConfirmGuard = 2.1 }).Choose(s_medium, [(s_medium, Search(0))], s_params, s_float).Setting);
    }

    [Fact]
    public void PassersWithFewerBitsThanTheChoice_AreNotTried()
    {
        var seenBy = new ConcurrentQueue<(string Key, int Seen)>();
        var confirmation = new Confirmation(Revealing(_ => 0, seenBy), FloatHits(), s_options);
        var (chosen, _) = confirmation.Choose(s_medium, [(s_small, Search(0)), (s_medium, Search(0))], s_params, s_float);

        Assert.Equal(s_medium, chosen);
        Assert.Equal([(s_medium.Key, 100)], seenBy);
    }

    [Fact]
    public void WithJobs_TheNextSettingsAreEvaluatedAtOnce_AndTheAttemptsAndChoiceAreThoseOfTheSerialOrder()
    {
        var heldOut = new Dictionary<string, int> { [s_small.Key] = 4, [s_medium.Key] = 1, [s_large.Key] = 0 };
        var passers = new[] { (s_large, Search(0)), (s_small, Search(1)), (s_medium, Search(0)) };
        var serial = new Confirmation(Revealing(s => heldOut[s.Key], new()), FloatHits(), s_options).Choose(s_small, passers, s_params, s_float);

        var seenBy = new ConcurrentQueue<(string Key, int Seen)>();
        var parallel = new Confirmation(Revealing(s => heldOut[s.Key], seenBy), FloatHits(), s_options, jobs: 3).Choose(s_small, passers, s_params, s_float);

        Assert.Equal(serial.Setting, parallel.Setting);
        Assert.Equal(serial.Attempts, parallel.Attempts);
        Assert.Equal(2, parallel.Attempts.Count);

        // The three were evaluated as one window; the large one's result (past the confirmed one) is dropped.
        Assert.Equal([s_small.Key, s_medium.Key, s_large.Key], seenBy.Select(s => s.Key).Order(StringComparer.Ordinal));
    }
}
