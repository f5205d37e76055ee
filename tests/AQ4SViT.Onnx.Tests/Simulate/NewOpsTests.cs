using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Simulate;
using Microsoft.ML.OnnxRuntime;
using static AQ4SViT.Onnx.Tests.Simulate.ModelBuilder;

namespace AQ4SViT.Onnx.Tests.Simulate;

/// <summary>
/// The ops that upstream SViT exports need beyond the first set (Conv1d, Pad, ScatterND, ScatterElements, Range, Sign, Erf,
/// Split with num_outputs, …) against ONNX Runtime on seeded random shapes and attributes. Data movement must match bit
/// for bit; each op also has a bad-input case that must name the node.
/// </summary>
public sealed class NewOpsTests
{
    private const string NodeName = "/blocks.0/attn/op";

    /// <summary>ORT's output values and shape (the shared oracle gives values only; a wrong Pad shape can keep the count).</summary>
    private static (float[] Values, int[] Shape) Ort(ModelProto model, float[] input, int[] dims)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model), options);
        using var value = OrtValue.CreateTensorValueFromMemory(input, dims.Select(d => (long)d).ToArray());
        // Kept alive past Run: Run passes only its native handle, and a finalized RunOptions crashed ORT inside Run.
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [session.InputMetadata.Keys.First()], [value], [session.OutputMetadata.Keys.First()]);
        var info = results[0].GetTensorTypeAndShape();
        int[] shape = info.Shape.Select(d => (int)d).ToArray();
        float[] values = info.ElementDataType switch
        {
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float => results[0].GetTensorDataAsSpan<float>().ToArray(),
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64 => results[0].GetTensorDataAsSpan<long>().ToArray().Select(v => (float)v).ToArray(),
            _ => throw new NotSupportedException(info.ElementDataType.ToString()),
        };
        return (values, shape);
    }

    private static void Check(ModelBuilder b, int[] dims, float[] input, float tolerance, string what)
    {
        var model = b.Build();
        var (expected, expectedShape) = Ort(model, input, dims);
        var (actual, actualShape) = Oracle.Sim(model, input, dims);
        Assert.True(expectedShape.SequenceEqual(actualShape), $"{what}: shape [{string.Join(",", actualShape)}], ORT says [{string.Join(",", expectedShape)}]");
        Oracle.AssertClose(expected, actual, tolerance, what);
    }

    private static void Check(ModelBuilder b, int[] dims, int seed, float tolerance, string what) =>
        Check(b, dims, Oracle.Random(new Random(seed), Size(dims), 2f), tolerance, what);

    private static int Size(int[] dims) => dims.Aggregate(1, (p, d) => p * d);

    private static long[] L(int[] dims) => dims.Select(d => (long)d).ToArray();

    private static int[] RandomShape(Random rng, int rank, int max = 5) => Enumerable.Range(0, rank).Select(_ => rng.Next(1, max + 1)).ToArray();

    private static void AssertBadInputNamingNode(ModelBuilder b, int[] dims, string mentions)
    {
        var e = Assert.Throws<BadInputException>(() => Oracle.Sim(b.Build(), new float[Size(dims)], dims));
        Assert.Contains(NodeName, e.Message, StringComparison.Ordinal);
        Assert.Contains(mentions, e.Message, StringComparison.Ordinal);
    }

    // ---- Conv 1-D -------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    public void Conv1d_RandomStridesPadsDilationsGroups_MatchesOrt(int seed)
    {
        var rng = new Random(seed);
        int group = rng.Next(1, 4);
        int cin = group * rng.Next(1, 4);
        int cout = group * rng.Next(1, 5);
        int n = rng.Next(1, 4);
        int k = rng.Next(1, 6);
        int stride = rng.Next(1, 4);
        int dil = rng.Next(1, 3);
        int p0 = rng.Next(0, 3);
        int p1 = rng.Next(0, 3);
        int len = ((k - 1) * dil) + 1 + rng.Next(0, 20);
        bool bias = rng.Next(2) == 0;
        var mb = new ModelBuilder().Input("x", n, cin, len);
        string w = mb.Floats(Oracle.Random(rng, cout * (cin / group) * k, 0.5f), cout, cin / group, k);
        string[] inputs = bias ? ["x", w, mb.Floats(Oracle.Random(rng, cout), cout)] : ["x", w];
        mb.Output(mb.Node("Conv", inputs, nd =>
        {
            Ints(nd, "kernel_shape", k);
            Ints(nd, "strides", stride);
            Ints(nd, "dilations", dil);
            Ints(nd, "pads", p0, p1);
            Int(nd, "group", group);
        }));
        Check(mb, [n, cin, len], seed + 50, 1e-5f, $"seed {seed}: n{n} c{cin} m{cout} L{len} k{k} s{stride} d{dil} p[{p0},{p1}] g{group}");
    }

    /// <summary>0/1 inputs take the spike-driven kernel; a 1-wide kernel with only a right pad must not take its pointwise path.</summary>
    [Theory]
    [InlineData(1, 0, 1, 1)]
    [InlineData(1, 0, 0, 1)]
    [InlineData(3, 1, 1, 1)]
    [InlineData(3, 2, 0, 2)]
    [InlineData(5, 2, 2, 1)]
    public void Conv1d_SpikingInput_MatchesOrt(int k, int p0, int p1, int stride)
    {
        var rng = new Random(k * 10 + p1);
        var mb = new ModelBuilder().Input("x", 2, 8, 24);
        string w = mb.Floats(Oracle.Random(rng, 6 * 8 * k), 6, 8, k);
        string spikes = mb.Node("Cast", [mb.Node("Greater", ["x", mb.Scalar(1.2f)])], n => Int(n, "to", 1));
        mb.Output(mb.Node("Conv", [spikes, w], nd =>
        {
            Ints(nd, "pads", p0, p1);
            Ints(nd, "strides", stride);
        }));
        Check(mb, [2, 8, 24], 60 + k, 1e-5f, $"k{k} p[{p0},{p1}] s{stride}");
    }

    [Theory]
    [InlineData("SAME_UPPER", 4, 2)]
    [InlineData("SAME_LOWER", 4, 2)]
    [InlineData("VALID", 3, 1)]
    public void Conv1d_AutoPad_MatchesOrt(string autoPad, int k, int stride)
    {
        var rng = new Random(k);
        var mb = new ModelBuilder().Input("x", 1, 3, 11);
        string w = mb.Floats(Oracle.Random(rng, 4 * 3 * k), 4, 3, k);
        mb.Output(mb.Node("Conv", ["x", w], nd =>
        {
            nd.Attribute.Add(new AttributeProto { Name = "auto_pad", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(autoPad) });
            Ints(nd, "strides", stride);
        }));
        Check(mb, [1, 3, 11], 70, 1e-5f, autoPad);
    }

    /// <summary>A weight overridden by name (fake quantization) is what a Conv1d reads, and the original comes back without it.</summary>
    [Fact]
    public void Conv1d_WeightOverride_IsReadEveryRun_MatchesOrt()
    {
        var rng = new Random(80);
        float[] original = Oracle.Random(rng, 5 * 4 * 3);
        float[] overridden = Oracle.Random(rng, 5 * 4 * 3);
        float[] input = Oracle.Random(rng, 2 * 4 * 9, 2f);
        ModelProto Model(float[] weights, out string weightName)
        {
            var mb = new ModelBuilder().Input("x", -1, 4, 9);
            weightName = mb.Floats(weights, 5, 4, 3);
            string conv = mb.Node("Conv", ["x", weightName], nd => Ints(nd, "pads", 1, 1));
            mb.OutputWithDims(mb.Node("Flatten", [conv]), -1, 45);
            return mb.Build();
        }

        var sim = new Simulator(GraphLoader.Load(OnnxModelFile.FromProto(Model(original, out string name), "conv1d.onnx")), 2);
        float[] withOverride = sim.Run(input, 2, new Dictionary<string, float[]> { [name] = overridden });
        float[] without = sim.Run(input, 2);

        Oracle.AssertClose(Ort(Model(overridden, out _), input, [2, 4, 9]).Values, withOverride, 1e-5f, "override");
        Oracle.AssertClose(Ort(Model(original, out _), input, [2, 4, 9]).Values, without, 1e-5f, "original after override");
    }

    [Theory]
    [InlineData("kernel_shape", "kernel_shape")]
    [InlineData("bias", "bias [3] for 4 output channels")]
    [InlineData("strides", "'strides' has 2 values")]
    [InlineData("group", "group 2")]
    [InlineData("tiny", "larger than the padded input")]
    public void Conv1d_BadAttributes_FailNamingTheNode(string bad, string mentions)
    {
        var mb = new ModelBuilder().Input("x", 1, 3, bad == "tiny" ? 2 : 10);
        string w = mb.Floats(new float[4 * 3 * 3], 4, 3, 3);
        string[] inputs = bad == "bias" ? ["x", w, mb.Floats(new float[3], 3)] : ["x", w];
        mb.Output(mb.Node("Conv", inputs, nd =>
        {
            switch (bad)
            {
                case "kernel_shape": Ints(nd, "kernel_shape", 5); break;
                case "strides": Ints(nd, "strides", 1, 1); break;
                case "group": Int(nd, "group", 2); break;
                default: break;
            }
        }, name: NodeName));
        AssertBadInputNamingNode(mb, [1, 3, bad == "tiny" ? 2 : 10], mentions);
    }

    /// <summary>MaxPool1d as 2-D over H = 1; odd seeds pool 0/1 spikes, which take the bit-mask kernel.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void MaxPool1d_RandomWindows_MatchesOrt(int seed)
    {
        var rng = new Random(seed + 1100);
        int k = rng.Next(1, 5);
        int stride = rng.Next(1, 4);
        int dil = rng.Next(1, 3);
        int p0 = rng.Next(0, k);
        int p1 = rng.Next(0, k);
        int ceil = rng.Next(2);
        int len = ((k - 1) * dil) + 1 + rng.Next(0, 30);
        int[] dims = [rng.Next(1, 3), rng.Next(1, 5), len];
        var mb = new ModelBuilder().Input("x", L(dims));
        string x = seed % 2 == 1 ? mb.Node("Cast", [mb.Node("Greater", ["x", mb.Scalar(0.8f)])], nd => Int(nd, "to", 1)) : "x";
        mb.Output(mb.Node("MaxPool", [x], nd =>
        {
            Ints(nd, "kernel_shape", k);
            Ints(nd, "strides", stride);
            Ints(nd, "dilations", dil);
            Ints(nd, "pads", p0, p1);
            Int(nd, "ceil_mode", ceil);
        }));
        Check(mb, dims, seed, 0f, $"L{len} k{k} s{stride} d{dil} p[{p0},{p1}] ceil {ceil}");
    }

    [Fact]
    public void MaxPool1d_TwoDimensionalKernel_FailsNamingTheNode()
    {
        var mb = new ModelBuilder().Input("x", 1, 2, 8);
        mb.Output(mb.Node("MaxPool", ["x"], nd => Ints(nd, "kernel_shape", 2, 2), name: NodeName));
        AssertBadInputNamingNode(mb, [1, 2, 8], "must be 1, 1, 1 and 2 values");
    }

    /// <summary>
    /// The Indices output (dynamo's max_pool2d_with_indices): flat over the whole input, first of equal maxima (0/1 spike
    /// maps are full of ties), column-major with storage_order 1; and named but unread, next to the values.
    /// </summary>
    [Theory]
    [InlineData(4, 0, false, 3, 2, 1)]
    [InlineData(4, 1, false, 2, 2, 0)]
    [InlineData(4, 0, true, 3, 1, 1)]
    [InlineData(4, 1, true, 3, 2, 1)]
    [InlineData(3, 0, true, 3, 2, 1)]
    [InlineData(3, 0, false, 2, 1, 0)]
    public void MaxPool_IndicesOutput_MatchesOrt(int rank, int storageOrder, bool spikes, int k, int stride, int pad)
    {
        int[] dims = rank == 4 ? [2, 3, 7, 6] : [2, 3, 13];
        long[] ks = rank == 4 ? [k, k] : [k];
        long[] ss = rank == 4 ? [stride, stride] : [stride];
        long[] ps = rank == 4 ? [pad, pad, pad, pad] : [pad, pad];
        foreach (bool readIndices in new[] { true, false })
        {
            var mb = new ModelBuilder().Input("x", L(dims));
            string x = spikes ? mb.Node("Cast", [mb.Node("Greater", ["x", mb.Scalar(0.3f)])], nd => Int(nd, "to", 1)) : "x";
            mb.Node("MaxPool", [x], nd =>
            {
                Ints(nd, "kernel_shape", ks);
                Ints(nd, "strides", ss);
                Ints(nd, "pads", ps);
                Int(nd, "storage_order", storageOrder);
            }, outputs: 2);
            var pool = mb.Build().Graph.Node[^1];
            mb.Output(readIndices ? mb.Node("Cast", [pool.Output[1]], nd => Int(nd, "to", 1)) : mb.Node("Identity", [pool.Output[0]]));
            Check(mb, dims, 1200 + k, 0f, $"rank {rank} order {storageOrder} spikes {spikes} read indices {readIndices}");
        }
    }

    // ---- Pad --------------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(11, 0)]
    [InlineData(11, 1)]
    [InlineData(13, 2)]
    [InlineData(18, 3)]
    [InlineData(18, 4)]
    [InlineData(18, 5)]
    [InlineData(19, 6)]
    [InlineData(2, 7)]
    public void Pad_Constant_RandomPadsIncludingCrops_MatchesOrt(int opset, int seed)
    {
        var rng = new Random(seed + 200);
        int rank = rng.Next(1, 5);
        int[] dims = RandomShape(rng, rank);

        // Opset 18 pads a random subset of axes (negative axis numbers too); earlier opsets pad every axis.
        int[] axes = opset >= 18 ? Enumerable.Range(0, rank).Where(_ => rng.Next(3) > 0).DefaultIfEmpty(0).ToArray() : Enumerable.Range(0, rank).ToArray();
        var pads = new long[2 * axes.Length];
        for (int i = 0; i < axes.Length; i++)
        {
            int dim = dims[axes[i]];
            pads[i] = rng.Next(-dim / 2, 4);
            pads[i + axes.Length] = rng.Next(-(dim + (int)Math.Min(pads[i], 0)), 4);
        }

        float value = (float)Math.Round(rng.NextDouble() * 10, 2);
        var mb = new ModelBuilder(opset).Input("x", L(dims));
        string y = opset >= 11
            ? mb.Node("Pad", opset >= 18
                ? ["x", mb.Longs(pads, pads.Length), mb.Scalar(value), mb.Longs(axes.Select(a => rng.Next(2) == 0 ? (long)a : a - rank).ToArray(), axes.Length)]
                : ["x", mb.Longs(pads, pads.Length), mb.Scalar(value)])
            : mb.Node("Pad", ["x"], nd =>
            {
                Ints(nd, "pads", pads);
                Float(nd, "value", value);
            });
        mb.Output(y);
        Check(mb, dims, seed, 0f, $"opset {opset} dims [{string.Join(",", dims)}] axes [{string.Join(",", axes)}] pads [{string.Join(",", pads)}]");
    }

    [Theory]
    [InlineData("reflect", 0)]
    [InlineData("reflect", 1)]
    [InlineData("reflect", 2)]
    [InlineData("edge", 3)]
    [InlineData("edge", 4)]
    [InlineData("edge", 5)]
    public void Pad_ReflectAndEdge_MatchesOrt(string mode, int seed)
    {
        var rng = new Random(seed + 300);
        int rank = rng.Next(1, 5);
        int[] dims = RandomShape(rng, rank).Select(d => d + 1).ToArray();
        var pads = new long[2 * rank];
        for (int i = 0; i < pads.Length; i++)
        {
            pads[i] = rng.Next(0, mode == "reflect" ? dims[i % rank] : 4);
        }

        var mb = new ModelBuilder(13).Input("x", L(dims));
        mb.Output(mb.Node("Pad", ["x", mb.Longs(pads, pads.Length)], nd =>
            nd.Attribute.Add(new AttributeProto { Name = "mode", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(mode) })));
        Check(mb, dims, seed, 0f, $"{mode} dims [{string.Join(",", dims)}] pads [{string.Join(",", pads)}]");
    }

    [Theory]
    [InlineData("reflect", new long[] { 0, 4, 0, 0 }, "reflect padding")]
    [InlineData("constant", new long[] { 0, -3, 0, -2 }, "below zero")]
    [InlineData("constant", new long[] { 1, 1 }, "2 pads for 2 axes")]
    [InlineData("wrap", new long[] { 0, 1, 0, 1 }, "mode 'wrap'")]
    public void Pad_BadPadsOrMode_FailNamingTheNode(string mode, long[] pads, string mentions)
    {
        var mb = new ModelBuilder(13).Input("x", 2, 4);
        mb.Output(mb.Node("Pad", ["x", mb.Longs(pads, pads.Length)], nd =>
            nd.Attribute.Add(new AttributeProto { Name = "mode", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(mode) }), name: NodeName));
        AssertBadInputNamingNode(mb, [2, 4], mentions);
    }

    // ---- ScatterND / ScatterElements -----------------------------------------------------------------------------

    [Theory]
    [InlineData(11, "none", 0)]
    [InlineData(13, "none", 1)]
    [InlineData(16, "none", 2)]
    [InlineData(16, "add", 3)]
    [InlineData(16, "mul", 4)]
    [InlineData(18, "max", 5)]
    [InlineData(18, "min", 6)]
    [InlineData(18, "none", 7)]
    public void ScatterND_RandomIndexDepths_MatchesOrt(int opset, string reduction, int seed)
    {
        var rng = new Random(seed + 400);
        int rank = rng.Next(1, 5);
        int[] dims = RandomShape(rng, rank);
        int k = rng.Next(1, rank + 1);

        // Distinct index tuples: with repeats the result of 'none' depends on the order of writes.
        var all = Enumerable.Range(0, Size(dims[..k])).OrderBy(_ => rng.Next()).ToArray();
        int count = rng.Next(1, all.Length + 1);
        int[] batch = count % 2 == 0 && count > 1 ? [2, count / 2] : [count];
        var indices = new List<long>();
        foreach (int flat in all.Take(Size(batch)))
        {
            var tuple = new long[k];
            int rest = flat;
            for (int j = k - 1; j >= 0; j--)
            {
                tuple[j] = rest % dims[j];
                rest /= dims[j];
            }

            indices.AddRange(tuple);
        }

        int[] updateDims = [.. batch, .. dims[k..]];
        var mb = new ModelBuilder(opset).Input("x", L(dims));
        string idx = mb.Longs([.. indices], [.. L(batch), k]);
        string upd = mb.Floats(Oracle.Random(rng, Size(updateDims), 3f), L(updateDims));
        mb.Output(mb.Node("ScatterND", ["x", idx, upd], nd =>
        {
            if (reduction != "none")
            {
                nd.Attribute.Add(new AttributeProto { Name = "reduction", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(reduction) });
            }
        }));
        Check(mb, dims, seed, 0f, $"opset {opset} {reduction} dims [{string.Join(",", dims)}] k {k} batch [{string.Join(",", batch)}]");
    }

    [Theory]
    [InlineData(11, "none", 0)]
    [InlineData(13, "none", 1)]
    [InlineData(13, "none", 2)]
    [InlineData(16, "add", 3)]
    [InlineData(16, "mul", 4)]
    [InlineData(18, "max", 5)]
    [InlineData(18, "min", 6)]
    [InlineData(18, "none", 7)]
    public void ScatterElements_RandomAxesAndNegativeIndices_MatchesOrt(int opset, string reduction, int seed) =>
        ScatterElementsCase("ScatterElements", opset, reduction, seed);

    /// <summary>Scatter, the opset 9/10 name of ScatterElements (no negative indices then).</summary>
    [Theory]
    [InlineData(9, 0)]
    [InlineData(10, 1)]
    public void Scatter_Opset9And10_MatchesOrt(int opset, int seed) => ScatterElementsCase("Scatter", opset, "none", seed + 20);

    private static void ScatterElementsCase(string op, int opset, string reduction, int seed)
    {
        var rng = new Random(seed + 500);
        int rank = rng.Next(1, 5);
        int[] dims = RandomShape(rng, rank);
        int axis = rng.Next(rank);
        int[] indexDims = dims.Select((d, i) => i == axis ? rng.Next(1, d + 1) : rng.Next(1, d + 1)).ToArray();

        // Along the axis, each fibre writes distinct places; opset 13+ spells some of them from the end.
        long[] indices = new long[Size(indexDims)];
        int m = indexDims[axis];
        int inner = Size(indexDims[(axis + 1)..]);
        int outer = Size(indexDims[..axis]);
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                var places = Enumerable.Range(0, dims[axis]).OrderBy(_ => rng.Next()).Take(m).ToArray();
                for (int j = 0; j < m; j++)
                {
                    long at = places[j];
                    indices[(((o * m) + j) * inner) + i] = opset >= 13 && rng.Next(2) == 0 ? at - dims[axis] : at;
                }
            }
        }

        var mb = new ModelBuilder(opset).Input("x", L(dims));
        string idx = mb.Longs(indices, L(indexDims));
        string upd = mb.Floats(Oracle.Random(rng, indices.Length, 3f), L(indexDims));
        mb.Output(mb.Node(op, ["x", idx, upd], nd =>
        {
            Int(nd, "axis", rng.Next(2) == 0 ? axis : axis - rank);
            if (reduction != "none")
            {
                nd.Attribute.Add(new AttributeProto { Name = "reduction", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(reduction) });
            }
        }));
        Check(mb, dims, seed, 0f, $"opset {opset} {reduction} dims [{string.Join(",", dims)}] axis {axis} indices [{string.Join(",", indexDims)}]");
    }

    [Theory]
    [InlineData("ScatterND", 3, "index 3 out of range")]
    [InlineData("ScatterND", -4, "index -4 out of range")]
    [InlineData("ScatterElements", 4, "index 4 out of range")]
    [InlineData("ScatterElements", -5, "index -5 out of range")]
    public void Scatter_OutOfRangeIndex_FailsNamingTheNode(string op, long bad, string mentions)
    {
        var mb = new ModelBuilder(13).Input("x", 3, 4);
        string y = op == "ScatterND"
            ? mb.Node(op, ["x", mb.Longs([0, bad], 2, 1), mb.Floats(new float[8], 2, 4)], name: NodeName)
            : mb.Node(op, ["x", mb.Longs([0, 1, 2, bad], 1, 4), mb.Floats(new float[4], 1, 4)], nd => Int(nd, "axis", 1), name: NodeName);
        mb.Output(y);
        AssertBadInputNamingNode(mb, [3, 4], mentions);
    }

    [Theory]
    [InlineData(11, 0)]
    [InlineData(13, 1)]
    [InlineData(13, 2)]
    [InlineData(13, 3)]
    public void GatherElements_RandomAxesAndNegativeIndices_MatchesOrt(int opset, int seed)
    {
        var rng = new Random(seed + 800);
        int rank = rng.Next(1, 5);
        int[] dims = RandomShape(rng, rank);
        int axis = rng.Next(rank);
        int[] indexDims = dims.Select((d, i) => i == axis ? rng.Next(1, 7) : rng.Next(1, d + 1)).ToArray();
        long[] indices = Enumerable.Range(0, Size(indexDims)).Select(_ => (long)rng.Next(-dims[axis], dims[axis])).ToArray();
        var mb = new ModelBuilder(opset).Input("x", L(dims));
        mb.Output(mb.Node("GatherElements", ["x", mb.Longs(indices, L(indexDims))], nd => Int(nd, "axis", rng.Next(2) == 0 ? axis : axis - rank)));
        Check(mb, dims, seed, 0f, $"dims [{string.Join(",", dims)}] axis {axis} indices [{string.Join(",", indexDims)}]");
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(0, 1)]
    [InlineData(1, 2)]
    [InlineData(2, 3)]
    [InlineData(0, 4)]
    public void GatherND_RandomDepthsAndBatchDims_MatchesOrt(int batchDims, int seed)
    {
        var rng = new Random(seed + 900);
        int rank = batchDims + rng.Next(1, 4);
        int[] dims = RandomShape(rng, rank, 4);
        int k = rng.Next(1, rank - batchDims + 1);
        int[] middle = RandomShape(rng, rng.Next(0, 3), 3);
        int[] indexDims = [.. dims[..batchDims], .. middle, k];
        var indices = new long[Size(indexDims)];
        for (int i = 0; i < indices.Length; i++)
        {
            int dim = dims[batchDims + (i % k)];
            indices[i] = rng.Next(-dim, dim);
        }

        var mb = new ModelBuilder(13).Input("x", L(dims));
        mb.Output(mb.Node("GatherND", ["x", mb.Longs(indices, L(indexDims))], nd => Int(nd, "batch_dims", batchDims)));
        Check(mb, dims, seed, 0f, $"dims [{string.Join(",", dims)}] indices [{string.Join(",", indexDims)}] b {batchDims}");
    }

    [Theory]
    [InlineData("GatherElements", 4, "index 4 out of range")]
    [InlineData("GatherND", -4, "index -4 out of range")]
    public void Gather_OutOfRangeIndex_FailsNamingTheNode(string op, long bad, string mentions)
    {
        var mb = new ModelBuilder(13).Input("x", 3, 4);
        string y = op == "GatherND"
            ? mb.Node(op, ["x", mb.Longs([0, bad], 2, 1)], name: NodeName)
            : mb.Node(op, ["x", mb.Longs([0, 1, 2, bad], 1, 4)], nd => Int(nd, "axis", 1), name: NodeName);
        mb.Output(y);
        AssertBadInputNamingNode(mb, [3, 4], mentions);
    }

    [Theory]
    [InlineData(17, 1)]
    [InlineData(18, 0)]
    public void ReduceMin_AxesAttributeOrInput_MatchesOrt(int opset, int keepdims)
    {
        foreach (long[] axes in new[] { new long[] { 1 }, new long[] { 0, 2 }, new long[] { -1 }, new long[] { 2 } })
        {
            var mb = new ModelBuilder(opset).Input("x", 3, 4, 5);
            string y = opset >= 18
                ? mb.Node("ReduceMin", ["x", mb.Longs(axes, axes.Length)], nd => Int(nd, "keepdims", keepdims))
                : mb.Node("ReduceMin", ["x"], nd =>
                {
                    Ints(nd, "axes", axes);
                    Int(nd, "keepdims", keepdims);
                });
            mb.Output(y);
            Check(mb, [3, 4, 5], 19, 0f, $"axes {string.Join(",", axes)}");
        }
    }

    [Fact]
    public void Reduce_AxisOutOfRange_FailsNamingTheNode()
    {
        var mb = new ModelBuilder(18).Input("x", 3, 4);
        mb.Output(mb.Node("ReduceSum", ["x", mb.Longs([2], 1)], name: NodeName));
        AssertBadInputNamingNode(mb, [3, 4], "axis 2 out of range");
    }

    [Fact]
    public void TanhAndLog_MatchOrt()
    {
        var mt = new ModelBuilder().Input("x", 8, 16);
        mt.Output(mt.Node("Tanh", [mt.Node("Mul", ["x", mt.Scalar(3f)])]));
        Check(mt, [8, 16], 1000, 1e-6f, "Tanh");

        var ml = new ModelBuilder().Input("x", 8, 16);
        ml.Output(ml.Node("Log", [ml.Node("Add", [ml.Node("Abs", ["x"]), ml.Scalar(0.01f)])]));
        Check(ml, [8, 16], 1001, 1e-6f, "Log");
    }

    // ---- Range, Sign, Erf ----------------------------------------------------------------------------------------

    [Theory]
    [InlineData(0f, 7f, 1f)]
    [InlineData(-1.5f, 2.3f, 0.3f)]
    [InlineData(5f, -2f, -0.7f)]
    [InlineData(0.1f, 100f, 0.1f)]
    public void Range_Floats_MatchesOrt(float start, float limit, float delta)
    {
        // Limit comes from the input at run time (ReduceMax of x = [limit]), so neither engine can fold the Range away.
        var mb = new ModelBuilder().Input("x", 1);
        string lim = mb.Node("ReduceMax", ["x"], nd => Int(nd, "keepdims", 0));
        string r = mb.Node("Range", [mb.Scalar(start), lim, mb.Scalar(delta)]);
        mb.Output(mb.Node("Add", [r, mb.Scalar(0f)]));
        Check(mb, [1], [limit], 0f, $"range {start} {limit} {delta}");
    }

    [Theory]
    [InlineData(0f, 7f, 1f)]
    [InlineData(0.1f, 100f, 0.1f)]
    public void Range_FloatConstants_MatchesOrt(float start, float limit, float delta)
    {
        // x [1] broadcasts against the range, so the output's length is the one each engine computes.
        var mb = new ModelBuilder().Input("x", 1);
        string r = mb.Node("Range", [mb.Scalar(start), mb.Scalar(limit), mb.Scalar(delta)]);
        mb.Output(mb.Node("Add", ["x", r]));
        Check(mb, [1], [0f], 0f, $"range {start} {limit} {delta}");
    }

    /// <summary>The int64 form, fed by the input's shape as exports build position indices.</summary>
    [Theory]
    [InlineData(0, 1)]
    [InlineData(7, -2)]
    [InlineData(-3, 3)]
    public void Range_Int64FromShape_MatchesOrt(long start, long delta)
    {
        var mb = new ModelBuilder().Input("x", 2, 11);
        string len = mb.Node("Gather", [mb.Node("Shape", ["x"]), mb.Longs([1])]);
        string r = mb.Node("Range", [mb.Longs([start]), len, mb.Longs([delta])]);
        mb.Output(mb.Node("Cast", [r], nd => Int(nd, "to", 1)));
        Check(mb, [2, 11], 1, 0f, $"range {start}..11 step {delta}");
    }

    [Fact]
    public void Range_ZeroDelta_FailsNamingTheNode()
    {
        var mb = new ModelBuilder().Input("x", 2, 3);
        string len = mb.Node("Gather", [mb.Node("Shape", ["x"]), mb.Longs([1])]);
        mb.Output(mb.Node("Range", [mb.Longs([0]), len, mb.Longs([0])], name: NodeName));
        AssertBadInputNamingNode(mb, [2, 3], "delta 0");
    }

    [Fact]
    public void Sign_FloatsWithZerosAndInt64_MatchesOrt()
    {
        var rng = new Random(600);
        float[] input = Oracle.Random(rng, 64, 3f).Select((v, i) => i % 5 == 0 ? 0f : (i % 7 == 0 ? -0f : v)).ToArray();
        var mb = new ModelBuilder().Input("x", 4, 16);
        mb.Output(mb.Node("Sign", ["x"]));
        Check(mb, [4, 16], input, 0f, "float");

        var mi = new ModelBuilder().Input("x", 4, 16);
        mi.Output(mi.Node("Cast", [mi.Node("Sign", [mi.Node("Cast", ["x"], nd => Int(nd, "to", 7))])], nd => Int(nd, "to", 1)));
        Check(mi, [4, 16], input, 0f, "int64");
    }

    [Fact]
    public void Erf_WideRange_MatchesOrt()
    {
        var rng = new Random(601);
        float[] input = [.. Oracle.Random(rng, 200, 5f), .. Oracle.Random(rng, 50, 1e-3f), 0f, 0.5f, -0.5f, 0.49999997f, 4f, -6f, 10f];
        var mb = new ModelBuilder().Input("x", input.Length);
        mb.Output(mb.Node("Erf", ["x"]));
        var model = mb.Build();
        var (expected, _) = Ort(model, input, [input.Length]);
        var (actual, _) = Oracle.Sim(model, input, [input.Length]);
        for (int i = 0; i < input.Length; i++)
        {
            // Relative, so the tiny arguments (erf ≈ 1.13·x) are held to the same standard as the large ones.
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 5e-7f * Math.Abs(expected[i]) + 1e-30f, $"erf({input[i]}) is {actual[i]}, ORT says {expected[i]}");
        }
    }

    /// <summary>SDT-V2's multi-spike neuron: Round(Clip(x, 0, D)) (Round from opset 11); ties included, which round to even.</summary>
    [Theory]
    [InlineData(10, true, true)]
    [InlineData(13, true, true)]
    [InlineData(13, false, true)]
    [InlineData(13, true, false)]
    public void ClipThenRound_MatchesOrt(int opset, bool withMin, bool withMax)
    {
        var rng = new Random(opset + (withMin ? 1 : 0));
        float[] input = [.. Oracle.Random(rng, 40, 6f), -2.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 0f, -0f, 4f];
        var mb = new ModelBuilder(opset).Input("x", input.Length);
        string clip = opset >= 11
            ? mb.Node("Clip", ["x", withMin ? mb.Scalar(-1f) : "", withMax ? mb.Scalar(4f) : ""])
            : mb.Node("Clip", ["x"], nd =>
            {
                Float(nd, "min", -1f);
                Float(nd, "max", 4f);
            });
        mb.Output(opset >= 11 ? mb.Node("Round", [clip]) : clip);
        Check(mb, [input.Length], input, 0f, $"opset {opset} min {withMin} max {withMax}");

        var mr = new ModelBuilder(13).Input("x", input.Length);
        mr.Output(mr.Node("Round", ["x"]));
        Check(mr, [input.Length], input, 0f, "Round alone");
    }

    [Fact]
    public void Clip_VectorBound_FailsNamingTheNode()
    {
        var mb = new ModelBuilder(13).Input("x", 2, 3);
        mb.Output(mb.Node("Clip", ["x", mb.Floats([0f, 1f], 2)], name: NodeName));
        AssertBadInputNamingNode(mb, [2, 3], "must be scalars");
    }

    [Theory]
    [InlineData(13, null)]
    [InlineData(13, 1)]
    [InlineData(13, -3)]
    [InlineData(13, 0)]
    [InlineData(11, null)]
    [InlineData(11, 2)]
    public void Softmax_AxisForms_MatchesOrt(int opset, int? axis)
    {
        var mb = new ModelBuilder(opset).Input("x", 3, 4, 5);
        string scaled = mb.Node("Mul", ["x", mb.Scalar(20f)]); // large logits: the max must be subtracted first
        mb.Output(mb.Node("Softmax", [scaled], nd =>
        {
            if (axis is { } a)
            {
                Int(nd, "axis", a);
            }
        }));
        Check(mb, [3, 4, 5], 1300, 1e-6f, $"opset {opset} axis {axis}");
    }

    [Fact]
    public void Softmax_AxisOutOfRange_FailsNamingTheNode()
    {
        var mb = new ModelBuilder(13).Input("x", 3, 4);
        mb.Output(mb.Node("Softmax", ["x"], nd => Int(nd, "axis", 2), name: NodeName));
        AssertBadInputNamingNode(mb, [3, 4], "axis 2 out of range");
    }

    // ---- Ops that existed, in the forms the exports use ------------------------------------------------------------

    /// <summary>Opset 18 Split by num_outputs (last part shorter); parts concatenated in reverse so every part is checked.</summary>
    [Theory]
    [InlineData(10, 3, 1)]
    [InlineData(9, 3, 0)]
    [InlineData(7, 2, -1)]
    public void Split_NumOutputs_MatchesOrt(int dim, int parts, int axis)
    {
        var mb = new ModelBuilder(18).Input("x", 3, dim);
        mb.Node("Split", ["x"], nd =>
        {
            Int(nd, "axis", axis);
            Int(nd, "num_outputs", parts);
        }, outputs: parts);
        var node = mb.Build().Graph.Node[^1];
        mb.Output(mb.Node("Concat", node.Output.Reverse().ToArray(), nd => Int(nd, "axis", axis)));
        Check(mb, [3, dim], 700, 0f, $"split {dim} in {parts}");
    }

    [Fact]
    public void WhereThreeWayBroadcast_GatherNegative2DIndices_SliceNegativeSteps_ExpandReduceSum_MatchOrt()
    {
        for (int reduce = 0; reduce < 2; reduce++)
        {
            var mb = new ModelBuilder(18).Input("x", 4, 1, 6);
            string cond = mb.Node("Greater", [mb.Floats([0.5f, -0.5f, 0f], 1, 3, 1), mb.Floats([0f, 0.25f, -1f, 2f, 0f, 0f], 6)]);
            string w = mb.Node("Where", [cond, "x", mb.Floats([10f, 20f, 30f, 40f], 4, 1, 1)]);
            string g = mb.Node("Gather", [w, mb.Longs([-1, 0, -3, 2], 2, 2)], nd => Int(nd, "axis", 2));
            string s = mb.Node("Slice", [g, mb.Longs([-1, 100], 2), mb.Longs([-100, 0], 2), mb.Longs([1, 0], 2), mb.Longs([-2, -1], 2)]);
            if (reduce == 1)
            {
                string e = mb.Node("Expand", [s, mb.Longs([2, 1, 1, 1, 1], 5)]);
                s = mb.Node("ReduceSum", [e, mb.Longs([-1, 1], 2)], nd => Int(nd, "keepdims", 0));
            }

            mb.Output(s);
            Check(mb, [4, 1, 6], 701, reduce == 1 ? 1e-6f : 0f, reduce == 1 ? "… then Expand, ReduceSum (axes input)" : "Where, Gather, Slice");
        }
    }

    [Fact]
    public void EqualNotNeg_MatchOrt()
    {
        var mb = new ModelBuilder(18).Input("x", 5, 3);
        string eq = mb.Node("Equal", [mb.Node("Floor", ["x"]), mb.Floats([-1f, 0f, 1f], 3)]);
        mb.Output(mb.Node("Neg", [mb.Node("Cast", [mb.Node("Not", [eq])], nd => Int(nd, "to", 1))]));
        Check(mb, [5, 3], 703, 0f, "Equal/Not/Neg");
    }
}
