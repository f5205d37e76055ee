using System.Buffers;
using System.Runtime.Intrinsics;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// A recognised LIF population over all T steps in one pass: for each neuron, charge exactly as the export rounds it,
/// fire s = (v ≥ v_threshold) (the export's v − thr ≥ 0 is the same test in IEEE arithmetic), reset hard or soft.
/// Eight neurons at a time (Vector256, same operations in the same order as the scalar tail), chunks in parallel.
/// Records V[t] only when an observer asks for the layer.
/// </summary>
internal static class Lif
{
    private const int Chunk = 4096;

    public static Tensor Run(Node node, Tensor x, ExecContext ctx)
    {
        var layer = node.Lif!;
        int steps = x.Shape[0];
        int neurons = steps == 0 ? 0 : x.Length / steps;
        var result = Tensor.Uninitialized(x.Shape);
        bool observe = ctx.Observer is { } o && o.Observes(layer);
        float[]? membrane = observe ? ArrayPool<float>.Shared.Rent(x.Length) : null;
        float[] xf = x.FloatData!;
        float[] sf = result.FloatData!;
        var p = new Params(layer);
        int chunks = (neurons + Chunk - 1) / Chunk;
        ctx.For(chunks, ci =>
        {
            int i0 = ci * Chunk;
            int i1 = Math.Min(neurons, i0 + Chunk);
            int i = i0;
            if (Vector256.IsHardwareAccelerated)
            {
                for (; i + 8 <= i1; i += 8)
                {
                    Vector8(xf, sf, membrane, i, steps, neurons, p);
                }
            }

            for (; i < i1; i++)
            {
                Scalar(xf, sf, membrane, i, steps, neurons, p);
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

    private readonly struct Params(LifLayer layer)
    {
        public readonly bool SubtractsVReset = layer.Charge.SubtractsVReset;
        public readonly float VResetInCharge = layer.Charge.VResetInCharge;
        public readonly bool TauIsMultiplier = layer.Charge.TauIsMultiplier;
        public readonly float TauConstant = layer.Charge.TauConstant;
        public readonly bool Decay = layer.DecayInput;
        public readonly bool Hard = layer.VReset is not null;
        public readonly float VReset = layer.VReset ?? 0f;
        public readonly float Threshold = layer.VThreshold;
    }

    private static void Scalar(float[] xf, float[] sf, float[]? membrane, int i, int steps, int neurons, in Params p)
    {
        float v = p.VReset;
        for (int t = 0; t < steps; t++)
        {
            int at = (t * neurons) + i;
            float xi = xf[at];
            float dv = p.SubtractsVReset ? v - p.VResetInCharge : v;
            if (p.Decay)
            {
                float q = xi - dv;
                q = p.TauIsMultiplier ? q * p.TauConstant : q / p.TauConstant;
                v += q;
            }
            else
            {
                float q = p.TauIsMultiplier ? dv * p.TauConstant : dv / p.TauConstant;
                v = (v - q) + xi;
            }

            if (membrane is not null)
            {
                membrane[at] = v;
            }

            if (v >= p.Threshold)
            {
                sf[at] = 1f;
                v = p.Hard ? p.VReset : v - p.Threshold;
            }
            else
            {
                sf[at] = 0f;
            }
        }
    }

    private static void Vector8(float[] xf, float[] sf, float[]? membrane, int i, int steps, int neurons, in Params p)
    {
        var v = Vector256.Create(p.VReset);
        var vr = Vector256.Create(p.VResetInCharge);
        var tau = Vector256.Create(p.TauConstant);
        var thr = Vector256.Create(p.Threshold);
        var reset = Vector256.Create(p.VReset);
        var one = Vector256.Create(1f);
        for (int t = 0; t < steps; t++)
        {
            int at = (t * neurons) + i;
            var xi = Vector256.Create(xf.AsSpan(at, 8));
            var dv = p.SubtractsVReset ? v - vr : v;
            if (p.Decay)
            {
                var q = xi - dv;
                q = p.TauIsMultiplier ? q * tau : q / tau;
                v += q;
            }
            else
            {
                var q = p.TauIsMultiplier ? dv * tau : dv / tau;
                v = (v - q) + xi;
            }

            if (membrane is not null)
            {
                v.CopyTo(membrane.AsSpan(at, 8));
            }

            var fired = Vector256.GreaterThanOrEqual(v, thr);
            (fired & one).CopyTo(sf.AsSpan(at, 8));
            v = p.Hard ? Vector256.ConditionalSelect(fired, reset, v) : Vector256.ConditionalSelect(fired, v - thr, v);
        }
    }
}
