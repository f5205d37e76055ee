using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Validate;

/// <summary>How far two engines' logits on the same images are apart.</summary>
/// <param name="Images">Images compared.</param>
/// <param name="ArgmaxAgreement">Fraction of images whose top-1 class is the same.</param>
/// <param name="MaxAbsLogitDiff">Largest |a − b| over all logits.</param>
public sealed record LogitComparison(int Images, double ArgmaxAgreement, double MaxAbsLogitDiff)
{
    public static LogitComparison Compare(EvalResult a, EvalResult b)
    {
        if (a.Images != b.Images || a.Classes != b.Classes)
        {
            throw new ArgumentException($"cannot compare {a.Images}×{a.Classes} logits with {b.Images}×{b.Classes}");
        }

        int agree = TopOne.CountSame(a.Logits, b.Logits, a.Classes, a.Images);
        double max = 0;
        for (int i = 0; i < a.Images * a.Classes; i++)
        {
            max = Math.Max(max, Math.Abs((double)a.Logits[i] - b.Logits[i]));
        }

        return new LogitComparison(a.Images, a.Images == 0 ? 0 : (double)agree / a.Images, max);
    }
}
