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

    /// <summary>The drop in points from the paired counts: 100·(lost − gained)/images.</summary>
    public double Drop => Images == 0 ? 0 : 100.0 * (Lost - Gained) / Images;

    /// <summary>Both evaluations' images as one: lost and gained images added up.</summary>
    public FullScore Pool(FullScore other) => new(
        Accuracy: ((Accuracy * Images) + (other.Accuracy * other.Images)) / Math.Max(1, Images + other.Images),
        Lost: Lost + other.Lost,
        Gained: Gained + other.Gained,
        Images: Images + other.Images,
        Complete: Complete && other.Complete);

    /// <summary>
    /// Whether some result on the images <paramref name="partial"/> has not seen yet lets <paramref name="canPass"/> accept
    /// the evaluation, paired with <paramref name="reference"/> (hits by the same positions). The unseen images the
    /// reference got right can only be lost, which raises the drop and, while the drop is under 50 points, its standard
    /// error too; so the best completion keeps them right and gains some number y of the unseen images the reference got
    /// wrong. Every y is tried, since a gain lowers the drop but may raise its standard error.
    /// </summary>
    public static bool CouldStillPass(SplitScore partial, BitArray reference, Func<FullScore, bool> canPass)
    {
        int n = reference.Length;
        var seen = Paired(partial, reference);
        int right = 0, unseenRight = 0, gainable = 0;
        for (int p = 0; p < n; p++)
        {
            if (p < partial.Seen)
            {
                right += partial.Hits[p] ? 1 : 0;
            }
            else if (reference[p])
            {
                unseenRight++;
            }
            else
            {
                gainable++;
            }
        }

        for (int y = 0; y <= gainable; y++)
        {
            var completion = new FullScore((double)(right + unseenRight + y) / n, seen.Lost, seen.Gained + y, n);
            if (canPass(completion))
            {
                return true;
            }
        }

        return false;
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
