using System.Numerics.Tensors;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;
using Tensor = AQ4SViT.Onnx.Core.Tensor;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>Element-wise unary ops and Cast.</summary>
internal static class Unary
{
    public static Tensor Run(Node node, Tensor x)
    {
        if (!x.IsFloat)
        {
            var l = x.ToLongArray();
            for (int i = 0; i < l.Length; i++)
            {
                l[i] = node.OpType switch
                {
                    "Neg" => -l[i],
                    "Abs" => Math.Abs(l[i]),
                    "Sign" => Math.Sign(l[i]),
                    "Identity" => l[i],
                    _ => Core.Throw.BadInput<long>($"node '{node.DisplayName}' ({node.OpType}): not supported on integers"),
                };
            }

            return Tensor.FromLongs(l, x.Shape);
        }

        var result = Tensor.Uninitialized(x.Shape, node.OpType == "Not" ? ElementKind.Bool : ElementKind.Float);
        var s = x.Floats;
        var d = result.Floats;
        switch (node.OpType)
        {
            case "Neg": TensorPrimitives.Negate(s, d); break;
            case "Abs": TensorPrimitives.Abs(s, d); break;
            case "Sqrt": TensorPrimitives.Sqrt(s, d); break;
            case "Exp": TensorPrimitives.Exp(s, d); break;
            case "Reciprocal": TensorPrimitives.Divide(1f, s, d); break;
            case "Relu": TensorPrimitives.Max(s, 0f, d); break;
            case "Sigmoid": TensorPrimitives.Sigmoid(s, d); break;
            case "Floor": TensorPrimitives.Floor(s, d); break;
            case "Ceil": TensorPrimitives.Ceiling(s, d); break;
            case "Round": TensorPrimitives.Round(s, d); break; // half to even, as ONNX Runtime's nearbyint
            case "Tanh": TensorPrimitives.Tanh(s, d); break;
            case "Log": TensorPrimitives.Log(s, d); break;
            case "Sign":
                for (int i = 0; i < d.Length; i++)
                {
                    // NaN stays NaN; MathF.Sign would throw on it.
                    d[i] = s[i] > 0 ? 1f : (s[i] < 0 ? -1f : s[i]);
                }

                break;
            case "Erf":
                for (int i = 0; i < d.Length; i++)
                {
                    d[i] = (float)Erf(s[i]);
                }

                break;
            case "Not":
                for (int i = 0; i < d.Length; i++)
                {
                    d[i] = s[i] != 0 ? 0 : 1;
                }

                break;
            default: throw new InvalidOperationException(node.OpType);
        }

        return result;
    }

    /// <summary>
    /// erf in double, rounded once to float (within a float ulp or two of ONNX Runtime's MLAS erf): the Maclaurin series
    /// below 0.5, where erf is small and 1 − erfc would lose its relative precision; above, 1 − erfc with the Chebyshev
    /// fit of Numerical Recipes' erfcc (relative error under 1.2e-7 of erfc ≤ 0.48, so under 1.2e-7 of erf).
    /// </summary>
    private static readonly double[] s_erfcFit =
        [-0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223];

    internal static double Erf(double x)
    {
        double z = Math.Abs(x);
        if (double.IsNaN(x))
        {
            return x;
        }

        if (z < 0.5)
        {
            // erf x = 2/√π Σ (−1)ⁿ x²ⁿ⁺¹ / (n! (2n + 1)); at |x| < 0.5 fourteen terms are below double precision.
            double x2 = x * x;
            double term = x;
            double sum = x;
            for (int n = 1; n < 14; n++)
            {
                term *= -x2 / n;
                sum += term / ((2 * n) + 1);
            }

            return sum * 1.1283791670955126;
        }

        double t = 1 / (1 + (0.5 * z));
        double poly = 0.17087277;
        foreach (double c in s_erfcFit)
        {
            poly = c + (t * poly);
        }

        double erfc = t * Math.Exp(-(z * z) + poly);
        return x >= 0 ? 1 - erfc : erfc - 1;
    }

