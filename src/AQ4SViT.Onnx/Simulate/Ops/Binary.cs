using System.Numerics.Tensors;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;
using Tensor = AQ4SViT.Onnx.Core.Tensor;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>Element-wise binary ops with ONNX broadcasting: arithmetic over TensorPrimitives runs, comparisons to bool.</summary>
internal static class Binary
{
    public static Tensor Run(Node node, Tensor a, Tensor b)
    {
        var plan = Broadcast.Plan(a.Shape, b.Shape, () => $"node '{node.DisplayName}' ({node.OpType})");
        bool compare = node.OpType is "GreaterOrEqual" or "Greater" or "Less" or "LessOrEqual" or "Equal";
        if (!a.IsFloat || !b.IsFloat)
        {
            return RunLong(node, a, b, plan, compare);
        }

        var result = Tensor.Uninitialized(plan.OutShape, compare || node.OpType is "And" or "Or" or "Xor" ? ElementKind.Bool : ElementKind.Float);
        if (plan.Inner == 0)
        {
            return result;
        }

        var fa = a.Floats;
        var fb = b.Floats;
        var fo = result.Floats;
        int inner = plan.Inner;
        int outer = plan.OuterCount;
        string op = node.OpType;
        for (int o = 0; o < outer; o++)
        {
            var (oa, ob) = plan.Offsets(o);
            var dst = fo.Slice(o * inner, inner);
            if (plan.AInnerScalar && plan.BInnerScalar)
            {
                dst.Fill(Scalar(op, fa[oa], fb[ob]));
            }
            else if (plan.AInnerScalar)
            {
                ScalarSpan(op, fa[oa], fb.Slice(ob, inner), dst);
            }
            else if (plan.BInnerScalar)
            {
                SpanScalar(op, fa.Slice(oa, inner), fb[ob], dst);
            }
            else
            {
                SpanSpan(op, fa.Slice(oa, inner), fb.Slice(ob, inner), dst);
            }
        }

        return result;
    }

    private static float Scalar(string op, float x, float y) => op switch
    {
        "Add" => x + y,
        "Sub" => x - y,
        "Mul" => x * y,
        "Div" => x / y,
        "Pow" => MathF.Pow(x, y),
        "Max" => MathF.Max(x, y),
        "Min" => MathF.Min(x, y),
        "GreaterOrEqual" => x >= y ? 1 : 0,
        "Greater" => x > y ? 1 : 0,
        "LessOrEqual" => x <= y ? 1 : 0,
        "Less" => x < y ? 1 : 0,
        "Equal" => x == y ? 1 : 0,
        "And" => x != 0 && y != 0 ? 1 : 0,
        "Or" => x != 0 || y != 0 ? 1 : 0,
        "Xor" => (x != 0) != (y != 0) ? 1 : 0,
        _ => throw new InvalidOperationException(op),
    };

    private static void SpanSpan(string op, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d)
    {
        switch (op)
        {
            case "Add": TensorPrimitives.Add(x, y, d); break;
            case "Sub": TensorPrimitives.Subtract(x, y, d); break;
            case "Mul": TensorPrimitives.Multiply(x, y, d); break;
            case "Div": TensorPrimitives.Divide(x, y, d); break;
            case "Pow": TensorPrimitives.Pow(x, y, d); break;
            case "Max": TensorPrimitives.Max(x, y, d); break;
            case "Min": TensorPrimitives.Min(x, y, d); break;
            default:
                for (int i = 0; i < d.Length; i++)
                {
                    d[i] = Scalar(op, x[i], y[i]);
                }

                break;
        }
    }

    private static void SpanScalar(string op, ReadOnlySpan<float> x, float y, Span<float> d)
    {
        switch (op)
        {
            case "Add": TensorPrimitives.Add(x, y, d); break;
            case "Sub": TensorPrimitives.Subtract(x, y, d); break;
            case "Mul": TensorPrimitives.Multiply(x, y, d); break;
            case "Div": TensorPrimitives.Divide(x, y, d); break;
            case "Pow": TensorPrimitives.Pow(x, y, d); break;
            default:
                for (int i = 0; i < d.Length; i++)
                {
                    d[i] = Scalar(op, x[i], y);
                }

                break;
        }
    }

    private static void ScalarSpan(string op, float x, ReadOnlySpan<float> y, Span<float> d)
    {
        switch (op)
        {
            case "Add": TensorPrimitives.Add(y, x, d); break;
            case "Sub": TensorPrimitives.Subtract(x, y, d); break;
            case "Mul": TensorPrimitives.Multiply(y, x, d); break;
            case "Div": TensorPrimitives.Divide(x, y, d); break;
            default:
                for (int i = 0; i < d.Length; i++)
                {
                    d[i] = Scalar(op, x, y[i]);
                }

                break;
        }
    }

    private static Tensor RunLong(Node node, Tensor a, Tensor b, Broadcast plan, bool compare)
    {
        var la = a.ToLongArray();
        var lb = b.ToLongArray();
        int total = Tensor.SizeOf(plan.OutShape);
        long[] output = new long[total];
        int inner = plan.Inner;
        for (int o = 0; o < plan.OuterCount; o++)
        {
            var (oa, ob) = plan.Offsets(o);
            for (int i = 0; i < inner; i++)
            {
                long x = la[plan.AInnerScalar ? oa : oa + i];
                long y = lb[plan.BInnerScalar ? ob : ob + i];
                output[(o * inner) + i] = node.OpType switch
                {
                    "Add" => x + y,
                    "Sub" => x - y,
                    "Mul" => x * y,
                    "Div" => y == 0 ? Core.Throw.BadInput<long>($"node '{node.DisplayName}' (Div): integer division by zero") : FloorlessDiv(x, y),
                    "Mod" => y == 0 ? 0 : x % y,
                    "Max" => Math.Max(x, y),
                    "Min" => Math.Min(x, y),
                    "GreaterOrEqual" => x >= y ? 1 : 0,
                    "Greater" => x > y ? 1 : 0,
                    "LessOrEqual" => x <= y ? 1 : 0,
                    "Less" => x < y ? 1 : 0,
                    "Equal" => x == y ? 1 : 0,
                    "And" => x != 0 && y != 0 ? 1 : 0,
                    "Or" => x != 0 || y != 0 ? 1 : 0,
                    _ => Core.Throw.BadInput<long>($"node '{node.DisplayName}' ({node.OpType}): not supported on integers"),
                };
            }
        }

        if (compare || a.Kind == ElementKind.Bool)
        {
            var f = new float[total];
            for (int i = 0; i < total; i++)
            {
                f[i] = output[i];
            }

            return Tensor.FromFloats(f, plan.OutShape, ElementKind.Bool);
        }

        return Tensor.FromLongs(output, plan.OutShape);
    }

    /// <summary>ONNX integer Div truncates toward zero (C semantics).</summary>
    private static long FloorlessDiv(long x, long y) => x / y;
}
