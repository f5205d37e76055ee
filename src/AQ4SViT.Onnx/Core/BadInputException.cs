namespace AQ4SViT.Onnx.Core;

/// <summary>
/// The user's input (model, data, setting, option) is wrong. The CLI prints <see cref="Exception.Message"/>
/// as one line and exits with code 3; the message always names the file, node, op or tensor at fault.
/// </summary>
public sealed class BadInputException(string message, Exception? inner = null) : Exception(message, inner);
