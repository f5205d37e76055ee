using Microsoft.ML.OnnxRuntime;

namespace AQ4SViT.Onnx.Ort;

/// <summary>
/// A session's I/O binding with one evaluation's weights bound to weight inputs: ONNX Runtime copies each to the session's
/// device when it is bound, once, rather than with every batch. The batches then bind their input and outputs on the same
/// binding. The host arrays must not change until it is disposed.
/// </summary>
internal sealed class WeightBinding(InferenceSession session) : IDisposable
{
    private readonly List<OrtValue> _values = [];

    public OrtIoBinding Binding { get; } = session.CreateIoBinding();

    public void Bind(string name, float[] values, long[] shape)
    {
        var value = OrtValue.CreateTensorValueFromMemory(values, shape);
        _values.Add(value);
        Binding.BindInput(name, value);
    }

    public void Dispose()
    {
        Binding.Dispose();
        _values.ForEach(v => v.Dispose());
    }
}
