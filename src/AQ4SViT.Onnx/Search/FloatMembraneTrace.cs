using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// The float model's V[l][t] over the whole calibration batch, per (layer, step), and Σ V² of each part a run reports
/// (layer, step, first image): what every candidate's drift is measured against. Its spikes are not kept: a neuron fires
/// exactly when V ≥ v_threshold, so spike mismatches are read off the two membranes.
/// </summary>
internal sealed class FloatMembraneTrace : IMembraneObserver
{
    public Dictionary<(int Layer, int T), (float[] Membrane, int PerImage)> Steps { get; } = [];

    public Dictionary<(int Layer, int T, int BatchStart), double> Norms { get; } = [];

    /// <summary>The float model's logits on the calibration batch.</summary>
    public float[] Logits { get; set; } = [];

    public bool Observes(LifLayer layer) => true;

    public void OnStep(LifLayer layer, int t, int batchStart, ReadOnlySpan<int> shape, ReadOnlySpan<float> membrane, ReadOnlySpan<float> spikes)
    {
        int perImage = membrane.Length / shape[0];
        if (!Steps.TryGetValue((layer.Index, t), out var step))
        {
            step = (new float[perImage * 4], perImage);
        }

        int needed = (batchStart * perImage) + membrane.Length;
        if (step.Membrane.Length < needed)
        {
            var m = step.Membrane;
            Array.Resize(ref m, Math.Max(needed, step.Membrane.Length * 2));
            step = (m, perImage);
        }

        membrane.CopyTo(step.Membrane.AsSpan(batchStart * perImage));
        Steps[(layer.Index, t)] = step;
        Norms[(layer.Index, t, batchStart)] = MembraneDrift.Sums(membrane, membrane, layer.VThreshold).Norm;
    }
}

/// <summary>Records the float model's step into its <see cref="FloatMembraneTrace"/>; its drift against itself is zero by definition.</summary>
internal sealed class FloatTraceRecorder(FloatMembraneTrace reference, MembraneDriftObserver self) : IMembraneObserver
{
    public bool Observes(LifLayer layer) => true;

    public void OnStep(LifLayer layer, int t, int batchStart, ReadOnlySpan<int> shape, ReadOnlySpan<float> membrane, ReadOnlySpan<float> spikes)
    {
        reference.OnStep(layer, t, batchStart, shape, membrane, spikes);
        self.OnCompared(layer, t, batchStart, 0, 0, membrane.Length);
    }
}
