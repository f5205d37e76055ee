using AQ4SViT.Onnx.Import.Proto;
using DataType = AQ4SViT.Onnx.Import.Proto.TensorProto.Types.DataType;

namespace AQ4SViT.Onnx.Emit;

/// <summary>Declarations of graph inputs and outputs (name, element type, fixed shape) for the graphs we write.</summary>
internal static class ValueInfos
{
    public static ValueInfoProto Tensor(string name, DataType type, IEnumerable<long> shape)
    {
        var dims = new TensorShapeProto();
        dims.Dim.AddRange(shape.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = dims } } };
    }

    public static ValueInfoProto Float(string name, IEnumerable<long> shape) => Tensor(name, DataType.Float, shape);
}
