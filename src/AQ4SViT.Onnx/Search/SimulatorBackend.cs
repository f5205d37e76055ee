using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Simulate;
using AQ4SViT.Onnx.Validate;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// The search's engine: our simulator with fake-quantized weight overrides. The float model's membrane
/// potentials on the calibration batch are computed once and kept; each candidate's are compared with them
/// as they stream out of the simulator (nothing of the candidate's is stored).
/// </summary>
public sealed class SimulatorBackend : ISearchBackend
{
    private readonly Simulator _simulator;
    private readonly FakeQuantWeights _weights;
    private readonly IReadOnlyList<QuantizableWeight> _catalog;
    private readonly ImageSet _calibration;
    private readonly ImageSet _search;
    private readonly ImageSet _test;
    private readonly InputScaling _scaling;
    private readonly int _batch;
    private readonly float[] _calibrationInput;
    private readonly ReferenceTrace _reference;

    public SimulatorBackend(Simulator simulator, FakeQuantWeights weights, ImageSet calibration, ImageSet search, ImageSet test, InputScaling scaling, int batch = 100)
    {
        _simulator = simulator;
        _weights = weights;
        _catalog = weights.Weights;
        _calibration = calibration;
        _search = search;
        _test = test;
        _scaling = scaling;
        _batch = batch;
        WeightNames = _catalog.Select(w => w.Name).ToArray();
        WeightParams = _catalog.Select(w => w.Params).ToArray();
        _calibrationInput = Fill(calibration, 0, calibration.Count);
        _reference = new ReferenceTrace();
        var logits = _simulator.Run(_calibrationInput, calibration.Count, null, _reference);
        _reference.Logits = logits;
        DriftKind = simulator.LifLayers.Count > 0 ? "membrane" : "logit";
    }

    public IReadOnlyList<string> WeightNames { get; }

    public IReadOnlyList<long> WeightParams { get; }

    /// <summary>"membrane", or "logit" for a model without LIF layers (drift then compares logits).</summary>
    public string DriftKind { get; }

    public int SearchImages => _search.Count;

    public int TestImages => _test.Count;

    public int CalibrationImages => _calibration.Count;

    public IReadOnlyList<SearchGroup> Groups(Granularity granularity)
    {
        var index = WeightNames.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        return WeightCatalog.Groups(_catalog, granularity)
            .Select(g => new SearchGroup(g.Name, g.Weights.Select(w => index[w]).ToArray(), g.Params))
            .ToArray();
    }

    public ProxyScore Proxy(BitVector setting, CancellationToken cancellation)
    {
        var overrides = _weights.Overrides(setting.Bits);
        var observer = new DriftObserver(_reference);
        var logits = _simulator.Run(_calibrationInput, _calibration.Count, overrides, DriftKind == "membrane" ? observer : null);
        if (DriftKind == "logit")
        {
            observer.Drift.Add(logits, _reference.Logits);
        }

        return new ProxyScore(observer.Drift.Drift, observer.Drift.SpikeMismatch, DriftKind);
    }

    public double SearchAccuracy(BitVector setting, CancellationToken cancellation) => Accuracy(_search, setting, cancellation);

    /// <summary>Top-1 on the test split: only for the final report, never during the search.</summary>
    public double TestAccuracy(BitVector setting, CancellationToken cancellation) => Accuracy(_test, setting, cancellation);

    private double Accuracy(ImageSet set, BitVector setting, CancellationToken cancellation)
    {
        var overrides = _weights.Overrides(setting.Bits);
        int classes = _simulator.Classes;
        int correct = 0;
        var logits = new float[_batch * classes];
        for (int start = 0; start < set.Count; start += _batch)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Math.Min(_batch, set.Count - start);
            _simulator.Run(Fill(set, start, count), count, logits, overrides);
            for (int i = 0; i < count; i++)
            {
                if (Validate.Accuracy.ArgMax(logits.AsSpan(i * classes, classes)) == set.Labels[start + i])
                {
                    correct++;
                }
            }
        }

        return set.Count == 0 ? 0 : (double)correct / set.Count;
    }

    private float[] Fill(ImageSet set, int start, int count)
    {
        int[] dims = _simulator.ImageDims;
        var input = new float[count * _simulator.ImageSize];
        _scaling.Fill(set, start, count, dims[0], input);
        return input;
    }

    /// <summary>The float model's V[l][t] and spikes over the whole calibration batch, per (layer, step).</summary>
    private sealed class ReferenceTrace : IMembraneObserver
    {
        public Dictionary<(int Layer, int T), (float[] Membrane, float[] Spikes, int PerImage)> Steps { get; } = [];

        public float[] Logits { get; set; } = [];

        public bool Observes(LifLayer layer) => true;

        public void OnStep(LifLayer layer, int t, int batchStart, ReadOnlySpan<int> shape, ReadOnlySpan<float> membrane, ReadOnlySpan<float> spikes)
        {
            int perImage = membrane.Length / shape[0];
            if (!Steps.TryGetValue((layer.Index, t), out var step))
            {
                step = (new float[perImage * 4], new float[perImage * 4], perImage);
            }

            int needed = (batchStart * perImage) + membrane.Length;
            if (step.Membrane.Length < needed)
            {
                int size = Math.Max(needed, step.Membrane.Length * 2);
                var m = step.Membrane;
                var s = step.Spikes;
                Array.Resize(ref m, size);
                Array.Resize(ref s, size);
                step = (m, s, perImage);
            }

            membrane.CopyTo(step.Membrane.AsSpan(batchStart * perImage));
            spikes.CopyTo(step.Spikes.AsSpan(batchStart * perImage));
            Steps[(layer.Index, t)] = step;
        }
    }

    /// <summary>Compares a candidate's membrane potentials with the reference as they are produced.</summary>
    private sealed class DriftObserver(ReferenceTrace reference) : IMembraneObserver
    {
        public MembraneDrift Drift { get; } = new();

        public bool Observes(LifLayer layer) => true;

        public void OnStep(LifLayer layer, int t, int batchStart, ReadOnlySpan<int> shape, ReadOnlySpan<float> membrane, ReadOnlySpan<float> spikes)
        {
            var step = reference.Steps[(layer.Index, t)];
            int offset = batchStart * step.PerImage;
            Drift.Accumulate(layer.Index, membrane, step.Membrane.AsSpan(offset, membrane.Length));
            Drift.AddSpikes(spikes, step.Spikes.AsSpan(offset, spikes.Length));
        }
    }
}
