using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// The search's engine: our simulator with fake-quantized weight overrides. The float model's membrane
/// potentials on the calibration batch are computed once and kept (<see cref="FloatMembraneTrace"/>); each candidate's are
/// compared with them as they stream out of the simulator (<see cref="MembraneDriftObserver"/>; nothing of the candidate's
/// is stored). Full evaluations run in <see cref="SimulatorFullEvaluator"/>.
/// Proxies reuse prefixes: for the float model and for the latest hinted parents (<see cref="HintParent"/>) the values
/// alive before each weight's first reader are kept, with the drift terms of every LIF layer; a candidate then runs only
/// from the first node that reads a weight it changes, and takes the earlier layers' terms from the kept run. The result
/// is the same as a whole run (same values in the same order), at a fraction of the cost for moves on later layers
/// (<see cref="KeptPrefixes"/>).
/// </summary>
internal sealed class SimulatorBackend : ISearchBackend
{
    private readonly Simulator _simulator;
    private readonly WeightTable _weights;
    private readonly IReadOnlyList<QuantizableWeight> _catalog;
    private readonly ImageSet _calibration;
    private ImageSet _search;
    private readonly float[] _calibrationInput;
    private readonly int _batch;
    private readonly FloatMembraneTrace _reference;
    private readonly int[] _recordedNodes;
    private readonly Dictionary<int, int> _lifNode;
    private readonly KeptPrefixes? _prefixes;
    private readonly SimulatorFullEvaluator _full;
    private readonly bool _proxies;
    private readonly int _keptParents = 4;

    /// <summary>Parents whose prefixes are kept: the beam's width (each kept run holds the calibration batch's activations).</summary>
    public int KeptParents
    {
        get => _keptParents;
        init
        {
            _keptParents = value;
            if (_prefixes is not null)
            {
                _prefixes.Capacity = value;
            }
        }
    }

    /// <param name="reusePrefixes">False: every proxy runs the whole graph (for checking that reuse changes nothing).</param>
    /// <param name="proxies">False: drift proxies run elsewhere (<c>OrtDriftProxy</c>), so the float reference is not
    /// recorded here and <see cref="Proxy"/> is not available.</param>
    public SimulatorBackend(Simulator simulator, WeightTable weights, ImageSet calibration, ImageSet search, InputScaling scaling, int batch = 100, bool reusePrefixes = true, bool proxies = true)
    {
        _simulator = simulator;
        _weights = weights;
        _catalog = weights.Weights;
        _calibration = calibration;
        _search = search;
        _full = new SimulatorFullEvaluator(simulator, weights, scaling, batch);
        _batch = batch;
        WeightNames = _catalog.Select(w => w.Name).ToArray();
        WeightParams = _catalog.Select(w => w.Params).ToArray();
        _calibrationInput = SimulatorInput.Fill(simulator, scaling, calibration, 0, calibration.Count);
        _reference = new FloatMembraneTrace();
        DriftKind = simulator.LifLayers.Count > 0 ? "membrane" : "logit";
        var graph = simulator.Graph;
        int[] firstReader = WeightNames.Select(graph.FirstReader).ToArray();
        _lifNode = Enumerable.Range(0, graph.Nodes.Count).Where(i => graph.Nodes[i].Lif is not null).ToDictionary(i => graph.Nodes[i].Lif!.Index, i => i);

        // Starting at the first weight reader saves nothing: record before the later ones.
        _recordedNodes = firstReader.Where(n => n >= 0).Distinct().Order().Skip(1).ToArray();
        _proxies = proxies;
        if (!proxies)
        {
            return;
        }

        if (reusePrefixes && DriftKind == "membrane" && _recordedNodes.Length > 0)
        {
            // The float model against itself gives its terms: zero differences, but the norms and spike counts a
            // candidate resumed from this run needs for the layers it skips.
            var self = new MembraneDriftObserver(_reference);
            _reference.Logits = _simulator.RunRecording(_calibrationInput, calibration.Count, _recordedNodes, out var prefix, null, new FloatTraceRecorder(_reference, self));
            var own = WithLogits(self, _reference.Logits);
            _prefixes = new KeptPrefixes(new KeptRun(BitVector.AllFloat(WeightNames.Count), prefix, Score(own), [.. own.Terms]), firstReader, _recordedNodes, RunKept);
        }
        else
        {
            _reference.Logits = _simulator.Run(_calibrationInput, calibration.Count, null, _reference);
        }
    }

    /// <summary>Proxies that started from a kept prefix (diagnostics).</summary>
    public int PrefixReuses => _prefixes?.Reuses ?? 0;

    /// <summary>Floats held by kept prefixes now.</summary>
    public long KeptFloats => _prefixes?.KeptFloats ?? 0;

