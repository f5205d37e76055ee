using System.Collections;

namespace AQ4SViT.Onnx.Core;

/// <summary>Top-1 over logits: the arg-max, the margin of the true class, and the one loop that counts hits.</summary>
internal static class TopOne
{
    /// <summary>
    /// The one top-1 loop (every accuracy the tool reports counts through it: evaluating a classifier over a set and the search's
    /// full evaluations): how many of the <paramref name="labels"/>.Length images, whose logits are consecutive rows of
    /// <paramref name="classes"/> values, have their label as the <see cref="ArgMax"/>. When given, <paramref name="hits"/>
    /// is set at <paramref name="offset"/> + i for each right image i, and <paramref name="margins"/> gets every image's
    /// <see cref="Margin"/> there.
    /// </summary>
    public static int Count(ReadOnlySpan<float> logits, int classes, ReadOnlySpan<int> labels, BitArray? hits = null, float[]? margins = null, int offset = 0)
    {
        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var image = logits.Slice(i * classes, classes);
            int label = labels[i];
            if (ArgMax(image) == label)
            {
                if (hits is not null)
                {
                    hits[offset + i] = true;
                }

                correct++;
            }

            if (margins is not null)
            {
                margins[offset + i] = Margin(image, label);
            }
        }

        return correct;
    }

    /// <summary>How many of <paramref name="images"/> images get the same <see cref="ArgMax"/> from two engines' logits
    /// (rows of <paramref name="classes"/> values each).</summary>
    public static int CountSame(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int classes, int images)
    {
        int agree = 0;
        for (int i = 0; i < images; i++)
        {
            if (ArgMax(a.Slice(i * classes, classes)) == ArgMax(b.Slice(i * classes, classes)))
            {
                agree++;
            }
        }

        return agree;
    }

    /// <summary>The true class's logit minus the largest other one (negative when wrong; −∞ for a label outside the logits).</summary>
    public static float Margin(ReadOnlySpan<float> logits, int label)
    {
        float other = float.NegativeInfinity;
        for (int c = 0; c < logits.Length; c++)
        {
            if (c != label)
            {
                other = Math.Max(other, logits[c]);
            }
        }

        return label < logits.Length ? logits[label] - other : float.NegativeInfinity;
    }

    /// <summary>Index of the largest value; the first one on ties (as numpy and torch do).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }
}
