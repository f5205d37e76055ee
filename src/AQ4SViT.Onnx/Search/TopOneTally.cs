using System.Collections;
using AQ4SViT.Onnx.Data;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// A full evaluation's outcome: the top-1 accuracy and which images were right (the first <paramref name="Seen"/> of the
/// split; an evaluation that stopped early has seen fewer than all, and its accuracy is then an upper bound).
/// </summary>
public sealed record SplitScore(double Accuracy, BitArray Hits, int Seen);

/// <summary>
/// Counts top-1 hits over a split batch by batch and tells when the evaluation can stop: once even a perfect rest of the
/// split could not make <paramref name="canPass"/> true, the candidate has failed whatever the remaining images say.
/// The pass/fail decision is therefore exactly that of a whole evaluation; only a failed candidate's accuracy is then an
/// upper bound (the best it could still have reached) instead of the exact value.
/// </summary>
public sealed class TopOneTally(ImageSet set, Func<double, bool>? canPass)
{
    private readonly BitArray _hits = new(set.Count);
    private int _correct;
    private int _seen;

    /// <summary>Adds the logits (count × classes) of images <paramref name="start"/>… of the split.</summary>
    public void Add(int start, int count, ReadOnlySpan<float> logits)
    {
        int classes = logits.Length / Math.Max(1, count);
        for (int i = 0; i < count; i++)
        {
            if (Validate.Accuracy.ArgMax(logits.Slice(i * classes, classes)) == set.Labels[start + i])
            {
                _hits[start + i] = true;
                _correct++;
            }
        }

        _seen += count;
    }

    /// <summary>The accuracy if every image not seen yet were right.</summary>
    public double UpperBound => set.Count == 0 ? 0 : (double)(_correct + set.Count - _seen) / set.Count;

    /// <summary>True when the budget can no longer be met: stop and report <see cref="Result"/>.</summary>
    public bool Hopeless => canPass is not null && _seen < set.Count && !canPass(UpperBound);

    /// <summary>The accuracy (exact once every image was seen; the upper bound after an early stop) and the hits so far.</summary>
    public SplitScore Result => new(UpperBound, _hits, _seen);
}
