using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Simulate;
using Microsoft.ML.OnnxRuntime;

namespace AQ4SViT.Onnx.Tests.Simulate;

/// <summary>Runs a model in our executor and in ONNX Runtime on the same input.</summary>
internal static class Oracle
{
    public static float[] Ort(ModelProto model, float[] input, long[] dims)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model), options);
        using var value = OrtValue.CreateTensorValueFromMemory(input, dims);
        string inputName = session.InputMetadata.Keys.First();
        string outputName = session.OutputMetadata.Keys.First();
        // Kept alive past Run: Run passes only its native handle, and a finalized RunOptions crashed ORT inside Run.
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [inputName], [value], [outputName]);
        var info = results[0].GetTensorTypeAndShape();
        return info.ElementDataType switch
        {
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float => results[0].GetTensorDataAsSpan<float>().ToArray(),
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64 => results[0].GetTensorDataAsSpan<long>().ToArray().Select(v => (float)v).ToArray(),
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Bool => results[0].GetTensorDataAsSpan<bool>().ToArray().Select(v => v ? 1f : 0f).ToArray(),
            _ => throw new NotSupportedException(info.ElementDataType.ToString()),
        };
    }

    public static (float[] Values, int[] Shape) Sim(ModelProto model, float[] input, int[] dims, int threads = 2)
    {
        var graph = GraphLoader.Load(OnnxModelFile.FromProto(model, "test.onnx"));
        var result = GraphExecutor.Run(graph, Tensor.FromFloats(input, dims), null, new ExecContext(threads));
        return (result.ToFloatArray(), result.Shape);
    }

    public static float[] Random(Random rng, int count, float scale = 1f) =>
        Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 2) - 1) * scale).ToArray();

    public static void AssertClose(float[] expected, float[] actual, float tolerance, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            float diff = Math.Abs(expected[i] - actual[i]);
            float allowed = tolerance * Math.Max(1f, Math.Abs(expected[i]));
            Assert.True(diff <= allowed || (float.IsNaN(expected[i]) && float.IsNaN(actual[i])), $"{what}: value {i} is {actual[i]}, ORT says {expected[i]}");
        }
    }
}
