using AQ4SViT.Onnx.Import.Proto;
using Google.Protobuf;
using AttributeType = AQ4SViT.Onnx.Import.Proto.AttributeProto.Types.AttributeType;
using DataLocation = AQ4SViT.Onnx.Import.Proto.TensorProto.Types.DataLocation;

namespace AQ4SViT.Onnx.Tests.Robustness;

/// <summary>
/// Seeded mutations of real ONNX models for the fuzz tests: raw byte damage (truncation, flips, garbage, insertions)
/// and structural damage through the generated protobuf classes (data types, dims, attributes, unknown ops, cycles,
/// huge dims, short or misplaced data, external-data entries). Each mutation returns a short description for failures.
/// </summary>
internal static class ModelMutator
{
    private static readonly long[] s_nastyDims = [0, 1, 2, 3, 5, -1, -7, 1L << 31, (1L << 32) + 28, 1L << 40, long.MaxValue, long.MinValue];

    private static readonly long[] s_nastyInts = [0, 1, -1, 2, 3, 7, -100, 1 << 20, 1L << 31, 1L << 40, long.MaxValue, long.MinValue];

    public static string MutateBytes(Random rng, ref byte[] bytes)
    {
        int n = bytes.Length;
        switch (rng.Next(5))
        {
            case 0:
            {
                int keep = rng.Next(n);
                bytes = bytes[..keep];
                return $"truncate to {keep} of {n} bytes";
            }

            case 1:
            {
                int flips = rng.Next(1, 9);
                var copy = (byte[])bytes.Clone();
                for (int i = 0; i < flips; i++)
                {
                    copy[rng.Next(n)] ^= (byte)(1 << rng.Next(8));
                }

                bytes = copy;
                return $"flip {flips} bits";
            }

            case 2:
            {
                int at = rng.Next(n);
                int len = Math.Min(n - at, rng.Next(1, 65));
                var copy = (byte[])bytes.Clone();
                rng.NextBytes(copy.AsSpan(at, len));
                bytes = copy;
                return $"garbage over bytes {at}..{at + len}";
            }

            case 3:
            {
                int at = rng.Next(n);
                var insert = new byte[rng.Next(1, 17)];
                rng.NextBytes(insert);
                bytes = [.. bytes[..at], .. insert, .. bytes[at..]];
                return $"insert {insert.Length} bytes at {at}";
            }

            default:
            {
                // Early bytes hold the headers and the first message lengths: damage there changes structure most.
                int at = rng.Next(Math.Min(n, 4096));
                var copy = (byte[])bytes.Clone();
                copy[at] = (byte)rng.Next(256);
                bytes = copy;
                return $"byte {at} := {copy[at]}";
            }
        }
    }

    /// <summary>One structural mutation of <paramref name="model"/> in place.</summary>
    public static string MutateStructure(Random rng, ModelProto model, bool externalData)
    {
        var g = model.Graph;
        int kind = rng.Next(externalData ? 17 : 16);
        switch (kind)
        {
            case 0:
            {
                var t = Pick(rng, g.Initializer);
                int before = t.DataType;
                t.DataType = rng.Next(4) == 0 ? rng.Next(-2, 100) : rng.Next(0, 24);
                return $"initializer '{t.Name}' data_type {before} → {t.DataType}";
            }

            case 1:
            {
                var t = Pick(rng, g.Initializer);
                return $"initializer '{t.Name}': {MutateDims(rng, t.Dims)}";
            }

            case 2:
            {
                var withAttrs = g.Node.Where(n => n.Attribute.Count > 0 && n.OpType != "Constant").ToList();
                var node = Pick(rng, withAttrs);
                return node is null ? "no node with attributes" : $"node '{node.Name}' ({node.OpType}): {MutateAttribute(rng, node)}";
            }

            case 3:
            {
                var node = Pick(rng, g.Node);
                string before = node.OpType;
                if (rng.Next(3) == 0)
                {
                    node.Domain = "com.example.fuzz";
                    return $"node '{node.Name}' ({before}) moved to domain com.example.fuzz";
                }

                node.OpType = rng.Next(2) == 0 ? "FuzzOp" + rng.Next(1000) : before.ToLowerInvariant();
                return $"node '{node.Name}' op {before} → {node.OpType}";
            }

            case 4:
            {
                // A cycle: an early node reads the output of itself or a later node.
                int i = rng.Next(g.Node.Count);
                int j = rng.Next(i, g.Node.Count);
                var reader = g.Node[i];
                var writer = g.Node[j];
                if (reader.Input.Count == 0 || writer.Output.Count == 0)
                {
                    reader.Input.Add(writer.Output.Count > 0 ? writer.Output[0] : "x");
                }
                else
                {
                    reader.Input[rng.Next(reader.Input.Count)] = writer.Output[0];
                }

                return $"cycle: node {i} '{reader.Name}' reads output of node {j} '{writer.Name}'";
            }

            case 5:
            {
                var input = g.Input[0];
                var dims = input.Type?.TensorType?.Shape?.Dim;
                if (dims is null || dims.Count == 0 || rng.Next(6) == 0)
                {
                    input.Type = rng.Next(2) == 0 ? null : new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = rng.Next(0, 17) } };
                    return $"graph input '{input.Name}' type cleared";
                }

                int d = rng.Next(dims.Count);
                if (rng.Next(5) == 0)
                {
                    dims.RemoveAt(d);
                    return $"graph input '{input.Name}' dim {d} removed";
                }

                long v = s_nastyDims[rng.Next(s_nastyDims.Length)];
                dims[d] = new TensorShapeProto.Types.Dimension { DimValue = v };
                return $"graph input '{input.Name}' dim {d} := {v}";
            }

