using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate;

/// <summary>
/// Receives membrane potentials V[l][t] (after charge, before reset) and spikes of chosen LIF layers during a run.
/// Calls for one run are serialised (never concurrent); a model with a fixed batch runs in chunks, each call says
/// which images of the caller's batch it covers.
/// </summary>
public interface IMembraneObserver
{
    /// <summary>Asked once per layer per run; layers answered false cost nothing.</summary>
    bool Observes(LifLayer layer);

    /// <summary>False when <see cref="OnStep"/> reads only the spikes: it then gets an empty membrane and the kernel keeps
    /// no copy of the potentials (a whole layer's, 77 MB at 224×224).</summary>
    bool ReadsMembrane => true;

    /// <param name="layer">The LIF layer.</param>
    /// <param name="t">Time step, 0 ≤ t &lt; T.</param>
    /// <param name="batchStart">Index of the first image these values belong to in the caller's batch.</param>
    /// <param name="shape">Shape of one step's state, e.g. (B, N, D) for a (T, B, N, D) layer input; dim 0 is the images of this call.</param>
    /// <param name="membrane">V[l][t], row-major over <paramref name="shape"/>; valid only during the call.</param>
    /// <param name="spikes">Spikes at step t (0/1), same layout; valid only during the call.</param>
    void OnStep(LifLayer layer, int t, int batchStart, ReadOnlySpan<int> shape, ReadOnlySpan<float> membrane, ReadOnlySpan<float> spikes);
}

/// <summary>
/// An observer that compares each LIF step with reference membrane potentials inside the LIF kernel, so the candidate's
/// membranes are never written out and read back (the drift proxy's hot loop). For each (layer, step) the kernel sums,
/// over the neurons of the call, (V − V_ref)² and the neurons whose firing differs (V ≥ thr vs V_ref ≥ thr). The sums are
/// taken per fixed chunk of neurons and added in chunk order, so they do not depend on the thread count.
/// </summary>
internal interface IMembraneComparer
{
    /// <summary>Asked once per layer per run; false: the layer goes through <see cref="IMembraneObserver.OnStep"/> if observed at all.</summary>
    bool Compares(LifLayer layer);

    /// <summary>
    /// The reference V[l][t] for the images from <paramref name="batchStart"/> on: the array and the index where they start.
    /// Parallel chunks of a fixed-batch model may ask at once, so it must only read.
    /// </summary>
    (float[] Values, int Offset) Reference(LifLayer layer, int t, int batchStart);

    /// <summary>The sums of one (layer, step) over the <paramref name="neurons"/> values of this call.</summary>
    void OnCompared(LifLayer layer, int t, int batchStart, double squaredDifference, long mismatches, long neurons);
}

/// <summary>
/// An observer (passed to the simulator as its <see cref="IMembraneObserver"/>) that also sees every node run: its index
/// in <see cref="SpikingGraph.Nodes"/>, the images of this call and the shapes of the node's inputs and outputs. Chunks
/// of a fixed-batch model may call it at once, so it must be thread-safe.
/// </summary>
internal interface INodeObserver
{
    void OnNode(int node, int images, IReadOnlyList<int[]?> inputShapes, IReadOnlyList<int[]> outputShapes);
}
