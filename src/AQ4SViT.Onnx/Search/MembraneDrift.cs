using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// The drift proxy. For LIF layers l = 1..L, with V[l][t] the membrane potential after charging at step t (before
/// reset), over all calibration images and neurons, and the logits z (the classifier head's output, averaged over T) as
/// one more term:
/// <code>
///   drift = 1 / (L + 1) · ( Σ_l  Σ_t ‖V_q[l][t] − V_fp[l][t]‖² / (Σ_t ‖V_fp[l][t]‖² + ε)  +  ‖z_q − z_fp‖² / (‖z_fp‖² + ε) ),   ε = 1e-12
/// </code>
/// i.e. each layer's relative squared error of the membrane potentials over all its time steps, averaged over
/// layers so that small layers count as much as large ones. 0 means identical dynamics. Steps are pooled within a
/// layer because a single step can hold almost no potential (a near-silent first step), and a ratio over it alone
/// would explode. The logits term is there because the head feeds no LIF layer: without it, the head's bits would not
/// move the drift at all (a model without LIF layers has only this term). The spike mismatch rate beside it is the
/// fraction of spike outputs that differ.
/// </summary>
internal sealed class MembraneDrift
{
    public const double Epsilon = 1e-12;

    private readonly List<Term> _terms = [];

    /// <summary>Sums of one term (a layer): squared differences, squared reference values, spikes and differing spikes.</summary>
    public readonly record struct Term(double Diff, double Norm, long Spikes, long Mismatches);

    public IReadOnlyList<Term> Terms => _terms;

    /// <summary>Adds one whole term (a layer, or the logits) computed from both sides' values.</summary>
    public void Add(ReadOnlySpan<float> quantized, ReadOnlySpan<float> reference)
    {
        if (quantized.Length != reference.Length)
        {
            throw new ArgumentException($"membrane sizes differ: {quantized.Length} vs {reference.Length}");
        }

        var (diff, norm) = SquaredSums(quantized, reference);
        _terms.Add(new Term(diff, norm, 0, 0));
    }

    /// <summary>Adds sums computed elsewhere (see <see cref="Sums"/>) to term <paramref name="term"/>.</summary>
    public void Add(int term, Term part)
    {
        var t = TermAt(term);
        _terms[term] = new Term(t.Diff + part.Diff, t.Norm + part.Norm, t.Spikes + part.Spikes, t.Mismatches + part.Mismatches);
    }

    /// <summary>
    /// The sums of one (layer, step, chunk) of membrane potentials against the reference's, with the spikes they imply:
    /// a neuron fires exactly when V ≥ <paramref name="threshold"/>, so the spikes differ where one side reaches it and the other not.
    /// </summary>
    public static Term Sums(ReadOnlySpan<float> membrane, ReadOnlySpan<float> referenceMembrane, float threshold)
    {
        if (membrane.Length != referenceMembrane.Length)
        {
            throw new ArgumentException($"membrane sizes differ: {membrane.Length} vs {referenceMembrane.Length}");
        }

        var (diff, norm) = SquaredSums(membrane, referenceMembrane);
        return new Term(diff, norm, membrane.Length, CountFiringDifferently(membrane, referenceMembrane, threshold));
    }

    /// <summary>Sets a whole term, e.g. one known from an earlier run whose layer saw the same inputs.</summary>
    public void Set(int term, Term value)
    {
        TermAt(term);
        _terms[term] = value;
    }

    public double Drift => _terms.Count == 0 ? 0 : _terms.Average(t => t.Diff / (t.Norm + Epsilon));

    public double SpikeMismatch
    {
        get
        {
            long spikes = _terms.Sum(t => t.Spikes);
            return spikes == 0 ? 0 : (double)_terms.Sum(t => t.Mismatches) / spikes;
        }
    }

    private Term TermAt(int term)
    {
        while (_terms.Count <= term)
        {
            _terms.Add(default);
        }

        return _terms[term];
    }

    /// <summary>Σ (q − r)² and Σ r² in double, the difference taken in float; four lanes at a time where AVX is there.</summary>
    private static unsafe (double Diff, double Norm) SquaredSums(ReadOnlySpan<float> q, ReadOnlySpan<float> r)
    {
        double diff = 0;
        double norm = 0;
        int i = 0;
        if (Avx.IsSupported && q.Length >= 4)
        {
            var d4 = Vector256<double>.Zero;
            var n4 = Vector256<double>.Zero;
            fixed (float* pq = q, pr = r)
            {
                for (; i + 4 <= q.Length; i += 4)
                {
                    var qv = Sse.LoadVector128(pq + i);
                    var rv = Sse.LoadVector128(pr + i);
                    var d = Avx.ConvertToVector256Double(Sse.Subtract(qv, rv));
                    var rr = Avx.ConvertToVector256Double(rv);
                    d4 = Avx.Add(d4, Avx.Multiply(d, d));
                    n4 = Avx.Add(n4, Avx.Multiply(rr, rr));
                }
            }

            diff = Vector256.Sum(d4);
            norm = Vector256.Sum(n4);
        }

        for (; i < q.Length; i++)
        {
            double d = q[i] - r[i];
            diff += d * d;
            norm += (double)r[i] * r[i];
        }

        return (diff, norm);
    }

    private static long CountFiringDifferently(ReadOnlySpan<float> q, ReadOnlySpan<float> r, float threshold)
    {
        long count = 0;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var thr = Vector256.Create(threshold);
            for (; i + 8 <= q.Length; i += 8)
            {
                var differ = Vector256.GreaterThanOrEqual(Vector256.Create(q.Slice(i, 8)), thr) ^ Vector256.GreaterThanOrEqual(Vector256.Create(r.Slice(i, 8)), thr);
                count += BitOperations.PopCount(differ.ExtractMostSignificantBits());
            }
        }

        for (; i < q.Length; i++)
        {
            count += (q[i] >= threshold) != (r[i] >= threshold) ? 1 : 0;
        }

        return count;
    }
}