            case 6:
            {
                var withRaw = g.Initializer.Where(t => !t.RawData.IsEmpty).ToList();
                var t = Pick(rng, withRaw);
                if (t is null)
                {
                    return "no raw initializer";
                }

                int keep = rng.Next(t.RawData.Length);
                t.RawData = ByteString.CopyFrom(t.RawData.Span[..keep]);
                return $"initializer '{t.Name}' raw_data cut to {keep} bytes";
            }

            case 7:
            {
                switch (rng.Next(4))
                {
                    case 0:
                    {
                        var t = Pick(rng, g.Initializer);
                        g.Initializer.Remove(t);
                        return $"initializer '{t.Name}' removed";
                    }

                    case 1:
                    {
                        int i = rng.Next(g.Node.Count);
                        string name = g.Node[i].Name;
                        g.Node.RemoveAt(i);
                        return $"node '{name}' removed";
                    }

                    case 2:
                        g.Output.Clear();
                        return "graph outputs removed";

                    default:
                        g.Input.Add(new ValueInfoProto { Name = "second_image", Type = g.Input[0].Type });
                        return "second graph input added";
                }
            }

            case 8:
            {
                long[] versions = [0, 1, 7, 99, -1, 1L << 40];
                long v = versions[rng.Next(versions.Length)];
                if (rng.Next(4) == 0)
                {
                    model.OpsetImport.Clear();
                    return "opset imports removed";
                }

                model.OpsetImport[0].Version = v;
                return $"opset {v}";
            }

            case 9:
            {
                // Constant nodes feed shapes, axes and indices: damage there reaches the kernels.
                var constants = g.Node.Where(n => n.OpType == "Constant" && n.Attribute.Any(a => a.T is not null)).ToList();
                var node = Pick(rng, constants);
                if (node is null)
                {
                    return "no Constant node";
                }

                var t = node.Attribute.First(a => a.T is not null).T;
                return $"Constant '{node.Name}': {MutateTensorValues(rng, t)}";
            }

            case 10:
            {
                var node = Pick(rng, g.Node);
                if (node.Input.Count == 0)
                {
                    node.Input.Add("does_not_exist");
                }
                else
                {
                    node.Input[rng.Next(node.Input.Count)] = rng.Next(2) == 0 ? "does_not_exist" : "";
                }

                return $"node '{node.Name}' reads a missing value";
            }

            case 11:
            {
                var a = Pick(rng, g.Node);
                var b = Pick(rng, g.Node);
                if (a.Output.Count > 0 && b.Output.Count > 0)
                {
                    a.Output[0] = b.Output[0];
                }

                return $"node '{a.Name}' writes node '{b.Name}''s output";
            }

            case 12:
            {
                // Values moved from raw_data into a typed field, with a wrong count.
                var withRaw = g.Initializer.Where(t => !t.RawData.IsEmpty && t.DataType == 1).ToList();
                var t = Pick(rng, withRaw);
                if (t is null)
                {
                    return "no float raw initializer";
                }

                int count = t.RawData.Length / 4;
                int give = rng.Next(2) == 0 ? count + rng.Next(-3, 4) : rng.Next(count + 1);
                t.RawData = ByteString.Empty;
                for (int i = 0; i < give; i++)
                {
                    t.FloatData.Add((float)rng.NextDouble());
                }

                return $"initializer '{t.Name}' as {give} float_data of {count}";
            }

            case 13:
            {
                // A huge tensor declared with few bytes: must be refused before allocating.
                var t = Pick(rng, g.Initializer);
                t.Dims.Clear();
                t.Dims.Add(1L << rng.Next(20, 34));
                t.Dims.Add(1L << rng.Next(4, 12));
                return $"initializer '{t.Name}' declared [{string.Join(",", t.Dims)}]";
            }

