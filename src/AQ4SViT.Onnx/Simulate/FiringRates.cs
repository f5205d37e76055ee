using System.Numerics.Tensors;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate;

/// <summary>
/// Counts spikes per LIF layer over the runs it observes: the firing rate (spikes / neuron-steps) tells how much the
/// spike-driven kernels of the layers reading those spikes can skip.
/// </summary>
public sealed class FiringRates : IMembraneObserver
{
    private readonly Dictionary<string, (double Spikes, long Slots)> _counts = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public bool Observes(LifLayer layer) => true;

    public bool ReadsMembrane => false;

    public void OnStep(LifLayer layer, int t, int batchStart, ReadOnlySpan<int> shape, ReadOnlySpan<float> membrane, ReadOnlySpan<float> spikes)
    {
        double fired = TensorPrimitives.Sum(spikes);
        lock (_gate)
        {
            var (s, n) = _counts.GetValueOrDefault(layer.Name);
            _counts[layer.Name] = (s + fired, n + spikes.Length);
        }
    }

    /// <summary>Layer name → spikes per neuron per step, in the order they first ran.</summary>
    public IReadOnlyList<(string Layer, double Rate)> Rates()
    {
        lock (_gate)
        {
            return [.. _counts.Select(kv => (kv.Key, kv.Value.Slots == 0 ? 0 : kv.Value.Spikes / kv.Value.Slots))];
        }
    }
}
