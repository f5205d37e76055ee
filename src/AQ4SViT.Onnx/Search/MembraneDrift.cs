namespace AQ4SViT.Onnx.Search;

/// <summary>
/// The drift proxy. For LIF layers l = 1..L, with V[l][t] the membrane potential after charging at step t (before
/// reset), over all calibration images and neurons:
/// <code>
///   drift = (1 / L) · Σ_l  Σ_t ‖V_q[l][t] − V_fp[l][t]‖²  /  (Σ_t ‖V_fp[l][t]‖² + ε),   ε = 1e-12
/// </code>
/// i.e. each layer's relative squared error of the membrane potentials over all its time steps, averaged over
/// layers so that small layers count as much as large ones. 0 means identical dynamics. Steps are pooled within a
/// layer because a single step can hold almost no potential (a near-silent first step), and a ratio over it alone
/// would explode. The spike mismatch rate beside it is the fraction of spike outputs that differ.
/// Without LIF layers, the same formula runs over the logits (L = 1).
/// </summary>
public sealed class MembraneDrift
{
    public const double Epsilon = 1e-12;

    private readonly List<(double Diff, double Norm)> _terms = [];
    private long _spikes;
    private long _mismatches;

    /// <summary>Adds one whole term (a layer).</summary>
    public void Add(ReadOnlySpan<float> quantized, ReadOnlySpan<float> reference) => Accumulate(_terms.Count, quantized, reference);

    /// <summary>
    /// Adds part of term <paramref name="term"/> (a layer): one step, or one chunk of the calibration images;
    /// a term's parts are summed before its ratio is taken.
    /// </summary>
    public void Accumulate(int term, ReadOnlySpan<float> quantized, ReadOnlySpan<float> reference)
    {
        if (quantized.Length != reference.Length)
        {
            throw new ArgumentException($"membrane sizes differ: {quantized.Length} vs {reference.Length}");
        }

        double diff = 0;
        double norm = 0;
        for (int i = 0; i < quantized.Length; i++)
        {
            double d = quantized[i] - reference[i];
            diff += d * d;
            norm += (double)reference[i] * reference[i];
        }

        while (_terms.Count <= term)
        {
            _terms.Add((0, 0));
        }

        var (sumDiff, sumNorm) = _terms[term];
        _terms[term] = (sumDiff + diff, sumNorm + norm);
    }

    /// <summary>Counts differing spikes (values 0/1) of one (layer, step).</summary>
    public void AddSpikes(ReadOnlySpan<float> quantized, ReadOnlySpan<float> reference)
    {
        for (int i = 0; i < quantized.Length; i++)
        {
            if (quantized[i] != reference[i])
            {
                _mismatches++;
            }
        }

        _spikes += quantized.Length;
    }

    public double Drift => _terms.Count == 0 ? 0 : _terms.Average(t => t.Diff / (t.Norm + Epsilon));

    public double SpikeMismatch => _spikes == 0 ? 0 : (double)_mismatches / _spikes;
}
