using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// The search's engine: our simulator with fake-quantized weight overrides. The float model's membrane
/// potentials on the calibration batch are computed once and kept; each candidate's are compared with them
/// as they stream out of the simulator (nothing of the candidate's is stored).
/// Proxies reuse prefixes: for the float model and for the latest hinted parents (<see cref="HintParent"/>) the values
/// alive before each weight's first reader are kept, with the drift terms of every LIF layer; a candidate then runs only
/// from the first node that reads a weight it changes, and takes the earlier layers' terms from the kept run. The result
/// is the same as a whole run (same values in the same order), at a fraction of the cost for moves on later layers.
/// </summary>
public sealed class SimulatorBackend : ISearchBackend
{
    private readonly Simulator _simulator;
    private readonly FakeQuantWeights _weights;
    private readonly IReadOnlyList<QuantizableWeight> _catalog;
    private readonly ImageSet _calibration;
    private ImageSet _search;
    private readonly InputScaling _scaling;
    private readonly int _batch;
    private readonly float[] _calibrationInput;
    private readonly ReferenceTrace _reference;
    private readonly int[] _firstReader;
    private readonly int[] _recordedNodes;
    private readonly Dictionary<int, int> _lifNode;
    private readonly Lock _prefixGate = new();
    private readonly List<KeptRun> _parents = [];
    private readonly KeptRun? _float;
    private readonly List<BitVector> _hints = [];
    private readonly bool _proxies;

    /// <summary>Parents whose prefixes are kept: the beam's width (each kept run holds the calibration batch's activations).</summary>
    public int KeptParents { get; init; } = 4;

    /// <param name="reusePrefixes">False: every proxy runs the whole graph (for checking that reuse changes nothing).</param>
    /// <param name="proxies">False: drift proxies run elsewhere (<c>OrtDriftProxy</c>), so the float reference is not
    /// recorded here and <see cref="Proxy"/> is not available.</param>
    public SimulatorBackend(Simulator simulator, FakeQuantWeights weights, ImageSet calibration, ImageSet search, InputScaling scaling, int batch = 100, bool reusePrefixes = true, bool proxies = true)
    {
        _simulator = simulator;
        _weights = weights;
        _catalog = weights.Weights;
        _calibration = calibration;
        _search = search;
        _scaling = scaling;
        _batch = batch;
        WeightNames = _catalog.Select(w => w.Name).ToArray();
        WeightParams = _catalog.Select(w => w.Params).ToArray();
        _calibrationInput = Fill(calibration, 0, calibration.Count);
        _reference = new ReferenceTrace();
        DriftKind = simulator.LifLayers.Count > 0 ? "membrane" : "logit";
        var graph = simulator.Graph;
        _firstReader = WeightNames.Select(graph.FirstReader).ToArray();
        _lifNode = Enumerable.Range(0, graph.Nodes.Count).Where(i => graph.Nodes[i].Lif is not null).ToDictionary(i => graph.Nodes[i].Lif!.Index, i => i);

        // Starting at the first weight reader saves nothing: record before the later ones.
        _recordedNodes = _firstReader.Where(n => n >= 0).Distinct().Order().Skip(1).ToArray();
        _proxies = proxies;
        if (!proxies)
        {
            return;
        }

        if (reusePrefixes && DriftKind == "membrane" && _recordedNodes.Length > 0)
        {
            // The float model against itself gives its terms: zero differences, but the norms and spike counts a
            // candidate resumed from this run needs for the layers it skips.
            var self = new DriftObserver(_reference);
            _reference.Logits = _simulator.RunRecording(_calibrationInput, calibration.Count, _recordedNodes, out var prefix, null, new RecordThenCompare(_reference, self));
            var own = WithLogits(self, _reference.Logits);
            _float = new KeptRun(BitVector.AllFloat(WeightNames.Count), prefix, Score(own), [.. own.Terms]);
        }
        else
        {
            _reference.Logits = _simulator.Run(_calibrationInput, calibration.Count, null, _reference);
        }
    }

    /// <summary>Proxies that started from a kept prefix (diagnostics).</summary>
    public int PrefixReuses { get; private set; }

