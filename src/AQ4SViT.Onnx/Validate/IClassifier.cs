using AQ4SViT.Onnx.Data;

namespace AQ4SViT.Onnx.Validate;

/// <summary>Something that turns images into logits: ONNX Runtime or our simulator.</summary>
public interface IClassifier : IDisposable
{
    /// <summary>Short engine name for reports ("ort", "sim").</summary>
    string Engine { get; }

    int Classes { get; }

    /// <summary>Logits of images [start, start+count) of <paramref name="set"/>, row-major count × <see cref="Classes"/>.</summary>
    void Logits(ImageSet set, int start, int count, Span<float> logits);
}
