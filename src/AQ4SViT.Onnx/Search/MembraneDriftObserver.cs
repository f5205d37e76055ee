using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// Compares a candidate's membrane potentials with the float reference inside the LIF kernel (<see cref="IMembraneComparer"/>).
/// Sums are kept per (layer, step, first image) and added up in that order, so the result does not depend on the
/// order in which parallel chunks of a fixed-batch model report.
/// </summary>
internal sealed class MembraneDriftObserver(FloatMembraneTrace reference) : IMembraneObserver, IMembraneComparer
{
    private readonly SortedDictionary<(int Layer, int T, int BatchStart), MembraneDrift.Term> _parts = [];
    private readonly Lock _gate = new();

    /// <summary>Terms known without running (layers before a kept prefix's end).</summary>
    public Dictionary<int, MembraneDrift.Term> Known { get; } = [];

    public MembraneDrift Drift
    {
        get
        {
            var drift = new MembraneDrift();
            foreach (var (layer, term) in Known)
            {
                drift.Set(layer, term);
            }

            lock (_gate)
            {
                foreach (var ((layer, _, _), part) in _parts)
                {
                    drift.Add(layer, part);
                }
            }

            return drift;
        }
    }

    // Every layer is compared in the kernel; nothing is handed over as whole steps.
    public bool Observes(LifLayer layer) => false;

    public void OnStep(LifLayer layer, int t, int batchStart, ReadOnlySpan<int> shape, ReadOnlySpan<float> membrane, ReadOnlySpan<float> spikes) =>
        throw new InvalidOperationException("drift is compared inside the LIF kernel");

    public bool Compares(LifLayer layer) => true;

    public (float[] Values, int Offset) Reference(LifLayer layer, int t, int batchStart)
    {
        var step = reference.Steps[(layer.Index, t)];
        return (step.Membrane, batchStart * step.PerImage);
    }

    public void OnCompared(LifLayer layer, int t, int batchStart, double squaredDifference, long mismatches, long neurons)
    {
        var part = new MembraneDrift.Term(squaredDifference, reference.Norms[(layer.Index, t, batchStart)], neurons, mismatches);
        lock (_gate)
        {
            _parts[(layer.Index, t, batchStart)] = part;
        }
    }
}
