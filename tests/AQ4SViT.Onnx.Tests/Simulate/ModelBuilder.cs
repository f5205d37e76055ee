using AQ4SViT.Onnx.Import.Proto;
using Google.Protobuf;

namespace AQ4SViT.Onnx.Tests.Simulate;

/// <summary>Builds small ONNX models in memory for op and LIF tests (our own tiny ModelProto builder).</summary>
internal sealed class ModelBuilder(int opset = 17)
{
    private readonly GraphProto _graph = new() { Name = "test" };
    private int _counter;

    public ModelBuilder Input(string name, params long[] dims)
    {
        _graph.Input.Add(ValueInfo(name, TensorProto.Types.DataType.Float, dims));
        return this;
    }

    public ModelBuilder Output(string name, TensorProto.Types.DataType type = TensorProto.Types.DataType.Float)
    {
        _graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type } } });
        return this;
    }

    public ModelBuilder OutputWithDims(string name, params long[] dims)
    {
        _graph.Output.Add(ValueInfo(name, TensorProto.Types.DataType.Float, dims));
        return this;
    }

    public string Floats(float[] values, params long[] dims)
    {
        string name = $"c{_counter++}";
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(values);
        _graph.Initializer.Add(t);
        return name;
    }

    public string Longs(long[] values, params long[] dims)
    {
        string name = $"c{_counter++}";
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.AddRange(dims);
        t.Int64Data.AddRange(values);
        _graph.Initializer.Add(t);
        return name;
    }

    public string Scalar(float value) => Floats([value]);

    /// <summary>Adds a node; returns its (first) output name.</summary>
    public string Node(string op, string[] inputs, Action<NodeProto>? attributes = null, string? name = null, string? output = null, int outputs = 1)
    {
        var n = new NodeProto { OpType = op, Name = name ?? $"/{op}_{_counter}" };
        n.Input.AddRange(inputs);
        for (int i = 0; i < outputs; i++)
        {
            n.Output.Add(i == 0 && output is not null ? output : $"v{_counter++}");
        }

        attributes?.Invoke(n);
        _graph.Node.Add(n);
        return n.Output[0];
    }

    public static void Int(NodeProto n, string name, long v) => n.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v });

    public static void Float(NodeProto n, string name, float v) => n.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = v });

    public static void Ints(NodeProto n, string name, params long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        n.Attribute.Add(a);
    }

    public static void TensorAttr(NodeProto n, string name, TensorProto t) => n.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = t });

    public ModelProto Build()
    {
        var m = new ModelProto { IrVersion = 8, Graph = _graph, ProducerName = "aq4svit-tests" };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return m;
    }

    public byte[] Bytes() => Build().ToByteArray();

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims)
        {
            shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
