using System.Collections;
using System.Diagnostics;
using AQ4SViT.Onnx.Data;

namespace AQ4SViT.Onnx.Validate;

/// <summary>Top-1 accuracy of a classifier over a set, with throughput.</summary>
public sealed record EvalResult(string Engine, int Images, int Correct, double Seconds, float[] Logits, int Classes)
{
    public double Accuracy => Images == 0 ? 0 : (double)Correct / Images;
    public double ImagesPerSecond => Seconds <= 0 ? 0 : Images / Seconds;
}

public static class Accuracy
{
    /// <summary>
    /// Runs <paramref name="classifier"/> over all of <paramref name="set"/> in batches; reports progress in images done;
    /// stops between batches when <paramref name="cancellation"/> fires (Ctrl-C).
    /// </summary>
    public static EvalResult Evaluate(IClassifier classifier, ImageSet set, int batch, IProgress<int>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        int classes = classifier.Classes;
        var logits = new float[set.Count * classes];
        var watch = Stopwatch.StartNew();
        for (int start = 0; start < set.Count; start += batch)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Math.Min(batch, set.Count - start);
            classifier.Logits(set, start, count, logits.AsSpan(start * classes, count * classes));
            progress?.Report(start + count);
        }

        watch.Stop();
        int correct = CountTopOne(logits, classes, set.Labels);
        return new EvalResult(classifier.Engine, set.Count, correct, watch.Elapsed.TotalSeconds, logits, classes);
    }

    /// <summary>
    /// The one top-1 loop (every accuracy the tool reports counts through it: <see cref="Evaluate"/> and the search's full
    /// evaluations): how many of the <paramref name="labels"/>.Length images, whose logits are consecutive rows of
    /// <paramref name="classes"/> values, have their label as the <see cref="ArgMax"/>. When given, <paramref name="hits"/>
    /// is set at <paramref name="offset"/> + i for each right image i, and <paramref name="margins"/> gets every image's
    /// <see cref="Margin"/> there.
    /// </summary>
    public static int CountTopOne(ReadOnlySpan<float> logits, int classes, ReadOnlySpan<int> labels, BitArray? hits = null, float[]? margins = null, int offset = 0)
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
    public static int CountSameTopOne(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int classes, int images)
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
