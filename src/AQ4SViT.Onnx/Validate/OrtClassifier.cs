using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Ort;
using Microsoft.ML.OnnxRuntime;

namespace AQ4SViT.Onnx.Validate;

/// <summary>
/// Runs an ONNX image classifier in ONNX Runtime: the independent oracle and the deployment check. An input of rank 5
/// takes event frames, <c>[T, B, C, H, W]</c> or <c>[B, T, C, H, W]</c> (<see cref="InputAxes"/>).
/// </summary>
public sealed class OrtClassifier : IClassifier
{
    private readonly InferenceSession _session;
    private readonly string _inputName;
    private readonly string _outputName;
    private readonly int[] _inputDims;
    private readonly InputScaling _scaling;
    private readonly string _modelPath;

    /// <param name="device">"cpu", "cuda" or "cuda:N" (<see cref="ComputeDevice.Parse"/>).</param>
    /// <param name="onFallback">Told (one line) when CUDA was asked for but could not be used.</param>
    /// <param name="sessionConfig">Extra session configuration entries (e.g. <see cref="OrtQdq.Fused"/>; an exact QDQ run opens with <see cref="OrtQdq.OpenExact"/>).</param>
    /// <param name="optimization">ONNX Runtime graph optimizations; ORT_ENABLE_BASIC runs the graph's arithmetic as written
    /// (the extended fusions, e.g. MatMul+Add into Gemm, round differently and can flip a spike).</param>
    public OrtClassifier(string modelPath, InputScaling scaling, int threads = 0, string device = "cpu", Action<string>? onFallback = null,
        IReadOnlyDictionary<string, string>? sessionConfig = null, GraphOptimizationLevel optimization = GraphOptimizationLevel.ORT_ENABLE_ALL)
        : this(modelPath, scaling, threads, ComputeDevice.Parse(device), onFallback, sessionConfig, optimization)
    {
    }

    /// <param name="modelBytes">A serialized model to open instead of the file (e.g. one that reads its weights from inputs);
    /// <paramref name="modelPath"/> then only names it in messages.</param>
    /// <param name="weightInputs">Inputs that are weights, bound once per evaluation (<see cref="BindWeights"/>); the image input is the other one.</param>
    public OrtClassifier(string modelPath, InputScaling scaling, int threads, ComputeDevice device, Action<string>? onFallback = null,
        IReadOnlyDictionary<string, string>? sessionConfig = null, GraphOptimizationLevel optimization = GraphOptimizationLevel.ORT_ENABLE_ALL,
        byte[]? modelBytes = null, IReadOnlySet<string>? weightInputs = null)
    {
        _scaling = scaling;
        _modelPath = modelPath;
        (_session, ActualDevice) = OrtSessions.Open(modelPath, device, threads, optimization, sessionConfig, onFallback, modelBytes);
        var input = _session.InputMetadata.Single(i => weightInputs?.Contains(i.Key) != true);
        _inputName = input.Key;
        _inputDims = input.Value.Dimensions;
        if (_inputDims.Length is not (4 or 5))
        {
            Throw.BadTensor(_inputName, $"{modelPath}: expected an NCHW image input or a [T, B, C, H, W] / [B, T, C, H, W] frame input, found rank {_inputDims.Length}");
        }

        var output = _session.OutputMetadata.First();
        _outputName = output.Key;
        int[] outDims = output.Value.Dimensions;
        Classes = outDims[^1] > 0
            ? outDims[^1]
            : Throw.BadTensor<int>(_outputName, $"{modelPath}: the class dimension of the output is not fixed");
    }

    public string Engine => "ort";

    public int Classes { get; }

    /// <summary>The device actually used (the CPU after a CUDA fallback).</summary>
    public ComputeDevice ActualDevice { get; }

    /// <summary>The fixed batch of an image model's input, or null when it is dynamic (a frame input's batch axis is found per call, <c>Logits</c>).</summary>
    public int? FixedBatch => _inputDims[0] > 0 && _inputDims.Length == 4 ? _inputDims[0] : null;

    public int Channels => _inputDims[^3];
    public int Height => _inputDims[^2];
    public int Width => _inputDims[^1];

    public void Logits(ImageSet set, int start, int count, Span<float> logits) => Logits(set, start, count, logits, null);

    /// <summary>Binds weight inputs for the runs of one evaluation (<see cref="Logits(ImageSet, int, int, Span{float}, WeightBinding?)"/>).</summary>
    internal WeightBinding BindWeights(IEnumerable<(string Name, float[] Values, long[] Shape)> weights)
    {
        var binding = new WeightBinding(_session);
        foreach (var (name, values, shape) in weights)
        {
            binding.Bind(name, values, shape);
        }

        return binding;
    }

    /// <summary>Logits of <paramref name="count"/> images from <paramref name="start"/>, with <paramref name="weights"/> bound when the model reads weights from inputs.</summary>
    internal void Logits(ImageSet set, int start, int count, Span<float> logits, WeightBinding? weights)
    {
        var axes = InputAxes.Of(_inputDims, set.TimeSteps, _inputName, _modelPath);
        int[] sampleDims = axes.SampleDims(_inputDims);
        _scaling.CheckFits(set, _inputName, sampleDims);
        set.CheckLabels(Classes, "the model");

        // A model exported with a fixed batch still evaluates any number of images: feed it chunk by chunk.
        int? fixedBatch = _inputDims[axes.Batch] > 0 ? _inputDims[axes.Batch] : null;
        int step = fixedBatch ?? count;
        int perSample = sampleDims.Aggregate(1, (a, d) => a * d);
        var buffer = new float[step * perSample];
        var samples = axes.Time == 0 ? new float[buffer.Length] : buffer;
        for (int done = 0; done < count; done += step)
        {
            int n = Math.Min(step, count - done);
            int feed = fixedBatch ?? n;
            Array.Clear(samples);
            _scaling.FillSamples(set, start + done, n, sampleDims, samples);
            if (axes.Time == 0)
            {
                axes.ToInputLayout(samples.AsSpan(0, feed * perSample), feed, sampleDims[0], buffer);
            }

            using var value = OrtValue.CreateTensorValueFromMemory(buffer, Array.ConvertAll(axes.WithBatch(_inputDims, feed), d => (long)d));
            using var runOptions = new RunOptions();
            using var results = DeviceMemory.Guard(() => Run(runOptions, value, weights), _modelPath, ActualDevice, feed);
            ReadOnlySpan<float> output = results[0].GetTensorDataAsSpan<float>();
            output[..(n * Classes)].CopyTo(logits.Slice(done * Classes, n * Classes));
        }
    }

    private IDisposableReadOnlyCollection<OrtValue> Run(RunOptions runOptions, OrtValue input, WeightBinding? weights)
    {
        if (weights is null)
        {
            return _session.Run(runOptions, [_inputName], [input], [_outputName]);
        }

        weights.Binding.BindInput(_inputName, input);
        weights.Binding.BindOutputToDevice(_outputName, OrtMemoryInfo.DefaultInstance);
        _session.RunWithBinding(runOptions, weights.Binding);
        return weights.Binding.GetOutputValues();
    }

    public void Dispose() => _session.Dispose();
}
