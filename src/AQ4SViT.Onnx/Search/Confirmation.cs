using System.Collections;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// Confirms a strategy's choice on held-out images of the search split (the ones after those the search used), because
/// a setting kept among many candidates did better on the search images than it will elsewhere: on SDT the beam's choice
/// passed with drop 0.60 ± 0.75 on 1,000 search images and lost 1.52 points on the test split.
/// <para>
/// A setting is confirmed when, pooled over the search and the held-out images (lost and gained images added up), its
/// drop still meets the constraint with the confirmation's own, wider guard: drop + confirm-guard·SE ≤ max-drop. The choice is tried first, then the other passing
/// settings by increasing memory; when none is confirmed the float model is kept. Pooling keeps the search's evidence but
/// halves its selection bias when as many images are held out as were searched.
/// </para>
/// <para>
/// A held-out evaluation stops as soon as no result on its remaining images could confirm the setting
/// (<see cref="FullScore.CouldStillPass"/>; the caller orders the images hardest first so this comes early); the decision
/// is that of a whole evaluation. With <paramref name="jobs"/> above 1 the next settings in line are evaluated that many at
/// once; the attempts and the choice are those of the serial order, and work past the confirmed setting is dropped.
/// </para>
/// </summary>
/// <param name="score">Evaluates a setting on the held-out images, stopping early when the given test says it can no longer pass.</param>
/// <param name="floatHits">The float model's hits on the held-out images, in the order <paramref name="score"/> sees them.</param>
internal sealed class Confirmation(Func<BitVector, Func<SplitScore, bool>, SplitScore> score, BitArray floatHits, SearchOptions options, int jobs = 1, CancellationToken cancellation = default)
{
    /// <summary>One setting tried: its held-out accuracy and the pooled score the decision used (incomplete: a lower bound on the drop).</summary>
    public sealed record Attempt(BitVector Setting, double HeldOutAccuracy, FullScore Pooled, bool Confirmed)
    {
        /// <summary>Pooled drop in points: (lost − gained) / images.</summary>
        public double Drop => Pooled.Drop;
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
            .ThenBy(p => p.Setting.TotalBits(weightParams))
            .TakeWhile(p => p.Setting.Key != fallback.Key)
            .ToList();
        var attempts = new List<Attempt>();
        int window = Math.Max(1, jobs);
        for (int start = 0; start < candidates.Count; start += window)
        {
            var batch = candidates.Skip(start).Take(window).ToList();
            var tried = new Attempt[batch.Count];
            Concurrently.ForEach([.. Enumerable.Range(0, batch.Count)], window, i => tried[i] = Try(batch[i].Setting, batch[i].Score), cancellation);
            foreach (var attempt in tried)
            {
                attempts.Add(attempt);
                onAttempt?.Invoke(attempt);
                if (attempt.Confirmed)
                {
                    return (attempt.Setting, attempts);
                }
            }
        }

        return (fallback, attempts);
    }

    private Attempt Try(BitVector setting, FullScore searchScore)
    {
        bool Confirms(FullScore heldOut)
        {
            var pooled = searchScore.Pool(heldOut);
            return options.WithinConfirmBudget(pooled.Drop, pooled.DropStandardError);
        }

        var heldOut = FullScore.Paired(score(setting, partial => FullScore.CouldStillPass(partial, floatHits, Confirms)), floatHits);
        return new Attempt(setting, heldOut.Accuracy, searchScore.Pool(heldOut), heldOut.Complete && Confirms(heldOut));
    }
}
