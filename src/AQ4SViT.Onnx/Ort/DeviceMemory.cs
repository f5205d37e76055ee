using System.Globalization;
using AQ4SViT.Onnx.Core;
using Microsoft.ML.OnnxRuntime;

namespace AQ4SViT.Onnx.Ort;

/// <summary>
/// ONNX Runtime's out-of-memory failures at the session and run boundary, turned into one line of bad input (exit 3) that
/// names the batch to use, instead of a native stack trace.
/// </summary>
internal static class DeviceMemory
{
    // What the CPU arena, the CUDA allocator, cuBLAS and cuDNN say when an allocation fails (ONNX Runtime 1.31).
    private static readonly string[] s_outOfMemory =
    [
        "out of memory", "failed to allocate memory", "bad_alloc", "alloc_failed", "cudaerrormemoryallocation", "cannot allocate memory",
    ];

    public static bool IsOutOfMemory(Exception e) => e is OutOfMemoryException || (e is OnnxRuntimeException && IsOutOfMemoryMessage(e.Message));

    /// <summary>Whether an ONNX Runtime error message reports a failed allocation.</summary>
    public static bool IsOutOfMemoryMessage(string message) => s_outOfMemory.Any(s => message.Contains(s, StringComparison.OrdinalIgnoreCase));

    /// <summary>The line for a run of <paramref name="batch"/> images that did not fit: half the batch, or the CPU at batch 1.</summary>
    public static string BatchMessage(string what, ComputeDevice device, int batch) => batch > 1
        ? string.Create(CultureInfo.InvariantCulture, $"{what} at batch {batch} does not fit in the memory of {device}: use --batch {Math.Max(1, batch / 2)} (or smaller)")
        : string.Create(CultureInfo.InvariantCulture, $"{what} does not fit in the memory of {device} even at batch 1: use --device cpu");

    /// <summary>Runs <paramref name="run"/>; an out-of-memory failure becomes <see cref="BatchMessage"/> as bad input.</summary>
    public static T Guard<T>(Func<T> run, string what, ComputeDevice device, int batch)
    {
        try
        {
            return run();
        }
        catch (Exception e) when (IsOutOfMemory(e))
        {
            return Throw.BadInput<T>(BatchMessage(what, device, batch), e);
        }
    }
}
