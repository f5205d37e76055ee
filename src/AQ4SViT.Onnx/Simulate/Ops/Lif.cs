using System.Buffers;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// A recognised LIF population over all T steps in one pass: for each neuron, charge exactly as the export rounds it,
/// fire s = (v ≥ v_threshold) (the export's v − thr ≥ 0 is the same test in IEEE arithmetic), reset hard or soft.
/// Records V[t] only when an observer asks for the layer.
/// </summary>
internal static class Lif
{
    public static Tensor Run(Node node, Tensor x, ExecContext ctx)
    {
        var layer = node.Lif!;
        int steps = x.Shape[0];
        int neurons = steps == 0 ? 0 : x.Length / steps;
        var result = Tensor.NewFloats(x.Shape);
        bool observe = ctx.Observer is { } o && o.Observes(layer);
        float[]? membrane = observe ? ArrayPool<float>.Shared.Rent(x.Length) : null;
        float[] xf = x.FloatData!;
        float[] sf = result.FloatData!;
        const int Chunk = 4096;
        int chunks = (neurons + Chunk - 1) / Chunk;
        var form = layer.Charge;
        float thr = layer.VThreshold;
        float vReset = layer.VReset ?? 0f;
        bool hard = layer.VReset is not null;
        bool decay = layer.DecayInput;
        ctx.For(chunks, ci =>
        {
            int i0 = ci * Chunk;
            int i1 = Math.Min(neurons, i0 + Chunk);
            for (int i = i0; i < i1; i++)
            {
                float v = vReset;
                for (int t = 0; t < steps; t++)
                {
                    int at = (t * neurons) + i;
                    float xi = xf[at];
                    float dv = form.SubtractsVReset ? v - form.VResetInCharge : v;
                    if (decay)
                    {
                        float q = xi - dv;
                        q = form.TauIsMultiplier ? q * form.TauConstant : q / form.TauConstant;
                        v += q;
                    }
                    else
                    {
                        float q = form.TauIsMultiplier ? dv * form.TauConstant : dv / form.TauConstant;
                        v = (v - q) + xi;
                    }

                    if (membrane is not null)
                    {
                        membrane[at] = v;
                    }

                    if (v >= thr)
                    {
                        sf[at] = 1f;
                        v = hard ? vReset : v - thr;
                    }
                }
            }
        });

        if (membrane is not null)
        {
            int[] stepShape = x.Shape[1..];
            for (int t = 0; t < steps; t++)
            {
                ctx.Observer!.OnStep(layer, t, ctx.BatchOffset, stepShape, membrane.AsSpan(t * neurons, neurons), sf.AsSpan(t * neurons, neurons));
            }

            ArrayPool<float>.Shared.Return(membrane);
        }

        return result;
    }
}
