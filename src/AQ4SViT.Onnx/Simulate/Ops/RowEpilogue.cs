using System.Numerics.Tensors;

namespace AQ4SViT.Onnx.Simulate.Ops;

/// <summary>
/// What a fused Linear layer (<see cref="Graph.LinearFusion"/>) does to each finished row of its product: add the bias,
/// then the normalisation's multiply and add, each as the separate node would (element by element, same order).
/// </summary>
internal sealed class RowEpilogue(float[] bias, float[]? scale, float[]? shift)
{
    public void Apply(Span<float> row)
    {
        TensorPrimitives.Add(row, bias, row);
        if (scale is not null)
        {
            TensorPrimitives.Multiply(row, scale, row);
            TensorPrimitives.Add(row, shift, row);
        }
    }

    /// <summary>Rows [<paramref name="first"/>, <paramref name="end"/>) of a row-major matrix with <paramref name="n"/> columns.</summary>
    public void Apply(Span<float> c, int first, int end, int n)
    {
        for (int r = first; r < end; r++)
        {
            Apply(c.Slice(r * n, n));
        }
    }
}
