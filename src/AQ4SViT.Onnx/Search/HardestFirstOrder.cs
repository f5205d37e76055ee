using System.Collections;
using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// The float model's per-image hits on the search split, which every full evaluation is paired with, and the order the
/// backend evaluates the split in: natural until the reference is known, then hardest first
/// (<see cref="SplitScore.HardestFirst"/>). A failing candidate then reaches the point where no result on the rest can
/// save it far sooner; the decisions and every passing accuracy are those of any other order. The hits follow the order.
/// </summary>
internal sealed class HardestFirstOrder(ISearchBackend backend)
{
    /// <summary>Images where the reference is right, by evaluation position; null before the reference is evaluated.</summary>
    public BitArray? Reference { get; private set; }

    /// <summary>The search split's evaluation order (position → image), empty while natural.</summary>
    public List<int> Order { get; private set; } = [];

    /// <summary>The reference and order a checkpoint recorded (<paramref name="order"/> empty: natural).</summary>
    public void Resume(BitArray? reference, List<int> order)
    {
        Reference = reference;
        if (order.Count > 0)
        {
            Order = order;
            backend.OrderSearch(Order);
        }
    }

    /// <summary>
    /// <paramref name="split"/> paired with the reference. The first evaluation, the float model's, becomes the reference
    /// and orders the split hardest first; <paramref name="statePath"/> names the checkpoint a mismatched reference came from.
    /// </summary>
    public FullScore Pair(SplitScore split, string? statePath)
    {
        bool isReference = Reference is null;
        Reference ??= new BitArray(split.Hits);
        if (Reference.Length != split.Hits.Length)
        {
            // Only a resumed reference can differ: a state.json whose reference_hits were cut or padded.
            Throw.BadInput($"{statePath}: reference_hits has {Reference.Length} images, the search split {split.Hits.Length}");
        }

        var score = FullScore.Paired(split, Reference);
        if (isReference && split.HardestFirst() is { } hardest)
        {
            Order = [.. hardest.Order];
            Reference = hardest.Hits;
            backend.OrderSearch(Order);
        }

        return score;
    }

    /// <summary>The reference as the checkpoint writes it: '1' right, '0' wrong, by position ("" before there is one).</summary>
    public string ReferenceText => Reference is { } hits ? string.Concat(Enumerable.Range(0, hits.Length).Select(i => hits[i] ? '1' : '0')) : "";
}
