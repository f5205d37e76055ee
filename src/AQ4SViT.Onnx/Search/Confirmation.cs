using System.Collections;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// Confirms a strategy's choice on held-out images of the search split (the ones after those the search used), because
/// a setting kept among many candidates did better on the search images than it will elsewhere: on SDT the beam's choice
/// passed with drop 0.60 ± 0.75 on 1,000 search images and lost 1.52 points on the test split.
/// <para>
/// A setting is confirmed when, pooled over the search and the held-out images (lost and gained images added up), its
/// drop still meets the constraint: drop + guard·SE ≤ max-drop. The choice is tried first, then the other passing
/// settings by increasing memory; when none is confirmed the float model is kept. Pooling keeps the search's evidence but
/// halves its selection bias when as many images are held out as were searched.
/// </para>
/// </summary>
/// <param name="score">A full evaluation of a setting on the held-out images (no early stop).</param>
/// <param name="floatHits">The float model's hits on the held-out images.</param>
public sealed class Confirmation(Func<BitVector, SplitScore> score, BitArray floatHits, SearchOptions options)
{
    /// <summary>One setting tried: its held-out accuracy and the pooled score the decision used.</summary>
    public sealed record Attempt(BitVector Setting, double HeldOutAccuracy, FullScore Pooled, bool Confirmed)
    {
        /// <summary>Pooled drop in points: (lost − gained) / images.</summary>
        public double Drop => Pooled.Images == 0 ? 0 : 100.0 * (Pooled.Lost - Pooled.Gained) / Pooled.Images;
    }

    /// <summary>
    /// Tries <paramref name="choice"/>, then the passers with more bits, fewest first; returns the confirmed setting
    /// (<paramref name="fallback"/>, the float model, when none is) and every attempt in order.
    /// </summary>
    public (BitVector Setting, IReadOnlyList<Attempt> Attempts) Choose(
        BitVector choice, IReadOnlyList<(BitVector Setting, FullScore Score)> passers, IReadOnlyList<long> weightParams, BitVector fallback,
        Action<Attempt>? onAttempt = null)
    {
        long choiceBits = choice.TotalBits(weightParams);
        var candidates = passers
            .Where(p => p.Setting.Key == choice.Key || p.Setting.TotalBits(weightParams) >= choiceBits)
            .OrderBy(p => p.Setting.Key == choice.Key ? 0 : 1)
            .ThenBy(p => p.Setting.TotalBits(weightParams));
        var attempts = new List<Attempt>();
        foreach (var (setting, searchScore) in candidates)
        {
            if (setting.Key == fallback.Key)
            {
                break;
            }

            var attempt = Try(setting, searchScore);
            attempts.Add(attempt);
            onAttempt?.Invoke(attempt);
            if (attempt.Confirmed)
            {
                return (setting, attempts);
            }
        }

        return (fallback, attempts);
    }

    private Attempt Try(BitVector setting, FullScore searchScore)
    {
        var heldOut = FullScore.Paired(score(setting), floatHits);
        var pooled = new FullScore(
            Accuracy: ((searchScore.Accuracy * searchScore.Images) + (heldOut.Accuracy * heldOut.Images)) / (searchScore.Images + heldOut.Images),
            Lost: searchScore.Lost + heldOut.Lost,
            Gained: searchScore.Gained + heldOut.Gained,
            Images: searchScore.Images + heldOut.Images);
        var attempt = new Attempt(setting, heldOut.Accuracy, pooled, Confirmed: false);
        return attempt with { Confirmed = options.WithinBudget(attempt.Drop, pooled.DropStandardError) };
    }
}
