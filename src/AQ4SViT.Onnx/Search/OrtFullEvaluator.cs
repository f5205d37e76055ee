using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Ort;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Validate;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// Full evaluations in ONNX Runtime (<c>search --device cuda[:N]</c>): the float model with a setting's fake-quantized
/// weights written into its initializers, serialized in memory (nothing is written to disk) and run over a split. The
/// weights are the same arrays the simulator gets as overrides, so this computes what the emitted fake-quant model
/// computes. Each evaluation opens its own session, so concurrent evaluations (<c>--jobs</c>) are independent.
/// The weights are in the model rather than supplied as session initializers because ONNX Runtime 1.31 ignores a
/// supplied initializer that it places on the GPU ("Cannot use user supplied initializer"): on CUDA the search then
/// evaluated float weights. Sessions run without graph optimizations, as the simulator's parity tests do; a test checks
/// the logits against ONNX Runtime on the emitted fake-quant file.
/// When CUDA turns out unusable the evaluator tells <paramref name="onFallback"/> once and stays on the CPU.
/// </summary>
public sealed class OrtFullEvaluator(OnnxModelFile model, FakeQuantWeights weights, InputScaling scaling, ComputeDevice device, int threads, int batch, Action<string>? onFallback = null)
{
    private readonly Lock _gate = new();
    private ComputeDevice _device = device;

    // The model with every tensor inline, read from disk once: evaluations copy it and swap in their weights.
    private readonly Lazy<ModelProto> _inline = new(() =>
    {
        var proto = model.Proto.Clone();
        ModelWriter.InlineExternal(proto, model.BaseDirectory);
        return proto;
    });

    /// <summary>The device evaluations run on (the CPU once CUDA failed).</summary>
    public ComputeDevice Device
    {
        get
        {
            lock (_gate)
            {
                return _device;
            }
        }
    }

    /// <summary>Top-1 (0–1) of <paramref name="setting"/> on <paramref name="set"/>; stops early as <see cref="TopOneTally"/> says.</summary>
    public SplitScore Accuracy(ImageSet set, BitVector setting, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation)
    {
        var tally = new TopOneTally(set, couldStillPass);
        float[]? logits = null;
        Run(set, setting, cancellation, (classifier, start, count) =>
        {
            logits ??= new float[batch * classifier.Classes];
            var span = logits.AsSpan(0, count * classifier.Classes);
            classifier.Logits(set, start, count, span);
            tally.Add(start, count, span);
            return !tally.Hopeless;
        });
        return tally.Result;
    }

    /// <summary>Logits (images × classes) of <paramref name="setting"/> on <paramref name="set"/>.</summary>
    public float[] Logits(ImageSet set, BitVector setting, CancellationToken cancellation)
    {
        float[] logits = [];
        Run(set, setting, cancellation, (classifier, start, count) =>
        {
            if (logits.Length == 0)
            {
                logits = new float[set.Count * classifier.Classes];
            }

            classifier.Logits(set, start, count, logits.AsSpan(start * classifier.Classes, count * classifier.Classes));
            return true;
        });
        return logits;
    }

    /// <summary>Opens a session with <paramref name="setting"/>'s weights and hands it the split batch by batch while <paramref name="batchDone"/> says go on.</summary>
    private void Run(ImageSet set, BitVector setting, CancellationToken cancellation, Func<OrtClassifier, int, int, bool> batchDone)
    {
        var requested = Device;
        using var classifier = new OrtClassifier(model.Path, scaling, threads, requested, OnFallback, optimization: GraphOptimizationLevel.ORT_DISABLE_ALL, modelBytes: ModelBytes(setting));
        if (classifier.ActualDevice != requested)
        {
            lock (_gate)
            {
                _device = classifier.ActualDevice;
            }
        }

        for (int start = 0; start < set.Count; start += batch)
        {
            cancellation.ThrowIfCancellationRequested();
            if (!batchDone(classifier, start, Math.Min(batch, set.Count - start)))
            {
                return;
            }
        }
    }

    /// <summary>The model with <paramref name="setting"/>'s fake-quantized weights in place of the float ones, serialized.</summary>
    private byte[] ModelBytes(BitVector setting)
    {
        var proto = _inline.Value.Clone();
        var overrides = weights.Overrides(setting.Bits);
        var initializers = proto.Graph.Initializer;
        for (int i = 0; i < initializers.Count; i++)
        {
            var source = initializers[i];
            if (overrides.TryGetValue(source.Name, out float[]? values))
            {
                initializers[i] = QuantizedTensors.FloatTensor(source.Name, source.Dims.ToArray(), values);
            }
        }

        return proto.ToByteArray();
    }

    private void OnFallback(string line)
    {
        lock (_gate)
        {
            if (!_device.IsCuda)
            {
                return; // told already
            }

            _device = ComputeDevice.Cpu;
        }

        onFallback?.Invoke(line);
    }
}

/// <summary>A search backend whose full evaluations run in an <see cref="OrtFullEvaluator"/>; groups and drift proxies come from <paramref name="inner"/>.</summary>
public sealed class OrtEvaluatedBackend(ISearchBackend inner, OrtFullEvaluator evaluator, ImageSet search) : ISearchBackend
{
    private ImageSet _search = search;

    public IReadOnlyList<string> WeightNames => inner.WeightNames;

    public IReadOnlyList<long> WeightParams => inner.WeightParams;

    public IReadOnlyList<SearchGroup> Groups(Granularity granularity) => inner.Groups(granularity);

    public ProxyScore Proxy(BitVector setting, CancellationToken cancellation) => inner.Proxy(setting, cancellation);

    public void HintParent(BitVector parent) => inner.HintParent(parent);

    public SplitScore SearchAccuracy(BitVector setting, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation) => evaluator.Accuracy(_search, setting, couldStillPass, cancellation);

    public void OrderSearch(IReadOnlyList<int> order) => _search = _search.Select(order);
}
