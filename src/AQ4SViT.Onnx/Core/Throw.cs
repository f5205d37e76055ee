using System.Diagnostics.CodeAnalysis;

namespace AQ4SViT.Onnx.Core;

/// <summary>All throws of bad-input errors in one place, so messages stay uniform and name the culprit.</summary>
public static class Throw
{
    [DoesNotReturn]
    public static void BadInput(string message, Exception? inner = null) => throw new BadInputException(message, inner);

    [DoesNotReturn]
    public static T BadInput<T>(string message, Exception? inner = null) => throw new BadInputException(message, inner);

    [DoesNotReturn]
    public static void FileMissing(string path, string what) =>
        throw new BadInputException($"{path}: {what} not found");

    [DoesNotReturn]
    public static void BadFile(string path, string problem, Exception? inner = null) =>
        throw new BadInputException($"{path}: {problem}", inner);

    [DoesNotReturn]
    public static void UnsupportedOp(string opType, string nodeName, string? detail = null) =>
        throw new BadInputException($"unsupported op '{opType}' at node '{nodeName}'" + (detail is null ? "" : $": {detail}"));

    [DoesNotReturn]
    public static void BadNode(string opType, string nodeName, string problem) =>
        throw new BadInputException($"node '{nodeName}' ({opType}): {problem}");

    [DoesNotReturn]
    public static void BadTensor(string tensorName, string problem) =>
        throw new BadInputException($"tensor '{tensorName}': {problem}");

    [DoesNotReturn]
    public static T BadTensor<T>(string tensorName, string problem) =>
        throw new BadInputException($"tensor '{tensorName}': {problem}");

    [DoesNotReturn]
    public static T BadNode<T>(string opType, string nodeName, string problem) =>
        throw new BadInputException($"node '{nodeName}' ({opType}): {problem}");
}
