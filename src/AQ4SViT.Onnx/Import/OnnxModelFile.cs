using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Import.Proto;
using Google.Protobuf;

namespace AQ4SViT.Onnx.Import;

/// <summary>
/// An ONNX model as read from disk: the protobuf message plus the folder its external data is relative to.
/// Tensors stay as protobuf messages; <see cref="TensorDecoder"/> reads their values on demand.
/// </summary>
public sealed class OnnxModelFile
{
    private OnnxModelFile(ModelProto proto, string path)
    {
        Proto = proto;
        Path = System.IO.Path.GetFullPath(path);
        BaseDirectory = System.IO.Path.GetDirectoryName(Path) ?? ".";
    }

    public ModelProto Proto { get; }

    public GraphProto Graph => Proto.Graph;

    /// <summary>Full path of the .onnx file.</summary>
    public string Path { get; }

    /// <summary>The folder external-data locations are relative to.</summary>
    public string BaseDirectory { get; }

    /// <summary>Opset of the default ("" or "ai.onnx") domain.</summary>
    public int DefaultOpset =>
        (int)(Proto.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 0);

    /// <summary>Parses a .onnx file; bad or truncated files become a <see cref="BadInputException"/> naming the file.</summary>
    public static OnnxModelFile Load(string path)
    {
        if (!File.Exists(path))
        {
            Throw.FileMissing(path, "model");
        }

        ModelProto proto;
        try
        {
            using var stream = File.OpenRead(path);
            if (stream.Length == 0)
            {
                Throw.BadFile(path, "empty file, not an ONNX model");
            }

            // Generous recursion limit: subgraphs nest, but a cycle of messages cannot exist in protobuf bytes.
            proto = ModelProto.Parser.WithDiscardUnknownFields(false).ParseFrom(CodedInputStream.CreateWithLimits(stream, int.MaxValue, 100));
        }
        catch (InvalidProtocolBufferException e)
        {
            return Throw.BadInput<OnnxModelFile>($"{path}: not an ONNX model or truncated ({e.Message})", e);
        }
        catch (IOException e)
        {
            return Throw.BadInput<OnnxModelFile>($"{path}: cannot read ({e.Message})", e);
        }

        if (proto.Graph is null || proto.Graph.Node.Count == 0)
        {
            Throw.BadFile(path, "not an ONNX model: no graph or no nodes");
        }

        if (proto.IrVersion <= 0)
        {
            Throw.BadFile(path, $"not an ONNX model: ir_version {proto.IrVersion}");
        }

        return new OnnxModelFile(proto, path);
    }

    /// <summary>Wraps a model built in memory (tests, emitters); external data resolves against <see cref="BaseDirectory"/> (the folder of <paramref name="pathForMessages"/>).</summary>
    public static OnnxModelFile FromProto(ModelProto proto, string pathForMessages) => new(proto, pathForMessages);

    /// <summary>Bytes on disk: the .onnx file plus each distinct external-data file its initializers name (a missing one counts 0).</summary>
    public long FileBytes()
    {
        long bytes = new FileInfo(Path).Length;
        foreach (string data in Graph.Initializer.Where(TensorDecoder.IsExternal)
                     .Select(t => t.ExternalData.FirstOrDefault(e => e.Key == "location")?.Value)
                     .OfType<string>().Distinct(StringComparer.Ordinal))
        {
            string file = System.IO.Path.Combine(BaseDirectory, data);
            bytes += File.Exists(file) ? new FileInfo(file).Length : 0;
        }

        return bytes;
    }

    /// <summary>Every initializer by name (graph initializers only; Constant nodes are ops).</summary>
    public Dictionary<string, TensorProto> InitializersByName()
    {
        var map = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var t in Graph.Initializer)
        {
            if (!map.TryAdd(t.Name, t))
            {
                Throw.BadTensor(t.Name, $"{Path}: initializer defined twice");
            }
        }

        return map;
    }
}