    /// <summary>
    /// Clip (SDT-V2's multi-spike neurons round a clamp): bounds as attributes before opset 11, as optional inputs from it;
    /// a missing bound does not clip. Max then Min, so min &gt; max gives max everywhere as the spec asks.
    /// </summary>
    public static Tensor Clip(Node node, Tensor x, Tensor? minInput, Tensor? maxInput)
    {
        bool fromInputs = node.Opset >= 11;
        if ((minInput is { Length: not 1 }) || (maxInput is { Length: not 1 }))
        {
            Core.Throw.BadNode("Clip", node.DisplayName, $"min {minInput?.ShapeText ?? "-"} and max {maxInput?.ShapeText ?? "-"} must be scalars");
        }

        if (!x.IsFloat)
        {
            long lo = minInput?.ToLongArray()[0] ?? long.MinValue;
            long hi = maxInput?.ToLongArray()[0] ?? long.MaxValue;
            var l = Tensor.NewLongs(x.Shape);
            TensorPrimitives.Max(x.Longs, lo, l.Longs);
            TensorPrimitives.Min(l.Longs, hi, l.Longs);
            return l;
        }

        float min = fromInputs ? minInput?.ToFloatArray()[0] ?? float.NegativeInfinity : node.Float("min", float.NegativeInfinity);
        float max = fromInputs ? maxInput?.ToFloatArray()[0] ?? float.PositiveInfinity : node.Float("max", float.PositiveInfinity);
        var result = Tensor.Uninitialized(x.Shape, x.Kind);
        TensorPrimitives.Max(x.Floats, min, result.Floats);
        TensorPrimitives.Min(result.Floats, max, result.Floats);
        return result;
    }

    /// <summary>Cast: float types → float32, integer types → int64 (truncating), bool → 0/1.</summary>
    public static Tensor Cast(Node node, Tensor x)
    {
        long to = node.RequiredInt("to");
        switch (to)
        {
            case 1 or 10 or 11 or 16: // float, float16, double, bfloat16
                return Tensor.FromFloats(x.ToFloatArray(), x.Shape);
            case 9: // bool
            {
                var f = x.ToFloatArray();
                for (int i = 0; i < f.Length; i++)
                {
                    f[i] = f[i] != 0 ? 1 : 0;
                }

                return Tensor.FromFloats(f, x.Shape, ElementKind.Bool);
            }

            case 2 or 3 or 4 or 5 or 6 or 7 or 12 or 13: // integer types
            {
                if (!x.IsFloat)
                {
                    return Tensor.FromLongs(x.ToLongArray(), x.Shape);
                }

                var f = x.Floats;
                var l = new long[f.Length];
                for (int i = 0; i < l.Length; i++)
                {
                    l[i] = (long)f[i];
                }

                return Tensor.FromLongs(l, x.Shape);
            }

            default:
                return Core.Throw.BadInput<Tensor>($"node '{node.DisplayName}' (Cast): target type {to} is not supported");
        }
    }

    /// <summary>Where(condition, x, y) with three-way broadcasting.</summary>
    public static Tensor Where(Node node, Tensor c, Tensor x, Tensor y)
    {
        int[] shape = Broadcast.Shape(Broadcast.Shape(c.Shape, x.Shape, () => node.DisplayName), y.Shape, () => node.DisplayName);
        long[] sc = Broadcast.Strides(c.Shape, shape);
        long[] sx = Broadcast.Strides(x.Shape, shape);
        long[] sy = Broadcast.Strides(y.Shape, shape);
        int total = Tensor.SizeOf(shape);
        var cond = c.ToFloatArray();
        bool isFloat = x.IsFloat;
        var fx = isFloat ? x.ToFloatArray() : null;
        var fy = isFloat ? y.ToFloatArray() : null;
        var lx = isFloat ? null : x.ToLongArray();
        var ly = isFloat ? null : y.ToLongArray();
        var outF = isFloat ? new float[total] : null;
        var outL = isFloat ? null : new long[total];
        var index = new int[shape.Length];
        for (int i = 0; i < total; i++)
        {
            long oc = 0;
            long ox = 0;
            long oy = 0;
            for (int k = 0; k < shape.Length; k++)
            {
                oc += index[k] * sc[k];
                ox += index[k] * sx[k];
                oy += index[k] * sy[k];
            }

            bool pick = cond[oc] != 0;
            if (isFloat)
            {
                outF![i] = pick ? fx![ox] : fy![oy];
            }
            else
            {
                outL![i] = pick ? lx![ox] : ly![oy];
            }

            for (int k = shape.Length - 1; k >= 0; k--)
            {
                if (++index[k] < shape[k])
                {
                    break;
                }

                index[k] = 0;
            }
        }

        return isFloat ? Tensor.FromFloats(outF!, shape, x.Kind) : Tensor.FromLongs(outL!, shape);
    }
}
