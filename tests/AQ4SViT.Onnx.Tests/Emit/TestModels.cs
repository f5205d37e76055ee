using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using DataType = AQ4SViT.Onnx.Import.Proto.TensorProto.Types.DataType;

namespace AQ4SViT.Onnx.Tests.Emit;

/// <summary>Small models built in code, the committed tiny SViT fixtures, and ONNX Runtime as the oracle.</summary>
internal static class TestModels
{
    public static string Fixture(string name) => Path.Combine(RepoPaths.Root, "tests", "AQ4SViT.Onnx.Tests", "Fixtures", name);

    public const int Batch = 3;
    public static readonly long[] InputShape = [Batch, 2, 6, 6];

    /// <summary>
    /// X [N,2,6,6] → Conv(conv.weight [4,2,3,3], pads 1) → ReduceMean(axes=[2,3] attribute, keepdims 0) → Gemm(fc.weight [3,4], transB 1)
    /// → MatMul(Transpose(proj.weight [5,3])) → MatMul(onnx::MatMul_9 [5,4]) → Y [N,4]. Opset 17, IR 8, TorchScript-style node scopes.
    /// <paramref name="scale"/> widens the weights (channels × scale) for size tests.
    /// </summary>
    public static ModelProto ConvGemmMatMul(int seed = 1, int scale = 1, int opset = 17, int outputs = 4)
    {
        var rng = new Random(seed);
        int c1 = 4 * scale, f = 3 * scale, p = 5 * scale, o = outputs;
        var g = new GraphProto { Name = "test" };
        g.Input.Add(ValueInfo("X", [-1, 2, 6, 6]));
        g.Output.Add(ValueInfo("Y", [-1, o]));
        g.Initializer.Add(Floats("conv.weight", [c1, 2, 3, 3], rng, zeroChannel: 1));
        g.Initializer.Add(Floats("conv.bias", [c1], rng));
        g.Initializer.Add(Floats("fc.weight", [f, c1], rng));
        g.Initializer.Add(Floats("fc.bias", [f], rng));
        g.Initializer.Add(Floats("proj.weight", [p, f], rng));
        g.Initializer.Add(Floats("onnx::MatMul_9", [p, o], rng));
        g.Node.Add(Node("Conv", "/stem/conv/Conv", ["X", "conv.weight", "conv.bias"], ["c"], Ints("pads", 1, 1, 1, 1)));
        g.Node.Add(Node("ReduceMean", "/ReduceMean", ["c"], ["m"], Ints("axes", 2, 3), Int("keepdims", 0)));
        g.Node.Add(Node("Gemm", "/fc/Gemm", ["m", "fc.weight", "fc.bias"], ["h"], Int("transB", 1)));
        g.Node.Add(Node("Transpose", "/proj/Transpose", ["proj.weight"], ["pt"], Ints("perm", 1, 0)));
        g.Node.Add(Node("MatMul", "/proj/MatMul", ["h", "pt"], ["z"]));
        g.Node.Add(Node("MatMul", "/head/MatMul", ["z", "onnx::MatMul_9"], ["Y"]));
        var model = new ModelProto { IrVersion = 8, ProducerName = "test", Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model;
    }

    public static OnnxModelFile Save(ModelProto model, string path)
    {
        using (var stream = File.Create(path))
        {
            model.WriteTo(stream);
        }

        return OnnxModelFile.Load(path);
    }

    public static TensorProto Floats(string name, long[] dims, Random rng, int zeroChannel = -1)
    {
        long n = dims.Aggregate(1L, (a, b) => a * b);
        var values = new float[n];
        long perChannel = n / dims[0];
        for (long i = 0; i < n; i++)
        {
            values[i] = i / perChannel == zeroChannel ? 0 : (float)((rng.NextDouble() * 2) - 1) * (1 + (i % 3));
        }

        var t = new TensorProto { Name = name, DataType = (int)DataType.Float, RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.AddRange(dims);
        return t;
    }

    public static ValueInfoProto ValueInfo(string name, long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims)
        {
            shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float, Shape = shape } } };
    }

    public static NodeProto Node(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static float[] RandomInput(long[] shape, int seed = 7)
    {
        var rng = new Random(seed);
        var x = new float[shape.Aggregate(1L, (a, b) => a * b)];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)rng.NextDouble();
        }

        return x;
    }

    /// <summary>Runs a model file in ONNX Runtime (CPU, one thread, no graph rewrites) on one input; returns the first output.</summary>
    public static float[] Run(string path, float[] input, long[] shape)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(path, options);
        string inputName = session.InputMetadata.Keys.Single();
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [inputName], [value], [session.OutputMetadata.Keys.First()]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Fashion-MNIST-like input for the 28×28 SViT fixtures: the first images of the bundled test set, pixel/255.</summary>
    public static float[] FashionImages(int count, int offset = 5000)
    {
        var set = SharedData.FashionMnist;
        var x = new float[count * 28 * 28];
        Onnx.Data.InputScaling.PixelOver255.Fill(set, offset, count, 1, x);
        return x;
    }

    public static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs((double)expected[i] - actual[i]));
        }

        Assert.True(max <= tolerance, $"max |diff| {max} > {tolerance}");
    }
}
