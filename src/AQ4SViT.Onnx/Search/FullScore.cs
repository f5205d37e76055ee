using System.Collections;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// A full evaluation paired with the float model's on the same images: its accuracy, the images it
/// <paramref name="Lost"/> (float right, it wrong) and <paramref name="Gained"/> (float wrong, it right), of
/// <paramref name="Images"/> in the split. The pairs give the drop's standard error (<see cref="DropStandardError"/>).
/// An evaluation that stopped early (not <paramref name="Complete"/>) failed; its accuracy is an upper bound and its counts
/// are those of the images it saw.
/// </summary>
public sealed record FullScore(double Accuracy, int Lost, int Gained, int Images, bool Complete = true)
{
    /// <summary>Counts lost and gained images over the ones <paramref name="split"/> saw.</summary>
    public static FullScore Paired(SplitScore split, BitArray reference)
    {
        int lost = 0, gained = 0;
        for (int i = 0; i < split.Seen; i++)
        {
            if (reference[i] != split.Hits[i])
            {
                if (reference[i])
                {
                    lost++;
                }
                else
                {
                    gained++;
                }
            }
        }

        return new FullScore(split.Accuracy, lost, gained, reference.Length, split.Seen == reference.Length);
    }

    /// <summary>
    /// Standard error of the accuracy drop in points, from the paired images: with d = (lost − gained)/n,
    /// SE = 100·√(((lost + gained)/n − d²)/n). Only images the two models disagree on add to it, so it is far smaller
    /// than two independent accuracies' error would be.
    /// </summary>
    public double DropStandardError
    {
        get
        {
            if (Images == 0)
            {
                return 0;
            }

            double n = Images;
            double d = (Lost - Gained) / n;
            return 100.0 * Math.Sqrt(Math.Max(0, ((Lost + Gained) / n) - (d * d)) / n);
        }
    }
}
