using System.Diagnostics;
using AQ4SViT.Onnx.Core;
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
        int correct = TopOne.Count(logits, classes, set.Labels);
        return new EvalResult(classifier.Engine, set.Count, correct, watch.Elapsed.TotalSeconds, logits, classes);
    }
}
