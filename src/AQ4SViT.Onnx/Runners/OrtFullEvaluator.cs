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
/// Full evaluations in ONNX Runtime (<c>search --device cuda[:N]</c>): the float model run over a split with a setting's
/// fake-quantized weights, the same arrays the simulator gets as overrides (<see cref="WeightTable"/>), so this computes
/// what the emitted fake-quant model computes. One session per device serves every evaluation: the model reads each
/// quantizable weight from a graph input of the initializer's name instead of the initializer, and an evaluation binds its
/// weights (the float originals where it keeps FP32), which ONNX Runtime copies to the device once, then runs its batches.
/// (Writing each candidate's weights into the model and opening a session for it took seconds per candidate at 224×224;
/// session-supplied initializers are no way out: ONNX Runtime 1.31 ignores one that it places on the GPU.) Concurrent
/// evaluations (<c>--jobs</c>) share the session, each with its own binding. Sessions run without graph optimizations,
/// as the simulator's parity tests do; a test checks the logits against ONNX Runtime on the emitted fake-quant file.
/// When CUDA turns out unusable the evaluator tells <paramref name="onFallback"/> once and stays on the CPU. With several
/// devices (<see cref="DevicePool"/>) each evaluation runs on the least busy one.
/// </summary>
internal sealed class OrtFullEvaluator(OnnxModelFile model, WeightTable weights, InputScaling scaling, DevicePool devices, int threads, int batch, Action<string>? onFallback = null) : IDisposable
{
    public OrtFullEvaluator(OnnxModelFile model, WeightTable weights, InputScaling scaling, ComputeDevice device, int threads, int batch, Action<string>? onFallback = null)
        : this(model, weights, scaling, DevicePool.Of(device), threads, batch, onFallback)
    {
    }

    private readonly DeviceSessions<OrtClassifier> _sessions = Sessions(model, weights, scaling, devices, threads, onFallback);

    /// <summary>The device evaluations run on (the first of several; the CPU once CUDA failed).</summary>
    public ComputeDevice Device => devices.Devices[0];

    /// <summary>Where evaluations run, e.g. <c>cuda:0,cuda:1</c>.</summary>
    public DevicePool Devices => devices;

    /// <summary>Top-1 (0–1) of <paramref name="setting"/> on <paramref name="set"/>; stops early as <see cref="TopOneTally"/> says.</summary>
    public SplitScore Accuracy(ImageSet set, BitVector setting, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation)
    {
        var tally = new TopOneTally(set, couldStillPass);
        float[]? logits = null;
        Run(set, setting, cancellation, (classifier, bound, start, count) =>
        {
            logits ??= new float[batch * classifier.Classes];
            var span = logits.AsSpan(0, count * classifier.Classes);
            classifier.Logits(set, start, count, span, bound);
            tally.Add(start, count, span);
            return !tally.Hopeless;
        });
        return tally.Result;
    }

    /// <summary>Logits (images × classes) of <paramref name="setting"/> on <paramref name="set"/>.</summary>
    public float[] Logits(ImageSet set, BitVector setting, CancellationToken cancellation)
    {
        float[] logits = [];
        Run(set, setting, cancellation, (classifier, bound, start, count) =>
        {
            if (logits.Length == 0)
            {
                logits = new float[set.Count * classifier.Classes];
            }

            classifier.Logits(set, start, count, logits.AsSpan(start * classifier.Classes, count * classifier.Classes), bound);
            return true;
        });
        return logits;
    }

    public void Dispose() => _sessions.Dispose();

    /// <summary>Binds <paramref name="setting"/>'s weights on a device's session and hands it the split batch by batch while <paramref name="batchDone"/> says go on.</summary>
    private void Run(ImageSet set, BitVector setting, CancellationToken cancellation, Func<OrtClassifier, WeightBinding, int, int, bool> batchDone)
    {
        using var lease = devices.Take();
        var classifier = _sessions.On(lease.Device);
        using var bound = classifier.BindWeights(weights.Weights.Select((w, i) => (w.Name, weights.At(i, setting.Bits[i]), w.Shape)));
        for (int start = 0; start < set.Count; start += batch)
        {
            cancellation.ThrowIfCancellationRequested();
            if (!batchDone(classifier, bound, start, Math.Min(batch, set.Count - start)))
            {
                return;
            }
        }
    }

    /// <summary>The sessions, each on the model with its quantizable weights as inputs, serialized once for all devices.</summary>
    private static DeviceSessions<OrtClassifier> Sessions(OnnxModelFile model, WeightTable weights, InputScaling scaling, DevicePool devices, int threads, Action<string>? onFallback)
    {
        var names = weights.Weights.Select(w => w.Name).ToHashSet(StringComparer.Ordinal);
        var bytes = new Lazy<byte[]>(() => WeightInputs(model, weights, names).ToByteArray());
        return new(devices, onFallback, (device, fallback) => new OrtClassifier(
            model.Path, scaling, threads, device, fallback, optimization: GraphOptimizationLevel.ORT_DISABLE_ALL, modelBytes: bytes.Value, weightInputs: names), c => c.Dispose());
    }

    /// <summary>The model, every tensor inline, with each quantizable weight (<paramref name="names"/>) read from a float input of its name instead of its initializer.</summary>
    private static ModelProto WeightInputs(OnnxModelFile model, WeightTable weights, HashSet<string> names)
    {
        var proto = model.Proto.Clone();
        ModelWriter.InlineExternal(proto, model.BaseDirectory);
        var graph = proto.Graph;
        var initializers = graph.Initializer.Where(t => !names.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(initializers);
        // A model of IR version < 4 may list its initializers as inputs too: those stay, typed as they are.
        var listed = graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        graph.Input.AddRange(weights.Weights.Where(w => !listed.Contains(w.Name)).Select(w => ValueInfos.Float(w.Name, w.Shape)));
        return proto;
    }
}
