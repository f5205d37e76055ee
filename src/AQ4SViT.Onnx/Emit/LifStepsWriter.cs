using AQ4SViT.Onnx.Graph;
using DataType = AQ4SViT.Onnx.Import.Proto.TensorProto.Types.DataType;

namespace AQ4SViT.Onnx.Emit;

/// <summary>
/// A recognised LIF layer as explicit ONNX steps, whatever form the export gave it (unrolled, a Loop, scattered steps):
/// Split the (T, …) input into steps, then per step charge, test the threshold, reset, and Concat the spikes. The float
/// operations and their order are those of the simulator's kernel (<c>Simulate/Ops/Lif.cs</c>, <see cref="ChargeForm"/>):
/// v − v_reset only when the export subtracts it, tau as divisor or multiplier as exported, fire where v ≥ v_threshold,
/// reset by selecting v_reset (hard) or v − v_threshold (soft). So each step's membrane value equals the kernel's bit for
/// bit when the input does.
/// </summary>
internal static class LifStepsWriter
{
    public static LifSteps Write(PreparedNodeWriter w, LifLayer layer, string input, string output)
    {
        int steps = layer.TimeSteps;
        string prefix = $"{layer.Name}/aq4svit.lif{layer.Index}";
        string c = $"aq4svit.lif{layer.Index}";
        var charge = layer.Charge;
        string tau = w.Scalar($"{c}/tau", charge.TauConstant);
        string vResetInCharge = w.Scalar($"{c}/v_reset_in_charge", charge.VResetInCharge);
        string threshold = w.Scalar($"{c}/v_threshold", layer.VThreshold);
        string reset = w.Scalar($"{c}/v_reset", layer.VReset ?? 0f);

        string[] x = [.. Enumerable.Range(0, steps).Select(t => w.Fresh($"{prefix}/x{t}"))];
        // Equal parts of one step each: from opset 18 Split needs num_outputs for that, before it takes no attribute.
        w.Add("Split", $"{prefix}/split", [input], x, [PreparedNodeWriter.Int("axis", 0), .. w.Opset >= 18 ? [PreparedNodeWriter.Int("num_outputs", steps)] : Array.Empty<Import.Proto.AttributeProto>()]);

        var membranes = new string[steps];
        var fired = new string[steps];
        var spikes = new string[steps];
        string v = reset; // initial state v_reset (0 for a soft reset), as the kernel starts
        for (int t = 0; t < steps; t++)
        {
            string at = $"{prefix}/t{t}";
            string dv = v;
            if (charge.SubtractsVReset)
            {
                dv = w.Fresh($"{at}/dv");
                w.Add("Sub", $"{at}/dv", [v, vResetInCharge], [dv]);
            }

            string tauOp = charge.TauIsMultiplier ? "Mul" : "Div";
            string charged = w.Fresh($"{at}/v");
            if (layer.DecayInput)
            {
                // v + (x − dv) / tau
                string q = w.Fresh($"{at}/q");
                string scaled = w.Fresh($"{at}/q_tau");
                w.Add("Sub", $"{at}/q", [x[t], dv], [q]);
                w.Add(tauOp, $"{at}/q_tau", [q, tau], [scaled]);
                w.Add("Add", $"{at}/v", [v, scaled], [charged]);
            }
            else
            {
                // (v − dv / tau) + x
                string scaled = w.Fresh($"{at}/dv_tau");
                string leaked = w.Fresh($"{at}/leaked");
                w.Add(tauOp, $"{at}/dv_tau", [dv, tau], [scaled]);
                w.Add("Sub", $"{at}/leaked", [v, scaled], [leaked]);
                w.Add("Add", $"{at}/v", [leaked, x[t]], [charged]);
            }

            membranes[t] = charged;
            fired[t] = w.Fresh($"{at}/fired");
            if (w.Opset >= 12)
            {
                w.Add("GreaterOrEqual", $"{at}/fired", [charged, threshold], [fired[t]]);
            }
            else
            {
                // No GreaterOrEqual before opset 12: not (v < thr) is the same test for finite values.
                string below = w.Fresh($"{at}/below");
                w.Add("Less", $"{at}/below", [charged, threshold], [below]);
                w.Add("Not", $"{at}/fired", [below], [fired[t]]);
            }

            spikes[t] = w.Fresh($"{at}/s");
            w.Add("Cast", $"{at}/s", [fired[t]], [spikes[t]], [PreparedNodeWriter.CastTo(DataType.Float)]);
            if (t + 1 < steps)
            {
                string next = w.Fresh($"{at}/reset");
                if (layer.VReset is null)
                {
                    string lowered = w.Fresh($"{at}/lowered");
                    w.Add("Sub", $"{at}/lowered", [charged, threshold], [lowered]);
                    w.Add("Where", $"{at}/reset", [fired[t], lowered, charged], [next]);
                }
                else
                {
                    w.Add("Where", $"{at}/reset", [fired[t], reset, charged], [next]);
                }

                v = next;
            }
        }

        w.Add("Concat", $"{prefix}/spikes", spikes, [output], [PreparedNodeWriter.Int("axis", 0)]);
        return new LifSteps(input, membranes, fired);
    }
}
