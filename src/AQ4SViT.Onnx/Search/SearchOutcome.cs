namespace AQ4SViT.Onnx.Search;

/// <summary>What a strategy found, and what it cost.</summary>
internal sealed record SearchOutcome
{
    public required BitVector Best { get; init; }
    public required double BestSearchAccuracy { get; init; }
    public required double FpSearchAccuracy { get; init; }
    public int GatedOut { get; init; }
    public int Rounds { get; init; }

    /// <summary>(drift, drop in points, passed) of every fully evaluated candidate that has a drift.</summary>
    public IReadOnlyList<(double Drift, double Drop, bool Passed)> Evaluated { get; init; } = [];

    /// <summary>Every full evaluation on the search split (float model first), measured or an upper bound, for the Pareto plot.</summary>
    public IReadOnlyList<PlotPoint> Frontier { get; init; } = [];

    /// <summary>Every fully evaluated setting that passed, fewest bits first (<see cref="SearchContext.Passers"/>).</summary>
    public IReadOnlyList<(BitVector Setting, FullScore Score)> Passers { get; init; } = [];

    public int AuditedCandidates { get; init; }
    public int AuditedWouldPass { get; init; }
}
