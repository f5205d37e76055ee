namespace AQ4SViT.Onnx.Search;

/// <summary>One line of <c>search.log.jsonl</c>: a candidate and what happened to it.</summary>
public sealed record CandidateRecord
{
    public int Index { get; init; }
    public string Phase { get; init; } = "";
    public int Round { get; init; }
    public string Move { get; init; } = "";
    public string Bits { get; init; } = "";
    public double MemorySaving { get; init; }
    public double? Drift { get; init; }
    public double? SpikeMismatch { get; init; }

    /// <summary>
    /// "evaluated", "gated" (rejected by the drift gate on its measured drift), "gated-estimate" (rejected on its estimated
    /// drift, never measured) or "audit" (a gated one evaluated to audit the gate).
    /// </summary>
    public string Decision { get; init; } = "";
    public double? Accuracy { get; init; }
    public double? Drop { get; init; }

    /// <summary>Standard error of <see cref="Drop"/> in points, from the images this candidate and the float model disagree on.</summary>
    public double? DropStandardError { get; init; }
    public bool? Passed { get; init; }
    public double? GateThreshold { get; init; }
    public bool Cached { get; init; }
}
