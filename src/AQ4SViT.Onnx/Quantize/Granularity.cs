namespace AQ4SViT.Onnx.Quantize;

/// <summary>How weights are grouped to share one bit-width.</summary>
public enum Granularity
{
    Network,
    Block,
    Layer,
}
