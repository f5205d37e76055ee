using System.Globalization;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// Whether the search split is large enough for the budget, checked once the float model's search accuracy p is known and
/// before any candidate is tried. Rule (docs/search.md, "Is the search split large enough?"): a candidate's drop is
/// measured on n images, and its standard error is taken as that of two accuracies p on n images each,
/// SE = 100·√(p(1−p)/n)·√2 points; pairing the candidate with the float model image by image (what the search computes)
/// makes the real one smaller, so this is a rough, cautious bound. When <c>guard·SE ≥ max-drop</c>, a candidate whose
/// predictions differ from the float model's that much fails even at zero drop: the budget is unreachable or decided by
/// noise. It is reachable from n &gt; 2p(1−p)·(100·guard / max-drop)² images on.
/// </summary>
/// <param name="Images">Search images (n).</param>
/// <param name="FpAccuracy">The float model's top-1 on them (p, 0–1).</param>
/// <param name="StandardError">SE by the rule above, in points.</param>
/// <param name="ImagesNeeded">The fewest images for which guard·SE &lt; max-drop; null when no number is enough (max-drop 0 with a guard).</param>
internal sealed record SampleSizeCheck(int Images, double FpAccuracy, double MaxDrop, double Guard, double StandardError, int? ImagesNeeded)
{
    public static SampleSizeCheck Of(int images, double fpAccuracy, double maxDrop, double guard)
    {
        double variance = 2 * fpAccuracy * (1 - fpAccuracy); // of one paired difference, as if independent
        double se = images == 0 ? double.PositiveInfinity : 100 * Math.Sqrt(variance / images);
        int? needed = null;
        if (guard == 0 || variance == 0)
        {
            needed = 1;
        }
        else if (maxDrop > 0)
        {
            double bound = variance * Math.Pow(100 * guard / maxDrop, 2); // guard·SE < max-drop ⇔ n > bound
            needed = bound >= int.MaxValue ? null : (int)Math.Floor(bound) + 1;
        }

        return new SampleSizeCheck(images, fpAccuracy, maxDrop, guard, se, needed);
    }

    /// <summary>guard·SE ≥ max-drop: candidates fail on noise, or the budget cannot be met at all.</summary>
    public bool TooSmall => Guard > 0 && Guard * StandardError >= MaxDrop;

    /// <summary>The one-line warning (without the "aq4svit: warning: " prefix), or null when the split is large enough.</summary>
    /// <param name="available">Images in the whole search split, to say when even all of them are too few.</param>
    public string? Warning(int available)
    {
        if (!TooSmall)
        {
            return null;
        }

        var c = CultureInfo.InvariantCulture;
        string need = ImagesNeeded is not { } n
            ? "no number of search images is enough with a guard at --max-drop 0; lower --guard or raise --max-drop"
            : n <= available
                ? string.Create(c, $"--search-limit {n} or more would make it reachable (or raise --max-drop, lower --guard)")
                : string.Create(c, $"{n} search images would make it reachable, more than the split's {available} (raise --max-drop or lower --guard)");
        return string.Create(c, $"{Images} search images are too few for --max-drop {MaxDrop:0.##} with --guard {Guard:0.##}: at the float model's {FpAccuracy:P1} the drop's standard error is about {StandardError:0.00} points (100·√(2p(1−p)/n)), so {Guard:0.##} SE ≥ {MaxDrop:0.##} and candidates fail on noise; {need}");
    }

    /// <summary>
    /// The same rule for the confirmation (<see cref="Images"/> = search + held-out images, <see cref="Guard"/> = the
    /// confirmation's): the one-line warning that no setting is likely to be confirmed, or null.
    /// </summary>
    public string? ConfirmationWarning()
    {
        if (!TooSmall)
        {
            return null;
        }

        var c = CultureInfo.InvariantCulture;
        return string.Create(c, $"{Images} search and held-out images are too few to confirm a setting with --confirm-guard {Guard:0.##} at --max-drop {MaxDrop:0.##}: the pooled drop's standard error is about {StandardError:0.00} points, so the float model is likely kept; {(ImagesNeeded is { } n ? $"{n} images would do (raise --confirm or --search-limit), or " : "")}lower --confirm-guard");
    }
}
