namespace AQ4SViT.Onnx.Graph;

/// <summary>
/// The one table of op knowledge (as ONNX Runtime's quantizer keeps one registry of operators): for each default-domain
/// op we rely on, the inputs it must have at a given opset, which inputs carry weights and where a weight's output
/// channels lie, and the attributes that became inputs at some opset. <see cref="WeightRule"/>, the graph loader, the
/// energy estimate, the weight constraints and the opset upgrader all read it; an op it does not list needs one input,
/// carries no weights and changed no attribute into an input that we handle.
/// </summary>
internal static class OpFacts
{
    private static readonly Fact[] s_table =
    [
        // Weight consumers first, in the order users see them named ("Conv, MatMul or Gemm").
        new(["Conv"], Inputs: 2) { WeightSlots = [1] },
        // MatMul has exactly two inputs; B is where a Linear's weight usually sits, so it is considered first.
        new(["MatMul"], Inputs: 2) { WeightSlots = [1, 0], FixedArity = true },
        new(["Gemm"], Inputs: 2) { WeightSlots = [1] },

        new(["BatchNormalization"], Inputs: 5),
        new(["Where", "ScatterND", "ScatterElements", "Scatter", "Range"], Inputs: 3),
        new(["Gather", "Reshape", "Expand", "Tile", "CastLike", "GatherElements", "GatherND"], Inputs: 2),
        new(["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "And", "Or", "Xor"], Inputs: 2),
        new(["GreaterOrEqual", "Greater", "LessOrEqual", "Less", "Equal"], Inputs: 2),

        // Attributes that became inputs: before that opset the node needs fewer inputs.
        new(["Slice"], Inputs: 3) { InputsBefore = 1, MovedToInputsAt = 10, Moved = ["starts", "ends", "axes", "steps"] },
        new(["Pad"], Inputs: 2) { InputsBefore = 1, MovedToInputsAt = 11, Moved = ["pads", "value"] },
        new(["Split"], Inputs: 1) { MovedToInputsAt = 13, Moved = ["split"] },
        new(["Squeeze", "Unsqueeze", "ReduceSum"], Inputs: 1) { MovedToInputsAt = 13, Moved = ["axes"] },
        new(["ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"], Inputs: 1)
        {
            MovedToInputsAt = 18,
            Moved = ["axes"],
        },
    ];

    private static readonly Dictionary<string, Fact> s_byOp = s_table
        .SelectMany(f => f.Ops.Select(op => (op, f)))
        .ToDictionary(p => p.op, p => p.f, StringComparer.Ordinal);

    private static readonly Fact s_unlisted = new([], Inputs: 1);

    /// <summary>The ops that carry weights (Conv, MatMul, Gemm), in the order messages name them.</summary>
    public static IReadOnlyList<string> WeightOps { get; } = [.. s_table.Where(f => f.WeightSlots.Length > 0).SelectMany(f => f.Ops)];

    /// <summary>How many leading inputs a <paramref name="opType"/> node of opset <paramref name="opset"/> must have (non-empty).</summary>
    public static int RequiredInputs(string opType, int opset)
    {
        var fact = Of(opType);
        return fact.MovedToInputsAt is int at && opset < at ? fact.InputsBefore ?? fact.Inputs : fact.Inputs;
    }

    /// <summary>The input slots of a <paramref name="opType"/> node that may hold a weight, in the order they are considered; empty for other ops.</summary>
    public static IReadOnlyList<int> WeightSlots(string opType) => Of(opType).WeightSlots;

    /// <summary>
    /// Whether a <paramref name="opType"/> node with <paramref name="inputCount"/> inputs has the form whose weight slots
    /// <see cref="WeightRule"/> reads: all its required inputs, and no more where the op's arity is fixed (MatMul).
    /// </summary>
    public static bool HasWeightForm(string opType, int inputCount)
    {
        var fact = Of(opType);
        return fact.WeightSlots.Length > 0 && inputCount >= fact.Inputs && (!fact.FixedArity || inputCount == fact.Inputs);
    }

    /// <summary>
    /// The output-channel axis, as the consumer sees it, of a weight of rank <paramref name="rank"/> at input
    /// <paramref name="slot"/> of a <paramref name="opType"/> node: Conv's W [M, C/g, k…] axis 0; Gemm's B axis 0 when
    /// <paramref name="transB"/> ([N, K]), else 1 ([K, N]); MatMul's Y = A·B: B [.., K, N] the last axis, A [.., M, K]
    /// the second to last.
    /// </summary>
    public static int ChannelAxis(string opType, int slot, int rank, bool transB) => (opType, slot) switch
    {
        ("Conv", 1) => 0,
        ("Gemm", 1) => transB ? 0 : 1,
        ("MatMul", 1) => rank - 1,
        ("MatMul", 0) => rank - 2,
        _ => throw new ArgumentOutOfRangeException(nameof(slot), $"{opType} has no weight at input {slot}"),
    };

    /// <summary>
    /// The attributes of a <paramref name="opType"/> node that become inputs when its opset is raised from
    /// <paramref name="from"/> to <paramref name="to"/> (e.g. ReduceMean's <c>axes</c> at 18); empty when none do.
    /// </summary>
    public static IReadOnlyList<string> AttributesBecomingInputs(string opType, int from, int to)
    {
        var fact = Of(opType);
        return fact.MovedToInputsAt is int at && from < at && to >= at ? fact.Moved : [];
    }

    private static Fact Of(string opType) => s_byOp.GetValueOrDefault(opType, s_unlisted);

    /// <summary>One row of the table.</summary>
    /// <param name="Ops">The op types it describes.</param>
    /// <param name="Inputs">Required inputs (at <see cref="MovedToInputsAt"/> and later when set).</param>
    private sealed record Fact(string[] Ops, int Inputs)
    {
        /// <summary>Required inputs before <see cref="MovedToInputsAt"/>; null when it did not change.</summary>
        public int? InputsBefore { get; init; }

        /// <summary>The opset at which <see cref="Moved"/> turned from attributes into inputs; null when none did.</summary>
        public int? MovedToInputsAt { get; init; }

        /// <summary>The attributes that became inputs at <see cref="MovedToInputsAt"/>.</summary>
        public string[] Moved { get; init; } = [];

        /// <summary>The input slots that may hold a weight, in the order they are considered.</summary>
        public int[] WeightSlots { get; init; } = [];

        /// <summary>Whether the op has exactly <see cref="Inputs"/> inputs (no optional ones).</summary>
        public bool FixedArity { get; init; }
    }
}
