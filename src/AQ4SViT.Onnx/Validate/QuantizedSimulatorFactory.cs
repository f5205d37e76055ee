using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;

namespace AQ4SViT.Onnx.Validate;

/// <summary>
/// Makes a classifier that runs <paramref name="reference"/> (the float model, loaded once by the validate runner) in our LIF simulator with the
/// weights of <paramref name="setting"/> fake-quantized — what `validate --reference` compares ONNX Runtime on the
/// emitted model against. Supplied by the simulator side (see ValidateRequest.SimulatorFactory, which the validate runner calls).
/// </summary>
public delegate IClassifier QuantizedSimulatorFactory(OnnxModelFile reference, Setting setting, InputScaling scaling, int threads);
