namespace AQ4SViT.Onnx.Search;

/// <summary>The cheap score of a candidate: how far its membrane potentials move from the float model's.</summary>
/// <param name="Drift">See <see cref="MembraneDrift"/> for the exact definition.</param>
/// <param name="SpikeMismatch">Fraction of spike outputs (all LIF layers, steps, neurons, calibration images) that differ from the float model's.</param>
/// <param name="Kind">"membrane" normally; "logit" when the model has no LIF layer and drift falls back to the logits.</param>
public sealed record ProxyScore(double Drift, double SpikeMismatch, string Kind = "membrane");

/// <summary>What the search needs from an engine: a proxy on the calibration batch and a full evaluation on the search split.</summary>
public interface ISearchBackend
{
    /// <summary>Quantizable weights in catalog order (names) and their parameter counts.</summary>
    IReadOnlyList<string> WeightNames { get; }

    IReadOnlyList<long> WeightParams { get; }

    /// <summary>Weight groups (indices into <see cref="WeightNames"/>) at a granularity, in graph order.</summary>
    IReadOnlyList<SearchGroup> Groups(Quantize.Granularity granularity);

    ProxyScore Proxy(BitVector setting, CancellationToken cancellation);

    /// <summary>
    /// Says that proxies of one-step moves from <paramref name="parent"/> follow, so that a backend can keep the parent's
    /// activations and start each move's run where it first differs. Results must not depend on it.
    /// </summary>
    void HintParent(BitVector parent)
    {
    }

    /// <summary>
    /// Top-1 accuracy (0–1) on the search split and which images were right. With <paramref name="couldStillPass"/>, the
    /// evaluation stops as soon as it says no result on the remaining images could pass (see <see cref="TopOneTally"/>):
    /// then it returns what it saw, with the accuracy an upper bound, so the pass/fail decision is the same as a whole
    /// evaluation's.
    /// </summary>
    SplitScore SearchAccuracy(BitVector setting, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation);

    /// <summary>
    /// From now on, <see cref="SearchAccuracy"/> goes through the search split in this order: position i is the image
    /// at position <paramref name="order"/>[i] of the order so far (at first the split's own), and hits, margins and
    /// <see cref="SplitScore.Seen"/> count positions. (<see cref="EvaluationJournal"/> puts the float model's hardest
    /// images first.)
    /// </summary>
    void OrderSearch(IReadOnlyList<int> order);
}

/// <summary>A set of weights that move together, by index into the backend's weight list.</summary>
public sealed record SearchGroup(string Name, IReadOnlyList<int> Weights, long Params);
