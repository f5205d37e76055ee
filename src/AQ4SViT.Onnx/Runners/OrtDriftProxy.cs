using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Ort;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace AQ4SViT.Onnx.Runners;

/// <summary>
/// The drift proxy on any ONNX Runtime execution provider (<c>--proxy-engine ort</c>, the default with
/// <c>--device cuda</c>): each candidate runs as one <see cref="DriftGraph"/>, float and candidate side by side on the
/// calibration batch, and only the drift's sums per LIF layer come back. The candidate's weights are the full
/// evaluations' (<see cref="CandidateWeights"/>); the calibration batch is scaled and laid out once and fed to every
/// candidate. Sessions run without graph optimizations (ONNX Runtime's fusions round differently) and, on CUDA, without
/// TF32 (<see cref="OrtSessions"/>), so the result is the simulator's drift (tests: relative difference ≤ 1e-5).
/// </summary>
internal sealed class OrtDriftProxy
{
    private readonly DriftGraph _drift;
    private readonly OnnxModelFile _model;
    private readonly FakeQuantWeights _weights;
    private readonly DevicePool _devices;
    private readonly int _threads;
    private readonly Action<string>? _onFallback;
    private readonly List<(float[] Values, long[] Shape, int Images)> _batches = [];
    private readonly string _inputName;
    private readonly string[] _outputs;

    public OrtDriftProxy(SpikingGraph graph, OnnxModelFile model, FakeQuantWeights weights, ImageSet calibration, InputScaling scaling, DevicePool devices, int threads, int batch, Action<string>? onFallback = null)
    {
        _drift = new DriftGraph(graph, model);
        _model = model;
        _weights = weights;
        _devices = devices;
        _threads = threads;
        _onFallback = onFallback;
        _inputName = graph.InputName;
        Kind = graph.LifLayers.Count > 0 ? "membrane" : "logit";
        _outputs = graph.LifLayers.Count > 0
            ? [DriftGraph.DiffOutput, DriftGraph.NormOutput, DriftGraph.MismatchOutput, DriftGraph.NeuronOutput]
            : [DriftGraph.DiffOutput, DriftGraph.NormOutput];
        FillBatches(graph, calibration, scaling, batch);
    }

    /// <summary>"membrane", or "logit" for a model without LIF layers.</summary>
    public string Kind { get; }

    public DevicePool Devices => _devices;

    public ProxyScore Proxy(BitVector setting, CancellationToken cancellation)
    {
        var drift = Drift(setting, cancellation);
        return new ProxyScore(drift.Drift, drift.SpikeMismatch, Kind);
    }

    /// <summary>The drift's terms for <paramref name="setting"/>: one per LIF layer, then the logits.</summary>
    public MembraneDrift Drift(BitVector setting, CancellationToken cancellation)
    {
        byte[] bytes = _drift.For(CandidateWeights.Initializers(_weights, setting, DriftGraph.CandidateWeight)).ToByteArray();
        using var lease = _devices.Take();
        var (session, device) = OrtSessions.Open(_model.Path, lease.Device, _threads, GraphOptimizationLevel.ORT_DISABLE_ALL, onFallback: OnFallback, modelBytes: bytes);
        using (session)
        {
            int layers = _drift.LifLayers;
            var sums = new double[_outputs.Length][];
            foreach (var (values, shape, images) in _batches)
            {
                cancellation.ThrowIfCancellationRequested();
                using var input = OrtValue.CreateTensorValueFromMemory(values, shape);
                using var runOptions = new RunOptions(); // held for the whole Run: it passes only the native handle
                using var results = DeviceMemory.Guard(() => session.Run(runOptions, [_inputName], [input], _outputs), $"{_model.Path} (drift proxy)", device, images);
                for (int k = 0; k < _outputs.Length; k++)
                {
                    var part = results[k].GetTensorDataAsSpan<double>();
                    sums[k] ??= new double[part.Length];
                    for (int i = 0; i < part.Length; i++)
                    {
                        sums[k][i] += part[i];
                    }
                }
            }

            var drift = new MembraneDrift();
            for (int l = 0; l < layers; l++)
            {
                drift.Add(l, new MembraneDrift.Term(sums[0][l], sums[1][l], (long)sums[3][l], (long)sums[2][l]));
            }

            drift.Add(layers, new MembraneDrift.Term(sums[0][layers], sums[1][layers], 0, 0));
            return drift;
        }
    }

    /// <summary>The calibration images scaled and laid out as the model's input, batch by batch, once for every candidate.</summary>
    private void FillBatches(SpikingGraph graph, ImageSet calibration, InputScaling scaling, int batch)
    {
        int[] dims = graph.InputDims;
        var axes = graph.InputAxes;
        int[] sampleDims = axes.SampleDims(dims);
        int? fixedBatch = dims[axes.Batch] > 0 ? dims[axes.Batch] : null;
        if (fixedBatch is { } fixedSize && calibration.Count % fixedSize != 0)
        {
            // Padding a batch with blank images would add their drift to the sums.
            Throw.BadInput($"{_model.Path}: the export's batch is fixed at {fixedSize}, so --calib must be a multiple of it for the ONNX Runtime drift proxy (got {calibration.Count}); or use --proxy-engine sim");
        }

        int step = fixedBatch ?? batch;
        int perSample = sampleDims.Aggregate(1, (a, d) => a * d);
        for (int done = 0; done < calibration.Count; done += step)
        {
            int n = Math.Min(step, calibration.Count - done);
            var samples = new float[n * perSample];
            scaling.FillSamples(calibration, done, n, sampleDims, samples);
            var values = samples;
            if (axes.Time == 0)
            {
                values = new float[samples.Length];
                axes.ToInputLayout(samples, n, sampleDims[0], values);
            }

            _batches.Add((values, Array.ConvertAll(axes.WithBatch(dims, n), d => (long)d), n));
        }
    }

    private void OnFallback(string line)
    {
        if (_devices.FallBackToCpu())
        {
            _onFallback?.Invoke(line);
        }
    }
}
