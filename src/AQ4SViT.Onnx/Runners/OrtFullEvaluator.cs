using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Ort;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Validate;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace AQ4SViT.Onnx.Runners;

/// <summary>
/// Full evaluations in ONNX Runtime (<c>search --device cuda[:N]</c>): the float model with a setting's fake-quantized
/// weights written into its initializers, serialized in memory (nothing is written to disk) and run over a split. The
/// weights are the same arrays the simulator gets as overrides, so this computes what the emitted fake-quant model
/// computes. Each evaluation opens its own session, so concurrent evaluations (<c>--jobs</c>) are independent.
/// The weights are in the model rather than supplied as session initializers because ONNX Runtime 1.31 ignores a
/// supplied initializer that it places on the GPU ("Cannot use user supplied initializer"): on CUDA the search then
/// evaluated float weights. Sessions run without graph optimizations, as the simulator's parity tests do; a test checks
/// the logits against ONNX Runtime on the emitted fake-quant file.
/// When CUDA turns out unusable the evaluator tells <paramref name="onFallback"/> once and stays on the CPU. With several
/// devices (<see cref="DevicePool"/>) each evaluation runs on the least busy one.
/// </summary>
internal sealed class OrtFullEvaluator(OnnxModelFile model, WeightTable weights, InputScaling scaling, DevicePool devices, int threads, int batch, Action<string>? onFallback = null)
{
    public OrtFullEvaluator(OnnxModelFile model, WeightTable weights, InputScaling scaling, ComputeDevice device, int threads, int batch, Action<string>? onFallback = null)
        : this(model, weights, scaling, DevicePool.Of(device), threads, batch, onFallback)
    {
    }

    // The model with every tensor inline, read from disk once: evaluations copy it and swap in their weights.
    private readonly Lazy<ModelProto> _inline = new(() =>
    {
        var proto = model.Proto.Clone();
        ModelWriter.InlineExternal(proto, model.BaseDirectory);
        return proto;
    });

    /// <summary>The device evaluations run on (the first of several; the CPU once CUDA failed).</summary>
    public ComputeDevice Device => devices.Devices[0];

    /// <summary>Where evaluations run, e.g. <c>cuda:0,cuda:1</c>.</summary>
    public DevicePool Devices => devices;

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
        using var lease = devices.Take();
        using var classifier = new OrtClassifier(model.Path, scaling, threads, lease.Device, OnFallback, optimization: GraphOptimizationLevel.ORT_DISABLE_ALL, modelBytes: ModelBytes(setting));
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
        var replaced = CandidateWeights.Initializers(weights, setting, n => n).ToDictionary(t => t.Name, StringComparer.Ordinal);
        var initializers = proto.Graph.Initializer;
        for (int i = 0; i < initializers.Count; i++)
        {
            if (replaced.TryGetValue(initializers[i].Name, out var tensor))
            {
                initializers[i] = tensor;
            }
        }

        return proto.ToByteArray();
    }

    private void OnFallback(string line)
    {
        if (devices.FallBackToCpu())
        {
            onFallback?.Invoke(line);
        }
    }
}
