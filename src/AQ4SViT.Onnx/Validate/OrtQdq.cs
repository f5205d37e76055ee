using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Ort;
using Microsoft.ML.OnnxRuntime;

namespace AQ4SViT.Onnx.Validate;

/// <summary>
/// How ONNX Runtime runs a QDQ model (measured with Microsoft.ML.OnnxRuntime 1.31, CPU provider).
/// <para>With its default optimizations ORT fuses DequantizeLinear → MatMul into <c>MatMulNBits</c> (INT2, INT4 and INT8
/// weights alike) and, at the default <c>session.qdq_matmulnbits_accuracy_level</c> = 4, quantizes the activations to
/// int8 inside it: logits move by about 1% of their range, so spiking layers can flip spikes. Its INT2 path is also
/// wrong when a MatMul weight's output dimension N is not a multiple of 4 (Spikformer's head, [D, 10]: logits off by
/// ~1.4 even at accuracy level 0), while its plain DequantizeLinear kernel decodes the same file exactly.</para>
/// <para><see cref="OpenExact"/> turns the QDQ fusions off (<c>session.disable_quant_qdq</c>): ORT then folds every
/// DequantizeLinear of a constant weight into float and runs the graph on exactly the dequantized weights, which is what
/// the emitted file means and what the fake-quant model and the simulator compute.</para>
/// <para>The exact run also keeps to the basic graph optimizations: the graph's
/// arithmetic as written. With all of them, sdt-8-768's INT8 file differed from the simulator by up to 0.1975 in a logit
/// (0 with basic) and its session peaked at 2.45× the float weights while loading (2.34× for the whole <c>validate</c>
/// with basic); an INT4 spikformer-fmnist ran at 43–46 against 46–48 images/s, both exact.</para>
/// </summary>
internal static class OrtQdq
{
    private const GraphOptimizationLevel ExactOptimization = GraphOptimizationLevel.ORT_ENABLE_BASIC;

    private static readonly IReadOnlyDictionary<string, string> s_exact = new Dictionary<string, string>
    {
        ["session.disable_quant_qdq"] = "1",
    };

    /// <summary>An exact run of a QDQ model: no QDQ fusions and the basic graph optimizations only (see above).</summary>
    public static OrtClassifier OpenExact(string modelPath, InputScaling scaling, int threads, ComputeDevice device, Action<string>? onFallback = null) =>
        new(modelPath, scaling, threads, device, onFallback, s_exact, ExactOptimization);

    /// <summary>ORT's stock behaviour (fused integer kernels, int8 activations in MatMulNBits): what a deployment gets.</summary>
    public static IReadOnlyDictionary<string, string> Fused { get; } = new Dictionary<string, string>();
}