    /// <summary>Floats held by kept prefixes now.</summary>
    public long KeptFloats
    {
        get
        {
            lock (_prefixGate)
            {
                return (_float?.Prefix.Floats ?? 0) + _parents.Sum(p => p.Prefix.Floats);
            }
        }
    }

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
        var counter = new OperationCounter(_simulator.Graph, [.. WeightNames]);
        _simulator.Run(_calibrationInput, _calibration.Count, _weights.Overrides(setting.Bits), counter);
        return counter;
    }

    public IReadOnlyList<SearchGroup> Groups(Granularity granularity)
    {
        var index = WeightNames.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        return WeightCatalog.Groups(_catalog, granularity)
            .Select(g => new SearchGroup(g.Name, g.Weights.Select(w => index[w]).ToArray(), g.Params))
            .ToArray();
    }

    public void HintParent(BitVector parent)
    {
        lock (_prefixGate)
        {
            if (_float is not null && !_hints.Contains(parent))
            {
                _hints.Add(parent);
                if (_hints.Count > KeptParents)
                {
                    _hints.RemoveAt(0);
                }
            }
        }
    }

    public ProxyScore Proxy(BitVector setting, CancellationToken cancellation)
    {
        if (!_proxies)
        {
            throw new InvalidOperationException("this backend was built without the float reference: drift proxies run in ONNX Runtime");
        }

        var overrides = _weights.Overrides(setting.Bits);
        if (_float is not null && BestPrefix(setting) is { } start)
        {
            if (start.Node == int.MaxValue)
            {
                return start.Run.Score; // the kept run is this very setting
            }

            var resumed = new DriftObserver(_reference);
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

        var observer = new DriftObserver(_reference);
        var logits = _simulator.Run(_calibrationInput, _calibration.Count, overrides, DriftKind == "membrane" ? observer : null);
        return Score(WithLogits(observer, logits));
    }

    /// <summary>
    /// The LIF layers' terms, then the logits as the last term (see <see cref="MembraneDrift"/>): the classifier head
    /// feeds no LIF layer, so without it the head's bits would not move the drift at all.
    /// </summary>
    private MembraneDrift WithLogits(DriftObserver observer, float[] logits)
    {
        var drift = observer.Drift;
        drift.Add(logits, _reference.Logits);
        return drift;
    }

    private ProxyScore Score(MembraneDrift drift) => new(drift.Drift, drift.SpikeMismatch, DriftKind);

    /// <summary>
    /// The kept run sharing the longest unchanged prefix with <paramref name="setting"/> and the recorded node to start at
    /// (<see cref="int.MaxValue"/>: the same setting); keeps a hinted parent first when it would do better. Null: run whole.
    /// </summary>
    private (KeptRun Run, int Node)? BestPrefix(BitVector setting)
    {
        lock (_prefixGate)
        {
            (KeptRun Run, int Node)? best = null;
            foreach (var run in _parents.Prepend(_float))
            {
                if (run is not null && StartNode(run.Setting, setting) is int node && node > (best?.Node ?? -1))
                {
                    best = (run, node);
                }
            }

            BitVector? toKeep = null;
            foreach (var hint in _hints)
            {
                if (_parents.All(p => !p.Setting.Equals(hint)) && !hint.Equals(_float?.Setting)
                    && StartNode(hint, setting) is int hinted && hinted > (best?.Node ?? -1))
                {
                    (toKeep, best) = (hint, (null!, hinted));
                }
            }

            if (toKeep is not null)
            {
                best = (Keep(toKeep), best!.Value.Node);
            }

            if (best is { } b)
            {
                // Most recently useful last, so that the oldest is dropped first.
                if (_parents.Remove(b.Run))
                {
                    _parents.Add(b.Run);
                }

                PrefixReuses++;
            }

            return best;
        }
    }

    /// <summary>The latest recorded node before which <paramref name="kept"/> and <paramref name="setting"/> read the same weights.</summary>
    private int? StartNode(BitVector kept, BitVector setting)
    {
        int firstChange = int.MaxValue;
        for (int w = 0; w < setting.Count; w++)
        {
            if (kept[w] != setting[w] && _firstReader[w] >= 0)
            {
                firstChange = Math.Min(firstChange, _firstReader[w]);
            }
        }

        if (firstChange == int.MaxValue)
        {
            return int.MaxValue;
        }

        int at = Array.BinarySearch(_recordedNodes, firstChange);
        at = at >= 0 ? at : ~at - 1;
        return at >= 0 ? _recordedNodes[at] : null;
    }

    /// <summary>Runs <paramref name="parent"/> on the calibration batch, keeping its prefixes and drift terms.</summary>
    private KeptRun Keep(BitVector parent)
    {
        var observer = new DriftObserver(_reference);
        var logits = _simulator.RunRecording(_calibrationInput, _calibration.Count, _recordedNodes, out var prefix, _weights.Overrides(parent.Bits), observer);
        var drift = WithLogits(observer, logits);
        var run = new KeptRun(parent, prefix, Score(drift), [.. drift.Terms]);
        _parents.Add(run);
        if (_parents.Count > KeptParents)
        {
            _parents.RemoveAt(0);
        }

        return run;
    }

    private sealed record KeptRun(BitVector Setting, Simulator.Prefix Prefix, ProxyScore Score, MembraneDrift.Term[] Terms);

    private long _fullImages;

    /// <summary>Images run by full evaluations so far (early stops make it less than evaluations × split size).</summary>
    public long FullImages => Interlocked.Read(ref _fullImages);

    public SplitScore SearchAccuracy(BitVector setting, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation) => Accuracy(_search, setting, couldStillPass, cancellation);

    public void OrderSearch(IReadOnlyList<int> order) => _search = _search.Select(order);

    /// <summary>
    /// An evaluation on other images than the search's: the held-out confirmation and the final test split. With
    /// <paramref name="couldStillPass"/> it stops early as <see cref="TopOneTally"/> says; without, it sees every image.
    /// </summary>
    public SplitScore Score(ImageSet set, BitVector setting, CancellationToken cancellation, Func<SplitScore, bool>? couldStillPass = null) =>
        Accuracy(set, setting, couldStillPass, cancellation);

    private SplitScore Accuracy(ImageSet set, BitVector setting, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation)
    {
        var overrides = _weights.Overrides(setting.Bits);
        var tally = new TopOneTally(set, couldStillPass);
        var logits = new float[_batch * _simulator.Classes];
        for (int start = 0; start < set.Count && !tally.Hopeless; start += _batch)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Math.Min(_batch, set.Count - start);
            _simulator.Run(Fill(set, start, count), count, logits, overrides);
            Interlocked.Add(ref _fullImages, count);
            tally.Add(start, count, logits.AsSpan(0, count * _simulator.Classes));
        }

        return tally.Result;
    }

    private float[] Fill(ImageSet set, int start, int count)
    {
        int[] dims = _simulator.ImageDims;
        var input = new float[count * _simulator.ImageSize];
        _scaling.FillSamples(set, start, count, dims, input);
        return input;
    }

    /// <summary>
    /// The float model's V[l][t] over the whole calibration batch, per (layer, step), and Σ V² of each part a run reports
    /// (layer, step, first image). Its spikes are not kept: a neuron fires exactly when V ≥ v_threshold, so spike
    /// mismatches are read off the two membranes.
    /// </summary>
    private sealed class ReferenceTrace : IMembraneObserver
    {
        public Dictionary<(int Layer, int T), (float[] Membrane, int PerImage)> Steps { get; } = [];

        public Dictionary<(int Layer, int T, int BatchStart), double> Norms { get; } = [];

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

    /// <summary>Stores the float model's step; its drift against itself is zero by definition.</summary>
    private sealed class RecordThenCompare(ReferenceTrace reference, DriftObserver self) : IMembraneObserver
    {
        public bool Observes(LifLayer layer) => true;

        public void OnStep(LifLayer layer, int t, int batchStart, ReadOnlySpan<int> shape, ReadOnlySpan<float> membrane, ReadOnlySpan<float> spikes)
        {
            reference.OnStep(layer, t, batchStart, shape, membrane, spikes);
            self.OnCompared(layer, t, batchStart, 0, 0, membrane.Length);
        }
    }

    /// <summary>
    /// Compares a candidate's membrane potentials with the reference inside the LIF kernel (<see cref="IMembraneComparer"/>).
    /// Sums are kept per (layer, step, first image) and added up in that order, so the result does not depend on the
    /// order in which parallel chunks of a fixed-batch model report.
    /// </summary>
    private sealed class DriftObserver(ReferenceTrace reference) : IMembraneObserver, IMembraneComparer
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
}
