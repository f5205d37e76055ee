using System.Globalization;
using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Ort;

/// <summary>Where ONNX Runtime runs a model: the CPU, or CUDA device <see cref="Index"/> (<c>--device cpu|cuda[:N]</c>).</summary>
public readonly record struct ComputeDevice(bool IsCuda, int Index)
{
    public static ComputeDevice Cpu { get; } = new(false, 0);

    public static ComputeDevice Cuda(int index = 0) => new(true, index);

    /// <summary>Parses <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> (case-insensitive); anything else is bad input naming --device.</summary>
    public static ComputeDevice Parse(string? text)
    {
        string value = (text ?? "").Trim().ToLowerInvariant();
        if (value is "" or "cpu")
        {
            return Cpu;
        }

        if (value == "cuda")
        {
            return Cuda(0);
        }

        if (value.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(value.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
        {
            return Cuda(index);
        }

        return Throw.BadInput<ComputeDevice>($"--device must be cpu, cuda or cuda:N, got '{text}'");
    }

    public override string ToString() => IsCuda ? string.Create(CultureInfo.InvariantCulture, $"cuda:{Index}") : "cpu";
}
