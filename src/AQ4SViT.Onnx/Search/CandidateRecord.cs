namespace AQ4SViT.Onnx.Search;

/// <summary>
/// One line of <c>search.log.jsonl</c>: a candidate and what happened to it (<see cref="Record"/> "candidate"), or one
/// drift proxy and the gate's decision on it (<see cref="Record"/> "proxy").
/// </summary>
public sealed record CandidateRecord
{
    public const string CandidateKind = "candidate";
    public const string ProxyKind = "proxy";

    public int Index { get; init; }

    /// <summary>"candidate" (a full evaluation, a gated candidate or a confirmation) or "proxy" (a drift proxy).</summary>
    public string Record { get; init; } = CandidateKind;
    public string Phase { get; init; } = "";
    public int Round { get; init; }
    public string Move { get; init; } = "";

    /// <summary>Bits of every weight group of the search's granularity, by group name (32: float).</summary>
    public GroupBits Bits { get; init; } = new();
    public double MemorySaving { get; init; }
    public double? Drift { get; init; }
    public double? SpikeMismatch { get; init; }

    /// <summary>
    /// Candidate lines: "evaluated", "gated" (rejected by the drift gate on its measured drift), "gated-estimate" (rejected
    /// on its estimated drift, never measured), "audit" (a gated one evaluated to audit the gate), "confirmed" or
    /// "not-confirmed". Proxy lines: "admitted" (the gate let it through to a full evaluation), "gated-out" (the gate
    /// rejected it) or "estimate-only" (the measured drift only ranked candidates and gave moves' drift increments: the
    /// gate did not decide on it in the round it was measured).
    /// </summary>
    public string Decision { get; init; } = "";
    public double? Accuracy { get; init; }
    public double? Drop { get; init; }

    /// <summary>Standard error of <see cref="Drop"/> in points, from the images this candidate and the float model disagree on.</summary>
    public double? DropStandardError { get; init; }

    /// <summary>
    /// True when the evaluation stopped early because the candidate could no longer pass: <see cref="Accuracy"/> is then an
    /// upper bound and <see cref="Drop"/> a lower one. Null on lines without an accuracy.
    /// </summary>
    public bool? UpperBound { get; init; }
    public bool? Passed { get; init; }
    public double? GateThreshold { get; init; }
    public bool Cached { get; init; }
}