    public IReadOnlyList<string> WeightNames { get; }

    public IReadOnlyList<long> WeightParams { get; }

    /// <summary>"membrane", or "logit" for a model without LIF layers (drift then compares logits).</summary>
    public string DriftKind { get; }

    public int SearchImages => _search.Count;

    public int CalibrationImages => _calibration.Count;

    /// <summary>
    /// Runs the calibration images once with <paramref name="setting"/>'s weights, counting every weight layer's operations
    /// and every LIF layer's firing rate (<see cref="EnergyEstimate"/>).
    /// </summary>
    public OperationCounter CountOperations(BitVector setting)
    {
        // Batch by batch: the whole calibration set at once overflows a tensor at 224×224 (128 images × T 4 × 96
        // channels × 224² at the first convolution). The counter adds operations and spikes over the runs.
        var counter = new OperationCounter(_simulator.Graph, [.. WeightNames]);
        var overrides = _weights.Overrides(setting.Bits);
        int perImage = _simulator.ImageSize;
        for (int start = 0; start < _calibration.Count; start += _batch)
        {
            int n = Math.Min(_batch, _calibration.Count - start);
            _simulator.Run(_calibrationInput.AsSpan(start * perImage, n * perImage), n, overrides, counter);
        }

        return counter;
    }

    public IReadOnlyList<SearchGroup> Groups(Granularity granularity)
    {
        var index = WeightNames.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        return WeightCatalog.Groups(_catalog, granularity)
            .Select(g => new SearchGroup(g.Name, g.Weights.Select(w => index[w]).ToArray(), g.Params))
            .ToArray();
    }

    public void HintParent(BitVector parent) => _prefixes?.Hint(parent);

    public ProxyScore Proxy(BitVector setting, CancellationToken cancellation)
    {
        if (!_proxies)
        {
            throw new InvalidOperationException("this backend was built without the float reference: drift proxies run in ONNX Runtime");
        }

        var overrides = _weights.Overrides(setting.Bits);
        if (_prefixes?.Best(setting) is { } start)
        {
            if (start.Node == int.MaxValue)
            {
                return start.Run.Score; // the kept run is this very setting
            }

            var resumed = new MembraneDriftObserver(_reference);
            foreach (var (layer, node) in _lifNode)
            {
                if (node < start.Node)
                {
                    resumed.Known[layer] = start.Run.Terms[layer];
                }
            }

            var resumedLogits = _simulator.RunFrom(start.Run.Prefix, start.Node, overrides, resumed);
            return Score(WithLogits(resumed, resumedLogits));
        }

        var observer = new MembraneDriftObserver(_reference);
        var logits = _simulator.Run(_calibrationInput, _calibration.Count, overrides, DriftKind == "membrane" ? observer : null);
        return Score(WithLogits(observer, logits));
    }

    /// <summary>
    /// The LIF layers' terms, then the logits as the last term (see <see cref="MembraneDrift"/>): the classifier head
    /// feeds no LIF layer, so without it the head's bits would not move the drift at all.
    /// </summary>
    private MembraneDrift WithLogits(MembraneDriftObserver observer, float[] logits)
    {
        var drift = observer.Drift;
        drift.Add(logits, _reference.Logits);
        return drift;
    }

    private ProxyScore Score(MembraneDrift drift) => new(drift.Drift, drift.SpikeMismatch, DriftKind);

    /// <summary>Runs <paramref name="parent"/> on the calibration batch, recording its prefixes and drift terms.</summary>
    private KeptRun RunKept(BitVector parent)
    {
        var observer = new MembraneDriftObserver(_reference);
        var logits = _simulator.RunRecording(_calibrationInput, _calibration.Count, _recordedNodes, out var prefix, _weights.Overrides(parent.Bits), observer);
        var drift = WithLogits(observer, logits);
        return new KeptRun(parent, prefix, Score(drift), [.. drift.Terms]);
    }

    /// <summary>Images run by full evaluations so far (early stops make it less than evaluations × split size).</summary>
    public long FullImages => _full.Images;

    public SplitScore SearchAccuracy(BitVector setting, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation) => _full.Score(_search, setting, couldStillPass, cancellation);

    public void OrderSearch(IReadOnlyList<int> order) => _search = _search.Select(order);

    /// <summary>
    /// An evaluation on other images than the search's: the held-out confirmation and the final test split. With
    /// <paramref name="couldStillPass"/> it stops early as <see cref="TopOneTally"/> says; without, it sees every image.
    /// </summary>
    public SplitScore Score(ImageSet set, BitVector setting, CancellationToken cancellation, Func<SplitScore, bool>? couldStillPass = null) =>
        _full.Score(set, setting, couldStillPass, cancellation);
}
