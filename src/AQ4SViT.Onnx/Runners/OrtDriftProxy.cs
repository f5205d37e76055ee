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
/// <c>--device cuda</c>): float and candidate side by side on the calibration batch (<see cref="DriftGraph"/>), and only
/// the drift's sums per LIF layer come back. One session per device serves every candidate: the candidate's weights
/// (the full evaluations' arrays, <see cref="WeightTable"/>) are bound as inputs, which ONNX Runtime copies to
/// the device once per candidate, and the calibration batch is scaled and laid out once. Sessions run without graph
/// optimizations (ONNX Runtime's fusions round differently) and, on CUDA, without TF32 (<see cref="OrtSessions"/>), so
/// the result is the simulator's drift (tests: relative difference ≤ 1e-5).
/// </summary>
internal sealed class OrtDriftProxy : IDisposable
{
    private readonly OnnxModelFile _model;
    private readonly WeightTable _weights;
    private readonly DevicePool _devices;
    private readonly List<(float[] Values, long[] Shape, int Images)> _batches = [];
    private readonly string _inputName;
    private readonly string[] _outputs;
    private readonly int _layers;
    private readonly Lazy<(byte[] Bytes, int[] Bound)> _driftModel;
    // Weights the float side holds as initializers would be prepacked for the CPU's matrix kernels, the candidate's
    // (inputs) not, and the two sides of an unchanged layer would then differ in the last bits (3e-9 where the
    // simulator has 0).
    private static readonly Dictionary<string, string> s_samePathBothSides = new() { ["session.disable_prepacking"] = "1" };
    private readonly DeviceSessions<(InferenceSession Session, ComputeDevice Device)> _sessions;

    public OrtDriftProxy(SpikingGraph graph, OnnxModelFile model, WeightTable weights, ImageSet calibration, InputScaling scaling, DevicePool devices, int threads, int batch, Action<string>? onFallback = null)
    {
        var drift = new DriftGraph(graph, model);
        _model = model;
        _weights = weights;
        _devices = devices;
        _inputName = graph.InputName;
        _layers = drift.LifLayers;
        Kind = graph.LifLayers.Count > 0 ? "membrane" : "logit";
        _outputs = graph.LifLayers.Count > 0
            ? [DriftGraph.DiffOutput, DriftGraph.NormOutput, DriftGraph.MismatchOutput, DriftGraph.NeuronOutput]
            : [DriftGraph.DiffOutput, DriftGraph.NormOutput];
        _driftModel = new(() =>
        {
            var proto = drift.For(weights.Weights);
            // The weights a node of the drift graph reads (it declares no input for the others), found once.
            var inputs = proto.Graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
            int[] bound = [.. Enumerable.Range(0, weights.Weights.Count).Where(i => inputs.Contains(DriftGraph.CandidateWeight(weights.Weights[i].Name)))];
            return (proto.ToByteArray(), bound);
        });
        _sessions = new(devices, onFallback, (device, fallback) =>
            OrtSessions.Open(model.Path, device, threads, GraphOptimizationLevel.ORT_DISABLE_ALL, s_samePathBothSides, fallback, _driftModel.Value.Bytes), s => s.Session.Dispose());
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
        using var lease = _devices.Take();
        var (session, device) = _sessions.On(lease.Device);
        using var weights = new WeightBinding(session);
        foreach (int i in _driftModel.Value.Bound)
        {
            weights.Bind(DriftGraph.CandidateWeight(_weights.Weights[i].Name), _weights.At(i, setting.Bits[i]), _weights.Weights[i].Shape);
        }

        var binding = weights.Binding;
        var sums = new double[_outputs.Length][];
        foreach (var (batch, shape, images) in _batches)
        {
            cancellation.ThrowIfCancellationRequested();
            using var input = OrtValue.CreateTensorValueFromMemory(batch, shape);
            binding.BindInput(_inputName, input);
            foreach (string output in _outputs)
            {
                binding.BindOutputToDevice(output, OrtMemoryInfo.DefaultInstance);
            }

            using var runOptions = new RunOptions(); // held for the whole Run: it passes only the native handle
            DeviceMemory.Guard(() => { session.RunWithBinding(runOptions, binding); return 0; }, $"{_model.Path} (drift proxy)", device, images);
            using var results = binding.GetOutputValues();
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
        for (int l = 0; l < _layers; l++)
        {
            drift.Add(l, new MembraneDrift.Term(sums[0][l], sums[1][l], (long)sums[3][l], (long)sums[2][l]));
        }

        drift.Add(_layers, new MembraneDrift.Term(sums[0][_layers], sums[1][_layers], 0, 0));
        return drift;
    }

    public void Dispose() => _sessions.Dispose();

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
}
