using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Import;

namespace AQ4SViT.Onnx.Quantize;

/// <summary>
/// The one table of a model's quantizable weights (<see cref="WeightCatalog"/> order) with their float originals, and
/// the one cache of their quantized versions per (weight, bits) that every consumer reads: the simulator's overrides
/// (the search backend, <c>validate</c>'s simulator), ONNX Runtime's candidate weights and the emitters.
/// Codes and scales come from <see cref="Quantized"/> (<see cref="WeightQuantizer.Quantize"/>), fake-quantized floats from
/// <see cref="At"/> (<see cref="WeightQuantizer.FakeQuantize"/>: that quantization, then <see cref="QuantizedTensor.Dequantize(Span{float})"/>).
/// <see cref="WeightQuantizer.FakeQuantizeModel"/> is this for one setting.
/// </summary>
public sealed class WeightTable
{
    private readonly OnnxModelFile? _file;
    private readonly Dictionary<string, Import.Proto.TensorProto>? _initializers;
    private readonly float[]?[] _originals;
    private readonly Lock _gate = new();

    // The cache keeps fake-quantized floats (what the simulator and ONNX Runtime take), least recently used first out
    // once they pass CacheBytes. Floats, not integer codes: a search asks for the same pairs again and again, and a hit
    // must cost nothing; a miss costs one quantization of one tensor, far below one evaluation, and gives the same
    // values. The bound keeps a search over every bit-width from holding one copy of the weights per width (ImageNet
    // size: 264 MB of FP32 weights × 6 widths): by default two copies at most, besides the originals.
    private readonly Dictionary<(int Weight, int Bits), LinkedListNode<(int Weight, int Bits, float[] Values)>> _cache = [];
    private readonly LinkedList<(int Weight, int Bits, float[] Values)> _recent = new();
    private long _cachedBytes;

    /// <summary>The weights of a prepared graph: the originals are the graph's own decoded initializers (no second decode, no copy).</summary>
    /// <param name="cacheBytes">Bound of the cache of fake-quantized floats; null: twice the FP32 bytes of the weights.</param>
    public WeightTable(SpikingGraph graph, IReadOnlyList<QuantizableWeight> weights, QuantizationOptions options, long? cacheBytes = null)
        : this(weights, options, cacheBytes)
    {
        for (int i = 0; i < weights.Count; i++)
        {
            _originals[i] = graph.InitializerArray(weights[i].Name);
        }
    }

    /// <summary>The weights of a model file, decoded as first asked for (for a caller that prepares no graph: the emitter, tests).</summary>
    /// <param name="cacheBytes">Bound of the cache of fake-quantized floats; null: twice the FP32 bytes of the weights.</param>
    public WeightTable(OnnxModelFile model, IReadOnlyList<QuantizableWeight> weights, QuantizationOptions options, long? cacheBytes = null)
        : this(weights, options, cacheBytes)
    {
        _file = model;
        _initializers = model.InitializersByName();
    }

    private WeightTable(IReadOnlyList<QuantizableWeight> weights, QuantizationOptions options, long? cacheBytes)
    {
        Weights = weights;
        Options = options;
        _originals = new float[weights.Count][];
        CacheBytes = cacheBytes ?? (2 * 4 * weights.Sum(w => w.Params));
    }

    public IReadOnlyList<QuantizableWeight> Weights { get; }

    public QuantizationOptions Options { get; }

    /// <summary>Most bytes of fake-quantized floats kept (0: none kept).</summary>
    public long CacheBytes { get; }

    /// <summary>Bytes of fake-quantized floats kept now (at most <see cref="CacheBytes"/>).</summary>
    internal long CachedBytes
    {
        get
        {
            lock (_gate)
            {
                return _cachedBytes;
            }
        }
    }

    /// <summary>The float original of a weight (finite: NaN or ±∞ is bad input naming it). Not to be written to.</summary>
    public float[] Original(int weight)
    {
        if (_originals[weight] is { } values)
        {
            return values;
        }

        // Decoded outside the lock: two threads asking at once decode twice but keep one array.
        var w = Weights[weight];
        float[] decoded = TensorDecoder.ToFiniteFloats(_initializers![w.Name], _file!.BaseDirectory);
        lock (_gate)
        {
            return _originals[weight] ??= decoded;
        }
    }

    /// <summary>A weight on the grid of <paramref name="bits"/>: integer codes, scales and zero points (not cached: the QDQ emitter asks once).</summary>
    internal QuantizedTensor Quantized(int weight, int bits)
    {
        var w = Weights[weight];
        return WeightQuantizer.Quantize(Original(weight), w.Shape, w.ChannelAxis, bits, Options);
    }

    /// <summary>The weight at <paramref name="bits"/>, fake-quantized (the original array for FP32). Not to be written to.</summary>
    public float[] At(int weight, int bits)
    {
        if (bits == Setting.Fp32)
        {
            return Original(weight);
        }

        lock (_gate)
        {
            if (_cache.TryGetValue((weight, bits), out var hit))
            {
                _recent.Remove(hit);
                _recent.AddFirst(hit);
                return hit.Value.Values;
            }
        }

        var w = Weights[weight];
        float[] original = Original(weight);
        var values = new float[original.Length];
        WeightQuantizer.FakeQuantize(original, w.Shape, w.ChannelAxis, bits, Options, values);
        lock (_gate)
        {
            if (_cache.TryGetValue((weight, bits), out var raced))
            {
                return raced.Value.Values;
            }

            long bytes = 4L * values.Length;
            if (bytes > CacheBytes)
            {
                return values;
            }

            while (_cachedBytes + bytes > CacheBytes && _recent.Last is { } oldest)
            {
                _recent.RemoveLast();
                _cache.Remove((oldest.Value.Weight, oldest.Value.Bits));
                _cachedBytes -= 4L * oldest.Value.Values.Length;
            }

            _cache[(weight, bits)] = _recent.AddFirst((weight, bits, values));
            _cachedBytes += bytes;
            return values;
        }
    }

    /// <summary>Overrides for every weight below FP32, given bits per weight in catalog order.</summary>
    public Dictionary<string, float[]> Overrides(IReadOnlyList<int> bitsPerWeight)
    {
        var overrides = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (int i = 0; i < Weights.Count; i++)
        {
            if (bitsPerWeight[i] != Setting.Fp32)
            {
                overrides[Weights[i].Name] = At(i, bitsPerWeight[i]);
            }
        }

        return overrides;
    }

    /// <summary>Lets go of a weight's decoded original (a file-backed table only; a graph's stay with the graph): the emitter
    /// writing a model it was given alone holds one weight's floats at a time.</summary>
    internal void Release(int weight)
    {
        if (_file is not null)
        {
            lock (_gate)
            {
                _originals[weight] = null;
            }
        }
    }
}
