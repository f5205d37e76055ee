namespace AQ4SViT.Onnx.Graph;

internal static partial class LifRecognizer
{
    /// <summary>What the kernel will run for a recognised neuron, and whether it reproduces the export bit for bit.</summary>
    private readonly record struct LifParameters(ChargeForm Charge, bool DecayInput, float? VReset, bool Exact);

    /// <summary>
    /// Finds the LIF update that the export's steps compute. Step t ≥ 1 is a function F(v, s, x) of the step before's membrane
    /// and spike and this step's input; with s = 0 it is the charge alone, a·v + b·x + c, which gives the form (decay_input:
    /// b = 1/τ, 1 − a = b; otherwise b = 1, 1/τ = 1 − a; IF: a = b = 1) and v_reset in the charge (c·τ); with s = 1 it is the
    /// charge after the reset, which tells hard (independent of v) from soft (v − v_threshold). Step 0 must be the charge
    /// from the initial state (v_reset, or 0 for soft), which also covers exporters that folded that state away (x₀/τ).
    /// Candidates use the export's own constants (÷τ or ×1/τ, v − v_r or v) and must agree with the graph in float on a
    /// grid of (v, x) for both spikes: exactly when one does, else within 1e-5 (marked approximate).
    /// </summary>
    private static LifParameters? FitLif(StepExpression[] steps, float threshold, out string? why)
    {
        why = null;
        if (steps.Length < 2)
        {
            why = "a single time step does not show the neuron's leak";
            return null;
        }

        var pool = steps.SelectMany(e => e.Constants).Append(0f).Distinct().ToList();
        var first = steps[1];
        float c0 = first.Eval(0f, 0f, 0f);
        float a = first.Eval(1f, 0f, 0f) - c0;
        float b = first.Eval(0f, 0f, 1f) - c0;
        LifParameters? best = null;
        double bestError = double.PositiveInfinity;
        foreach (var (charge, decay) in ChargeCandidates(a, b, c0, pool))
        {
            foreach (float? reset in ResetCandidates(charge, decay, pool, c0))
            {
                var p = new LifParameters(charge, decay, reset, true);
                double error = Disagreement(p, threshold, steps);
                if (error == 0)
                {
                    return p;
                }

                if (error < bestError)
                {
                    (best, bestError) = (p with { Exact = false }, error);
                }
            }
        }

        if (best is not null && bestError <= 1e-5)
        {
            return best;
        }

        why = $"the update is no LIF charge and reset (after no spike v' ≈ {a:G4}·v + {b:G4}·x + {c0:G4}" +
            (best is null ? "" : $"; the closest LIF form is off by {bestError:G3}") + ")";
        return null;
    }

    private static IEnumerable<(ChargeForm Charge, bool Decay)> ChargeCandidates(float a, float b, float c0, List<float> pool)
    {
        static bool Near(float u, float v) => Math.Abs(u - v) <= 1e-5f * (1f + Math.Abs(v));
        foreach (bool decay in (bool[])[true, false])
        {
            float k = decay ? b : 1f - a; // 1/τ
            if (!float.IsFinite(k) || (decay && !Near(1f - a, k)) || (!decay && !Near(b, 1f)))
            {
                continue;
            }

            float vr = k != 0f ? c0 / k : 0f;
            foreach (bool multiplies in (bool[])[false, true])
            {
                var taus = pool.Append(k).Append(k != 0f ? 1f / k : float.NaN)
                    .Where(t => float.IsFinite(t) && (multiplies ? Near(t, k) : t != 0f && Near(1f / t, k))).Distinct();
                foreach (float tau in taus)
                {
                    foreach (bool subtracts in (bool[])[false, true])
                    {
                        var resets = subtracts ? pool.Append(vr).Where(r => Near(r, vr)).Distinct() : [0f];
                        foreach (float r in resets)
                        {
                            if (!subtracts && !Near(vr, 0f) && k != 0f)
                            {
                                continue;
                            }

                            yield return (new ChargeForm(subtracts, r, multiplies, tau), decay);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Soft (null), then hard to each constant the export used (and v_reset in the charge).</summary>
    private static IEnumerable<float?> ResetCandidates(ChargeForm charge, bool decay, List<float> pool, float c0)
    {
        yield return null;
        foreach (float r in pool.Append(charge.VResetInCharge).Distinct())
        {
            yield return r;
        }
    }

    private static readonly float[] s_v = [-1.75f, -0.3f, 0f, 0.4f, 0.9999f, 1f, 1.25f, 3.5f];
    private static readonly float[] s_x = [-2.25f, -0.6f, 0f, 0.35f, 1f, 1.7f, 2f, 6.25f];

    /// <summary>0 when the kernel's update equals every step of the export on the grid bit for bit (±0 alike), else the
    /// largest relative difference.</summary>
    private static double Disagreement(LifParameters p, float threshold, StepExpression[] steps)
    {
        double worst = 0;
        void Compare(float graph, float kernel)
        {
            if (graph != kernel)
            {
                double d = float.IsFinite(graph) && float.IsFinite(kernel) ? Math.Abs(graph - kernel) / (1.0 + Math.Abs(graph)) : double.PositiveInfinity;
                worst = Math.Max(worst, double.IsNaN(d) ? double.PositiveInfinity : d);
            }
        }

        float initial = p.VReset ?? 0f;
        foreach (float x in s_x)
        {
            Compare(steps[0].Eval(0f, 0f, x), p.Charge.Apply(p.DecayInput, initial, x));
        }

        for (int t = 1; t < steps.Length; t++)
        {
            foreach (float v in s_v)
            {
                foreach (float x in s_x)
                {
                    Compare(steps[t].Eval(v, 0f, x), p.Charge.Apply(p.DecayInput, v, x));
                    float afterSpike = p.VReset ?? (v - threshold);
                    Compare(steps[t].Eval(v, 1f, x), p.Charge.Apply(p.DecayInput, afterSpike, x));
                }
            }
        }

        return worst;
    }
}
