using System.Collections.Concurrent;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Import;

namespace AQ4SViT.Onnx.Quantize;

/// <summary>
/// The float originals of a model's quantizable weights and their fake-quantized versions, as simulator weight
/// overrides, cached per (weight, bits) because a search revisits the same pairs constantly.
/// <see cref="WeightQuantizer.FakeQuantizeModel"/> is this for one setting.
/// </summary>
public sealed class FakeQuantWeights
{
    private readonly float[][] _originals;
    private readonly ConcurrentDictionary<(int Weight, int Bits), float[]> _cache = new();

    public FakeQuantWeights(OnnxModelFile model, IReadOnlyList<QuantizableWeight> weights, QuantizationOptions options)
    {
        Weights = weights;
        Options = options;
        var initializers = model.InitializersByName();
        _originals = weights.Select(w => TensorDecoder.ToFiniteFloats(initializers[w.Name], model.BaseDirectory)).ToArray();
        for (int i = 0; i < weights.Count; i++)
        {
            if (_originals[i].Any(v => !float.IsFinite(v)))
            {
                Throw.BadTensor(weights[i].Name, $"{model.Path}: weight holds NaN or infinity; cannot quantize non-finite values");
            }
        }
    }

    public IReadOnlyList<QuantizableWeight> Weights { get; }

    public QuantizationOptions Options { get; }

    /// <summary>The weight at <paramref name="bits"/> (the original array for FP32).</summary>
    public float[] At(int weight, int bits)
    {
        if (bits == Setting.Fp32)
        {
            return _originals[weight];
        }

        return _cache.GetOrAdd((weight, bits), key =>
        {
            var w = Weights[key.Weight];
            var result = new float[_originals[key.Weight].Length];
            WeightQuantizer.FakeQuantize(_originals[key.Weight], w.Shape, w.ChannelAxis, key.Bits, Options, result);
            return result;
        });
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
}
