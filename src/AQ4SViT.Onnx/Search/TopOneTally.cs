using System.Collections;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// A full evaluation's outcome: the top-1 accuracy and which images were right (the first <paramref name="Seen"/> of the
/// split; an evaluation that stopped early has seen fewer than all, and its accuracy is then an upper bound).
/// <paramref name="Margins"/>: per image, the true class's logit minus the largest other one (negative when wrong),
/// where the engine reports them.
/// </summary>
public sealed record SplitScore(double Accuracy, BitArray Hits, int Seen, float[]? Margins = null)
{
    /// <summary>
    /// The images ordered from the smallest margin up (the ones this model got wrong first, then those it got right by the
    /// least), with its hits in that order; null without margins for every image. Evaluated in this order, a candidate
    /// paired with this model meets its losses (and all its possible gains) early, so an evaluation that cannot pass
    /// stops far sooner (<see cref="FullScore.CouldStillPass"/>).
    /// </summary>
    public (int[] Order, BitArray Hits)? HardestFirst()
    {
        if (Margins is not { } margins || Seen != margins.Length)
        {
            return null;
        }

        int[] order = [.. Enumerable.Range(0, margins.Length).OrderBy(i => margins[i]).ThenBy(i => i)];
        var hits = new BitArray(order.Length);
        for (int p = 0; p < order.Length; p++)
        {
            hits[p] = Hits[order[p]];
        }

        return (order, hits);
    }
}

/// <summary>
/// Counts top-1 hits over a split batch by batch and tells when the evaluation can stop: when
/// <paramref name="couldStillPass"/>, given the score so far (hits of the images seen, accuracy if the rest were all right),
/// says no completion of the split can pass, the candidate has failed whatever the remaining images say.
/// The pass/fail decision is therefore exactly that of a whole evaluation; only a failed candidate's accuracy is then an
/// upper bound (the best it could still have reached) instead of the exact value.
/// </summary>
internal sealed class TopOneTally(ImageSet set, Func<SplitScore, bool>? couldStillPass)
{
    private readonly BitArray _hits = new(set.Count);
    private readonly float[] _margins = new float[set.Count];
    private int _correct;
    private int _seen;

    /// <summary>Adds the logits (count × classes) of images <paramref name="start"/>… of the split.</summary>
    public void Add(int start, int count, ReadOnlySpan<float> logits)
    {
        int classes = logits.Length / Math.Max(1, count);
        _correct += TopOne.Count(logits, classes, set.Labels.AsSpan(start, count), _hits, _margins, start);
        _seen += count;
    }

    /// <summary>The accuracy if every image not seen yet were right.</summary>
    public double UpperBound => set.Count == 0 ? 0 : (double)(_correct + set.Count - _seen) / set.Count;

    /// <summary>True when the budget can no longer be met: stop and report <see cref="Result"/>.</summary>
    public bool Hopeless => couldStillPass is not null && _seen < set.Count && !couldStillPass(Result);

    /// <summary>The accuracy (exact once every image was seen; the upper bound after an early stop), the hits and margins so far.</summary>
    public SplitScore Result => new(UpperBound, _hits, _seen, _margins);
}