            case 14:
            {
                // NaN or infinity in a float initializer.
                var withRaw = g.Initializer.Where(t => t.RawData.Length >= 4 && t.DataType == 1).ToList();
                var t = Pick(rng, withRaw);
                if (t is null)
                {
                    return "no float raw initializer";
                }

                var raw = t.RawData.ToByteArray();
                float bad = rng.Next(3) switch { 0 => float.NaN, 1 => float.PositiveInfinity, _ => float.NegativeInfinity };
                int at = rng.Next(raw.Length / 4) * 4;
                BitConverter.TryWriteBytes(raw.AsSpan(at), bad);
                t.RawData = ByteString.CopyFrom(raw);
                return $"initializer '{t.Name}' element {at / 4} := {bad}";
            }

            case 15:
            {
                model.IrVersion = new long[] { 0, -1, 1, 100 }[rng.Next(4)];
                return $"ir_version {model.IrVersion}";
            }

            default:
            {
                var external = g.Initializer.Where(t => t.DataLocation == DataLocation.External).ToList();
                var t = Pick(rng, external);
                if (t is null)
                {
                    return "no external initializer";
                }

                string[] keys = ["location", "offset", "length"];
                string key = keys[rng.Next(keys.Length)];
                string[] values = key == "location"
                    ? ["missing.data", "../model.onnx.data", "/etc/passwd", "", "model.onnx", "sub/../model.onnx.data"]
                    : ["-1", "0", "1", "99999999999", "abc", "9223372036854775807", "4096"];
                string value = values[rng.Next(values.Length)];
                var entry = t.ExternalData.FirstOrDefault(e => e.Key == key);
                if (entry is null)
                {
                    t.ExternalData.Add(new StringStringEntryProto { Key = key, Value = value });
                }
                else
                {
                    entry.Value = value;
                }

                return $"initializer '{t.Name}' external {key} := '{value}'";
            }
        }
    }

    private static string MutateDims(Random rng, IList<long> dims)
    {
        switch (rng.Next(4))
        {
            case 0:
                dims.Add(s_nastyDims[rng.Next(s_nastyDims.Length)]);
                return $"dim appended → [{string.Join(",", dims)}]";
            case 1 when dims.Count > 0:
                dims.RemoveAt(rng.Next(dims.Count));
                return $"dim removed → [{string.Join(",", dims)}]";
            default:
                if (dims.Count == 0)
                {
                    dims.Add(2);
                    return "scalar → [2]";
                }

                int d = rng.Next(dims.Count);
                dims[d] = rng.Next(3) == 0 ? dims[d] * 2 : s_nastyDims[rng.Next(s_nastyDims.Length)];
                return $"dims → [{string.Join(",", dims)}]";
        }
    }

    private static string MutateAttribute(Random rng, NodeProto node)
    {
        var a = Pick(rng, node.Attribute);
        switch (rng.Next(6))
        {
            case 0:
                node.Attribute.Remove(a);
                return $"attribute '{a.Name}' removed";
            case 1:
                a.I = s_nastyInts[rng.Next(s_nastyInts.Length)];
                return $"attribute '{a.Name}'.i := {a.I}";
            case 2 when a.Ints.Count > 0:
            {
                int i = rng.Next(a.Ints.Count);
                a.Ints[i] = s_nastyInts[rng.Next(s_nastyInts.Length)];
                return $"attribute '{a.Name}'.ints[{i}] := {a.Ints[i]}";
            }

            case 3:
            {
                var before = a.Type;
                a.Type = (AttributeType)rng.Next(0, 15);
                return $"attribute '{a.Name}' type {before} → {a.Type}";
            }

            case 4:
                a.F = rng.Next(2) == 0 ? float.NaN : -1e30f;
                return $"attribute '{a.Name}'.f := {a.F}";
            default:
                if (a.Ints.Count > 0 && rng.Next(2) == 0)
                {
                    a.Ints.Clear();
                    return $"attribute '{a.Name}'.ints cleared";
                }

                a.Ints.Add(s_nastyInts[rng.Next(s_nastyInts.Length)]);
                return $"attribute '{a.Name}'.ints appended";
        }
    }

    private static string MutateTensorValues(Random rng, TensorProto t)
    {
        if (rng.Next(3) == 0)
        {
            return MutateDims(rng, t.Dims);
        }

        if (t.DataType == 7 && t.RawData.Length >= 8)
        {
            var raw = t.RawData.ToByteArray();
            int at = rng.Next(raw.Length / 8) * 8;
            long v = s_nastyInts[rng.Next(s_nastyInts.Length)];
            BitConverter.TryWriteBytes(raw.AsSpan(at), v);
            t.RawData = ByteString.CopyFrom(raw);
            return $"int64 element {at / 8} := {v}";
        }

        int before = t.DataType;
        t.DataType = rng.Next(0, 17);
        return $"data_type {before} → {t.DataType}";
    }

    private static T Pick<T>(Random rng, IList<T> items) => items.Count == 0 ? default! : items[rng.Next(items.Count)];
}
