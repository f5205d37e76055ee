using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Simulate.Ops;

namespace AQ4SViT.Onnx.Simulate;

/// <summary>Dispatch from op type to kernel. The set of supported ops is checked when a model is prepared.</summary>
internal static class OpKernels
{
    private static readonly HashSet<string> s_binary =
        ["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "GreaterOrEqual", "Greater", "LessOrEqual", "Less", "Equal", "And", "Or", "Xor", "Mod"];

    private static readonly HashSet<string> s_unary =
        ["Neg", "Abs", "Sqrt", "Exp", "Reciprocal", "Relu", "Sigmoid", "Floor", "Ceil", "Not", "Sign", "Erf", "Round", "Tanh", "Log"];

    private static readonly HashSet<string> s_other =
    [
        "Conv", "BatchNormalization", "MaxPool", "Gemm", "MatMul", "Cast", "CastLike", "Gather", "Unsqueeze", "Squeeze", "Concat",
        "Reshape", "Flatten", "Transpose", "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "Tile", "Expand", "Shape", "Slice",
        "ConstantOfShape", "Identity", "Where", "Split", "Dropout", "Pad", "ScatterND", "ScatterElements", "Scatter", "Range", "Clip", "GatherElements", "GatherND", "Softmax",
        LifRecognizer.OpType, BatchNormLastFusion.OpType, LinearFusion.OpType,
    ];

    public static bool IsSupported(Node node) =>
        (node.Domain is "" or "ai.onnx" || node.OpType is LifRecognizer.OpType or BatchNormLastFusion.OpType or LinearFusion.OpType) &&
        (s_binary.Contains(node.OpType) || s_unary.Contains(node.OpType) || s_other.Contains(node.OpType));

    public static Tensor[] Run(Node node, Tensor?[] inputs, ExecContext ctx, string baseDirectory)
    {
        Tensor In(int i) => i < inputs.Length && inputs[i] is { } t
            ? t
            : Throw.BadNode<Tensor>(node.OpType, node.DisplayName, $"input {i} is missing");
        Tensor? Opt(int i) => i < inputs.Length ? inputs[i] : null;

        string op = node.OpType;
        if (s_binary.Contains(op))
        {
            return [Binary.Run(node, In(0), In(1))];
        }

        if (s_unary.Contains(op))
        {
            return [Unary.Run(node, In(0))];
        }

        return op switch
        {
            "Conv" => [Conv.Run(node, In(0), In(1), Opt(2), ctx)],
            "BatchNormalization" => [BatchNorm.Run(node, In(0), In(1), In(2), In(3), In(4), ctx)],
            BatchNormLastFusion.OpType => [BatchNorm.RunLastAxis(node, In(0), In(1), In(2), In(3), In(4), ctx)],
            "MaxPool" => MaxPool.Outputs(node, In(0), ctx),
            "Gemm" => [MatMul.Gemm(node, In(0), In(1), Opt(2), ctx)],
            "MatMul" => [MatMul.Run(node, In(0), In(1), ctx)],
            LinearFusion.OpType => [MatMul.Linear(node, In(0), In(1), In(2), inputs.Length > 3 ? (In(3), In(4), In(5), In(6)) : null, ctx)],
            "Cast" => [Unary.Cast(node, In(0))],
            "CastLike" => [CastLike(node, In(0), In(1))],
            "Gather" => [ShapeOps.Gather(node, In(0), In(1))],
            "Unsqueeze" => [ShapeOps.Unsqueeze(node, inputs)],
            "Squeeze" => [ShapeOps.Squeeze(node, inputs)],
            "Concat" => [ShapeOps.Concat(node, inputs)],
            "Reshape" => [ShapeOps.Reshape(node, In(0), In(1))],
            "Flatten" => [ShapeOps.Flatten(node, In(0))],
            "Transpose" => [ShapeOps.Transpose(node, In(0), ctx)],
            "ReduceMean" or "ReduceSum" or "ReduceMax" or "ReduceMin" => [Reduce.Run(node, inputs)],
            "Tile" => [ShapeOps.Tile(node, In(0), In(1))],
            "Expand" => [ShapeOps.Expand(node, In(0), In(1))],
            "Shape" => [ShapeOps.Shape(node, In(0))],
            "Slice" => [ShapeOps.Slice(node, inputs)],
            "ConstantOfShape" => [ShapeOps.ConstantOfShape(node, In(0), baseDirectory)],
            "Identity" or "Dropout" => [In(0)],
            "Where" => [Unary.Where(node, In(0), In(1), In(2))],
            "Split" => ShapeOps.Split(node, inputs),
            "Pad" => [Pad.Run(node, In(0), Opt(1), Opt(2), Opt(3))],
            "ScatterND" => [Scatter.ScatterND(node, In(0), In(1), In(2))],
            "ScatterElements" or "Scatter" => [Scatter.ScatterElements(node, In(0), In(1), In(2))],
            "Range" => [ShapeOps.Range(node, In(0), In(1), In(2))],
            "Clip" => [Unary.Clip(node, In(0), Opt(1), Opt(2))],
            "GatherElements" => [IndexedGather.GatherElements(node, In(0), In(1))],
            "GatherND" => [IndexedGather.GatherND(node, In(0), In(1))],
            "Softmax" => [Softmax.Run(node, In(0))],
            LifRecognizer.OpType => [Lif.Run(node, In(0), ctx)],
            _ => Throw.BadInput<Tensor[]>($"unsupported op '{op}' at node '{node.DisplayName}'"),
        };
    }

    private static Tensor CastLike(Node node, Tensor x, Tensor like) => like.Kind switch
    {
        ElementKind.Int64 => Tensor.FromLongs(x.ToLongArray(), x.Shape),
        ElementKind.Bool => Unary.Cast(new Node("Cast", node.Name, "", node.Opset, [], [], new Dictionary<string, Import.Proto.AttributeProto> { ["to"] = new() { Name = "to", I = 9 } }), x),
        _ => Tensor.FromFloats(x.ToFloatArray(), x.Shape),
    };
}
