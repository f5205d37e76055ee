namespace AQ4SViT.Onnx.Graph;

/// <summary>How a LIF layer resets after a spike.</summary>
public enum LifReset
{
    /// <summary>v = v·(1 − s) + v_reset·s.</summary>
    Hard,

    /// <summary>v = v − s·v_threshold (v_reset None).</summary>
    Soft,
}

/// <summary>
/// One spiking neuron population recognised in the exported graph and run natively over T steps:
/// charge (decay_input: v = v + (x − (v − v_reset))/tau; otherwise v = v − (v − v_reset)/tau + x; v_reset 0 for soft),
/// fire s = (v ≥ v_threshold), reset (hard or soft). Initial v = v_reset (0 for soft).
/// </summary>
public sealed record LifLayer
{
    /// <summary>Position among the graph's LIF layers (execution order).</summary>
    public required int Index { get; init; }

    /// <summary>Stable name from the exporter's scope, e.g. "/sps/lifs.0" or "blocks.0.attn.q.lif".</summary>
    public required string Name { get; init; }

    public required float Tau { get; init; }

    public required float VThreshold { get; init; }

    /// <summary>Reset potential for a hard reset; null for a soft reset.</summary>
    public required float? VReset { get; init; }

    public LifReset Reset => VReset is null ? LifReset.Soft : LifReset.Hard;

    public required bool DecayInput { get; init; }

    /// <summary>Time steps the layer was unrolled over.</summary>
    public required int TimeSteps { get; init; }

    /// <summary>Where the recognised step came from: "unrolled" (per-step ops), with "+ folded step 0" when the exporter
    /// folded the float initial state away, or "Loop" when it came from an ONNX Loop unrolled at import.</summary>
    public string Form { get; init; } = "unrolled";

    /// <summary>For spikes written per step through a fixed-shape Reshape/Expand (an unrolled Loop's ScatterND): the
    /// shape each step had in the export, checked against the input at run time (null when the step keeps its shape).</summary>
    internal long[]? StepShape { get; init; }

    /// <summary>The exact constants the export divides (or multiplies) by, so the fused update rounds like the graph.</summary>
    internal ChargeForm Charge { get; init; }

    /// <summary>Value name of the (T, ...) input and the (T, ...) spike output in the graph.</summary>
    public required string Input { get; init; }

    public required string Output { get; init; }
}

/// <summary>The float operations of the charge exactly as exported: v_reset subtracted or not, tau as divisor or multiplier.</summary>
internal readonly record struct ChargeForm(bool SubtractsVReset, float VResetInCharge, bool TauIsMultiplier, float TauConstant)
{
    /// <summary>One charge in float, the operations in the order the kernel (<c>Simulate/Ops/Lif.cs</c>) does them.</summary>
    public float Apply(bool decayInput, float v, float x)
    {
        float dv = SubtractsVReset ? v - VResetInCharge : v;
        if (decayInput)
        {
            float q = x - dv;
            return v + (TauIsMultiplier ? q * TauConstant : q / TauConstant);
        }

        return (v - (TauIsMultiplier ? dv * TauConstant : dv / TauConstant)) + x;
    }
}
