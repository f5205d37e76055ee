using System.Numerics;
using System.Runtime.Intrinsics;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// A recognised LIF population over all T steps in one pass: for each neuron, charge exactly as the export rounds it,
/// fire s = (v ≥ v_threshold) (the export's v − thr ≥ 0 is the same test in IEEE arithmetic), reset hard or soft.
/// Eight neurons at a time (Vector256, same operations in the same order as the scalar tail), chunks in parallel.
/// What else happens to each V[t] is a sink, a struct so that the JIT compiles one loop per use: nothing, recorded for an
/// <see cref="IMembraneObserver"/>, or compared on the spot with an <see cref="IMembraneComparer"/>'s reference.
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
        var p = new Params(layer);
        if (ctx.Observer is IMembraneComparer comparer && comparer.Compares(layer))
        {
            Compare(layer, x.FloatData!, result.FloatData!, steps, neurons, p, comparer, ctx);
        }
        else if (ctx.Observer is { } observer && observer.Observes(layer))
        {
            Record(layer, x, result.FloatData!, steps, neurons, p, observer, ctx);
        }
        else
        {
            Spikes(x.FloatData!, result.FloatData!, steps, neurons, p, ctx);
        }

        return result;
    }

    private static int Chunks(int neurons) => (neurons + Chunk - 1) / Chunk;

    /// <summary>The spikes alone: no membrane potential leaves the kernel.</summary>
    private static void Spikes(float[] xf, float[] sf, int steps, int neurons, Params p, ExecContext ctx) =>
        ctx.For(Chunks(neurons), ci =>
        {
            var none = default(NoSink);
            Update(xf, sf, ci, steps, neurons, p, ref none);
        });

    private static void Record(LifLayer layer, Tensor x, float[] sf, int steps, int neurons, Params p, IMembraneObserver observer, ExecContext ctx)
    {
        float[] xf = x.FloatData!;
        float[]? membrane = observer.ReadsMembrane ? BufferPool<float>.Shared.Rent(x.Length) : null;
        if (membrane is null)
        {
            Spikes(xf, sf, steps, neurons, p, ctx);
        }
        else
        {
            ctx.For(Chunks(neurons), ci =>
            {
                var sink = new RecordSink(membrane);
                Update(xf, sf, ci, steps, neurons, p, ref sink);
            });
        }

        int[] stepShape = x.Shape[1..];
        for (int t = 0; t < steps; t++)
        {
            var potentials = membrane is null ? default : membrane.AsSpan(t * neurons, neurons);
            observer.OnStep(layer, t, ctx.BatchOffset, stepShape, potentials, sf.AsSpan(t * neurons, neurons));
        }

        if (membrane is not null)
        {
            BufferPool<float>.Shared.Return(membrane);
        }
    }

    private static void Compare(LifLayer layer, float[] xf, float[] sf, int steps, int neurons, Params p, IMembraneComparer comparer, ExecContext ctx)
    {
        var references = new (float[] Values, int Offset)[steps];
        for (int t = 0; t < steps; t++)
        {
            references[t] = comparer.Reference(layer, t, ctx.BatchOffset);
        }

        int chunks = Chunks(neurons);
        var squares = new double[chunks * steps];
        var mismatches = new long[chunks * steps];
        ctx.For(chunks, ci =>
        {
            var sink = new CompareSink(references, p.Threshold, steps);
            Update(xf, sf, ci, steps, neurons, p, ref sink);
            sink.Flush(squares.AsSpan(ci * steps, steps), mismatches.AsSpan(ci * steps, steps));
        });

        // Chunk order, whatever thread ran which chunk: the same sums for any thread count.
        for (int t = 0; t < steps; t++)
        {
            double square = 0;
            long mismatch = 0;
            for (int ci = 0; ci < chunks; ci++)
            {
                square += squares[(ci * steps) + t];
                mismatch += mismatches[(ci * steps) + t];
            }

            comparer.OnCompared(layer, t, ctx.BatchOffset, square, mismatch, neurons);
        }
    }

    /// <summary>Runs chunk <paramref name="ci"/>'s neurons through all steps: eight at a time, then the scalar tail.</summary>
    private static void Update<TSink>(float[] xf, float[] sf, int ci, int steps, int neurons, in Params p, ref TSink sink)
        where TSink : struct, IStepSink
    {
        int i0 = ci * Chunk;
        int i1 = Math.Min(neurons, i0 + Chunk);
        int i = i0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= i1; i += 8)
            {
                Vector8(xf, sf, i, steps, neurons, p, ref sink);
            }
        }

        for (; i < i1; i++)
        {
            Scalar(xf, sf, i, steps, neurons, p, ref sink);
        }
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

    private static void Scalar<TSink>(float[] xf, float[] sf, int i, int steps, int neurons, in Params p, ref TSink sink)
        where TSink : struct, IStepSink
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

            bool fired = v >= p.Threshold;
            sink.Scalar(t, at, i, v, fired);
            if (fired)
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

    private static void Vector8<TSink>(float[] xf, float[] sf, int i, int steps, int neurons, in Params p, ref TSink sink)
        where TSink : struct, IStepSink
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

            var fired = Vector256.GreaterThanOrEqual(v, thr);
            sink.Vector(t, at, i, v, fired);
            (fired & one).CopyTo(sf.AsSpan(at, 8));
            v = p.Hard ? Vector256.ConditionalSelect(fired, reset, v) : Vector256.ConditionalSelect(fired, v - thr, v);
        }
    }

    /// <summary>What happens to V[t] of eight neurons (or one) after charging, before reset.</summary>
    private interface IStepSink
    {
        /// <param name="at">Index in the (T, …) tensor.</param>
        /// <param name="i">Neuron index within the step.</param>
        void Vector(int t, int at, int i, Vector256<float> v, Vector256<float> fired);

        void Scalar(int t, int at, int i, float v, bool fired);
    }

    private struct NoSink : IStepSink
    {
        public readonly void Vector(int t, int at, int i, Vector256<float> v, Vector256<float> fired)
        {
        }

        public readonly void Scalar(int t, int at, int i, float v, bool fired)
        {
        }
    }

    private readonly struct RecordSink(float[] membrane) : IStepSink
    {
        public void Vector(int t, int at, int i, Vector256<float> v, Vector256<float> fired) => v.CopyTo(membrane.AsSpan(at, 8));

        public void Scalar(int t, int at, int i, float v, bool fired) => membrane[at] = v;
    }

    /// <summary>
    /// Σ (V − V_ref)² and differing spikes per step over one chunk. Float lanes suffice within a chunk (at most 512
    /// non-negative terms per lane); the chunk's sums then go on in double.
    /// </summary>
    private struct CompareSink((float[] Values, int Offset)[] references, float threshold, int steps) : IStepSink
    {
        private readonly Vector256<float>[] _squares = new Vector256<float>[steps];
        private readonly float[] _tailSquares = new float[steps];
        private readonly long[] _mismatches = new long[steps];
        private readonly Vector256<float> _threshold = Vector256.Create(threshold);

        public readonly void Vector(int t, int at, int i, Vector256<float> v, Vector256<float> fired)
        {
            var (values, offset) = references[t];
            var r = Vector256.Create(values.AsSpan(offset + i, 8));
            var d = v - r;
            _squares[t] += d * d;
            var differ = fired ^ Vector256.GreaterThanOrEqual(r, _threshold);
            _mismatches[t] += BitOperations.PopCount(differ.ExtractMostSignificantBits());
        }

        public readonly void Scalar(int t, int at, int i, float v, bool fired)
        {
            var (values, offset) = references[t];
            float r = values[offset + i];
            float d = v - r;
            _tailSquares[t] += d * d;
            _mismatches[t] += fired != (r >= threshold) ? 1 : 0;
        }

        public readonly void Flush(Span<double> squares, Span<long> mismatches)
        {
            for (int t = 0; t < steps; t++)
            {
                squares[t] = (double)Vector256.Sum(_squares[t]) + _tailSquares[t];
                mismatches[t] = _mismatches[t];
            }
        }
    }
}
