using AQ4SViT.Onnx.Files;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;
using Google.Protobuf;

namespace AQ4SViT.Onnx.Emit;

/// <summary>
/// Writes a <see cref="ModelProto"/> to disk atomically, inline or with external data (<c>&lt;file&gt;.data</c> beside it).
/// Tensors that were external in the source are read from <c>sourceBaseDirectory</c> and either inlined or copied into
/// the new data file, so the output never points at the source's files.
/// </summary>
internal static class ModelWriter
{
    /// <summary>Tensors of at least this many bytes go to the external file (as onnx's own size_threshold).</summary>
    public const int ExternalThresholdBytes = 1024;

    /// <summary>Beyond this many bytes of tensor data a model is written with external data (protobuf stops at 2 GB).</summary>
    public const long InlineLimitBytes = 1L << 30;

    /// <summary>
    /// Writes <paramref name="model"/> (modified in place: external references are resolved or redirected) to <paramref name="path"/>.
    /// Returns the data file's path, or null when everything is inline.
    /// </summary>
    public static string? Write(ModelProto model, string path, string sourceBaseDirectory, bool externalData)
    {
        string full = Path.GetFullPath(path);
        string dataName = Path.GetFileName(full) + ".data";
        string dataPath = Path.Combine(Path.GetDirectoryName(full) ?? ".", dataName);
        string? dataTemp = null;
        try
        {
            if (externalData)
            {
                dataTemp = AtomicFile.Prepare(dataPath);
                using var data = new FileStream(dataTemp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
                foreach (var tensor in model.Graph.Initializer)
                {
                    byte[]? bytes = ExternalOrRawBytes(tensor, sourceBaseDirectory);
                    if (bytes is null || bytes.Length < ExternalThresholdBytes)
                    {
                        Inline(tensor, bytes);
                        continue;
                    }

                    long offset = data.Position;
                    data.Write(bytes);
                    tensor.RawData = ByteString.Empty;
                    tensor.ExternalData.Clear();
                    tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataName });
                    tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                    tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.LongLength.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                    tensor.DataLocation = TensorProto.Types.DataLocation.External;
                }

                data.Flush(flushToDisk: true);
                InlineExternalConstants(model.Graph, sourceBaseDirectory);
            }
            else
            {
                InlineExternal(model, sourceBaseDirectory);
            }

            string modelTemp = AtomicFile.Prepare(full);
            try
            {
                using (var stream = new FileStream(modelTemp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                {
                    model.WriteTo(stream);
                    stream.Flush(flushToDisk: true);
                }

                if (dataTemp is not null)
                {
                    File.Move(dataTemp, dataPath, overwrite: true);
                    dataTemp = null;
                }

                File.Move(modelTemp, full, overwrite: true);
            }
            catch
            {
                AtomicFile.TryDelete(modelTemp);
                throw;
            }

            return externalData ? dataPath : null;
        }
        finally
        {
            if (dataTemp is not null)
            {
                AtomicFile.TryDelete(dataTemp);
            }
        }
    }

    /// <summary>
    /// Reads every tensor <paramref name="model"/> keeps in external files (from <paramref name="sourceBaseDirectory"/>)
    /// into the model itself, in place: initializers and Constant attributes. Under protobuf's 2 GB limit only.
    /// </summary>
    public static void InlineExternal(ModelProto model, string sourceBaseDirectory)
    {
        foreach (var tensor in model.Graph.Initializer)
        {
            if (TensorDecoder.IsExternal(tensor))
            {
                Inline(tensor, ExternalOrRawBytes(tensor, sourceBaseDirectory));
            }
        }

        InlineExternalConstants(model.Graph, sourceBaseDirectory);
    }

    /// <summary>True when any initializer of the model keeps its data in an external file.</summary>
    public static bool HasExternalData(ModelProto model) => model.Graph.Initializer.Any(TensorDecoder.IsExternal);

    /// <summary>Bytes of tensor data held in raw_data or external files.</summary>
    public static long TensorDataBytes(ModelProto model) =>
        model.Graph.Initializer.Sum(t => TensorDecoder.IsExternal(t) ? ExternalLength(t) : t.RawData.Length);

    private static long ExternalLength(TensorProto t)
    {
        var length = t.ExternalData.FirstOrDefault(e => e.Key == "length");
        if (length is not null && long.TryParse(length.Value, out long n))
        {
            return n;
        }

        int size = TensorDecoder.ElementSize(TensorDecoder.TypeOf(t));
        return size == 0 ? 0 : TensorDecoder.ElementCount(t) * size;
    }

    /// <summary>The tensor's bytes when held as raw data or externally; null for typed-field tensors (left as they are).</summary>
    private static byte[]? ExternalOrRawBytes(TensorProto t, string baseDirectory)
    {
        if (TensorDecoder.IsExternal(t))
        {
            return TensorDecoder.ReadExternal(t, baseDirectory, ExternalLength(t));
        }

        return t.RawData.IsEmpty ? null : t.RawData.ToByteArray();
    }

    private static void Inline(TensorProto t, byte[]? bytes)
    {
        if (!TensorDecoder.IsExternal(t))
        {
            return;
        }

        t.ExternalData.Clear();
        t.DataLocation = TensorProto.Types.DataLocation.Default;
        t.RawData = bytes is null ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(bytes);
    }

    private static void InlineExternalConstants(GraphProto graph, string baseDirectory)
    {
        foreach (var node in graph.Node)
        {
            foreach (var a in node.Attribute)
            {
                if (a.T is { } t && TensorDecoder.IsExternal(t))
                {
                    Inline(t, ExternalOrRawBytes(t, baseDirectory));
                }

                if (a.G is { } g)
                {
                    InlineExternalConstants(g, baseDirectory);
                }
            }
        }
    }
}
