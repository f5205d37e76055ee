using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Simulate;
using static AQ4SViT.Onnx.Tests.Simulate.ModelBuilder;

namespace AQ4SViT.Onnx.Tests.Simulate;

/// <summary>Every supported op against ONNX Runtime on seeded random shapes, attributes and opset forms.</summary>
public sealed class OpParityTests
{
    private static void Check(ModelBuilder b, int[] dims, int seed, float tolerance = 1e-5f, string what = "")
    {
        var rng = new Random(seed);
        float[] input = Oracle.Random(rng, dims.Aggregate(1, (p, d) => p * d), 2f);
        var model = b.Build();
        float[] expected = Oracle.Ort(model, input, dims.Select(d => (long)d).ToArray());
        var (actual, _) = Oracle.Sim(model, input, dims);
        Oracle.AssertClose(expected, actual, tolerance, what);
    }

    [Theory]
    [InlineData("Add", new[] { 2, 3, 4 }, new[] { 4 })]
    [InlineData("Sub", new[] { 2, 3, 4 }, new[] { 3, 1 })]
    [InlineData("Mul", new[] { 2, 1, 4 }, new[] { 3, 1 })]
    [InlineData("Div", new[] { 5, 6 }, new[] { 5, 6 })]
    [InlineData("Sub", new[] { 1 }, new[] { 2, 3 })]
    [InlineData("Add", new[] { 2, 3, 4, 5 }, new[] { 2, 1, 4, 1 })]
    [InlineData("Mul", new[] { 3, 4 }, new int[0])]
    [InlineData("Div", new[] { 4, 1, 3 }, new[] { 1, 5, 3 })]
    public void Binary_Broadcasting_MatchesOrt(string op, int[] a, int[] b)
    {
        for (int seed = 0; seed < 3; seed++)
        {
            foreach (bool swap in new[] { false, true })
            {
                var rng = new Random(seed + 100);
                var mb = new ModelBuilder().Input("x", a.Select(d => (long)d).ToArray());
                string c = mb.Floats(Oracle.Random(rng, b.Aggregate(1, (p, d) => p * d)).Select(v => op == "Div" ? v + (v >= 0 ? 0.5f : -0.5f) : v).ToArray(), b.Select(d => (long)d).ToArray());
                string y = mb.Node(op, swap ? [c, "x"] : ["x", c]);
                mb.Output(y);
                Check(mb, a, seed, 1e-6f, $"{op} {swap}");
            }
        }
    }

    [Theory]
    [InlineData("GreaterOrEqual")]
    [InlineData("Greater")]
    [InlineData("Less")]
    [InlineData("Equal")]
    public void Comparison_ThenCast_MatchesOrt(string op)
    {
        var mb = new ModelBuilder().Input("x", 3, 4);
        string c = mb.Floats([0f, 0.5f, -0.5f, 1f], 4);
        string cmp = mb.Node(op, ["x", c]);
        string y = mb.Node("Cast", [cmp], n => Int(n, "to", 1));
        mb.Output(y);
        Check(mb, [3, 4], 1);
    }

    [Theory]
    [InlineData(1, 8, 10, 10, 3, 1, 1, 1)]
    [InlineData(4, 6, 7, 9, 3, 2, 0, 1)]
    [InlineData(2, 16, 5, 5, 1, 1, 0, 1)]
    [InlineData(3, 4, 8, 8, 3, 1, 1, 2)]
    [InlineData(2, 64, 3, 3, 1, 1, 0, 1)]
    public void Conv_StridesPadsGroups_MatchesOrt(int n, int cout, int h, int w, int k, int stride, int pad, int group)
    {
        int cin = 4;
        var rng = new Random(cout * 31 + h);
        var mb = new ModelBuilder().Input("x", n, cin, h, w);
        string wt = mb.Floats(Oracle.Random(rng, cout * (cin / group) * k * k, 0.5f), cout, cin / group, k, k);
        string bias = mb.Floats(Oracle.Random(rng, cout), cout);
        string y = mb.Node("Conv", ["x", wt, bias], nd =>
        {
            Ints(nd, "kernel_shape", k, k);
            Ints(nd, "strides", stride, stride);
            Ints(nd, "pads", pad, pad, pad, pad);
            Int(nd, "group", group);
        });
        mb.Output(y);
        Check(mb, [n, cin, h, w], 3, 1e-4f);
    }

    [Fact]
    public void Conv_SpikingInput_MatchesOrt()
    {
        var rng = new Random(5);
        var mb = new ModelBuilder().Input("x", 2, 8, 6, 6);
        string wt = mb.Floats(Oracle.Random(rng, 3 * 8 * 9), 3, 8, 3, 3);
        string pos = mb.Node("Greater", ["x", mb.Scalar(0.5f)]);
        string spikes = mb.Node("Cast", [pos], n => Int(n, "to", 1));
        string y = mb.Node("Conv", [spikes, wt], nd => Ints(nd, "pads", 1, 1, 1, 1));
        mb.Output(y);
        Check(mb, [2, 8, 6, 6], 4, 1e-5f);
    }

    [Theory]
    [InlineData(3, 2, 1, 0)]
    [InlineData(3, 2, 1, 1)]
    [InlineData(2, 2, 0, 0)]
    [InlineData(3, 1, 1, 0)]
    public void MaxPool_MatchesOrt(int k, int s, int p, int ceil)
    {
        var mb = new ModelBuilder().Input("x", 2, 3, 7, 8);
        string y = mb.Node("MaxPool", ["x"], nd =>
        {
            Ints(nd, "kernel_shape", k, k);
            Ints(nd, "strides", s, s);
            Ints(nd, "pads", p, p, p, p);
            Int(nd, "ceil_mode", ceil);
        });
        mb.Output(y);
        Check(mb, [2, 3, 7, 8], 6);
    }

    [Theory]
    [InlineData(new[] { 2, 5, 4, 3 })]
    [InlineData(new[] { 3, 5, 7 })]
    [InlineData(new[] { 4, 5 })]
    public void BatchNormalization_MatchesOrt(int[] dims)
    {
        var rng = new Random(7);
        int c = dims[1];
        var mb = new ModelBuilder().Input("x", dims.Select(d => (long)d).ToArray());
        string scale = mb.Floats(Oracle.Random(rng, c), c);
        string bias = mb.Floats(Oracle.Random(rng, c), c);
        string mean = mb.Floats(Oracle.Random(rng, c), c);
        string var = mb.Floats(Oracle.Random(rng, c).Select(v => Math.Abs(v) + 0.1f).ToArray(), c);
        string y = mb.Node("BatchNormalization", ["x", scale, bias, mean, var], nd => Float(nd, "epsilon", 1e-5f));
        mb.Output(y);
        Check(mb, dims, 8, 1e-5f);
    }

    /// <summary>
    /// BatchNormalization writes its output over its input's buffer only when no later node reads that input's values:
    /// read again by an Add, the input must stay intact; read again only by Shape, it is overwritten and Shape still
    /// sees its shape.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BatchNormalization_OverwritesItsInputOnlyWhenNothingReadsItsValuesLater_MatchesOrt(bool onlyShapeLater)
    {
        var rng = new Random(17);
        int[] dims = [2, 3, 4, 5];
        int c = dims[1];
        var mb = new ModelBuilder().Input("x", dims.Select(d => (long)d).ToArray());
        string doubled = mb.Node("Add", ["x", "x"]);
        string scale = mb.Floats(Oracle.Random(rng, c), c);
        string bias = mb.Floats(Oracle.Random(rng, c), c);
        string mean = mb.Floats(Oracle.Random(rng, c), c);
        string var = mb.Floats(Oracle.Random(rng, c).Select(v => Math.Abs(v) + 0.1f).ToArray(), c);
        string normed = mb.Node("BatchNormalization", [doubled, scale, bias, mean, var], nd => Float(nd, "epsilon", 1e-5f));
        string y = onlyShapeLater
            ? mb.Node("Reshape", [normed, mb.Node("Shape", [doubled])])
            : mb.Node("Add", [normed, doubled]);
        mb.Output(y);

        var graph = GraphLoader.Load(OnnxModelFile.FromProto(mb.Build(), "inplace.onnx"));
        int bn = graph.Nodes.ToList().FindIndex(n => n.OpType == "BatchNormalization");
        Assert.Equal(onlyShapeLater, graph.OverwritesInput[bn]);
        Check(mb, dims, 18);
    }

    [Theory]
    [InlineData(0, 0, 1f, 1f)]
    [InlineData(0, 1, 1f, 1f)]
    [InlineData(1, 0, 0.5f, 2f)]
    [InlineData(1, 1, 1f, 0f)]
    public void Gemm_TransposesAlphaBeta_MatchesOrt(int transA, int transB, float alpha, float beta)
    {
        var rng = new Random(9);
        int m = 5, k = 7, n = 3;
        long[] aDims = transA == 1 ? [k, m] : [m, k];
        var mb = new ModelBuilder().Input("x", aDims);
        string bw = mb.Floats(Oracle.Random(rng, k * n), transB == 1 ? [n, k] : [k, n]);
        string c = mb.Floats(Oracle.Random(rng, n), n);
        string y = mb.Node("Gemm", ["x", bw, c], nd =>
        {
            Int(nd, "transA", transA);
            Int(nd, "transB", transB);
            Float(nd, "alpha", alpha);
            Float(nd, "beta", beta);
        });
        mb.Output(y);
        Check(mb, aDims.Select(d => (int)d).ToArray(), 10, 1e-5f);
    }

    [Theory]
    [InlineData(new[] { 4, 6 }, new[] { 6, 3 })]
    [InlineData(new[] { 2, 3, 4, 6 }, new[] { 6, 5 })]
    [InlineData(new[] { 2, 3, 4, 6 }, new[] { 2, 3, 6, 5 })]
    [InlineData(new[] { 2, 1, 4, 6 }, new[] { 3, 6, 5 })]
    [InlineData(new[] { 6 }, new[] { 2, 6, 5 })]
    [InlineData(new[] { 3, 4, 6 }, new[] { 6 })]
    public void MatMul_BatchedAndBroadcast_MatchesOrt(int[] a, int[] b)
    {
        var rng = new Random(11);
        var mb = new ModelBuilder().Input("x", a.Select(d => (long)d).ToArray());
        string w = mb.Floats(Oracle.Random(rng, b.Aggregate(1, (p, d) => p * d)), b.Select(d => (long)d).ToArray());
        string y = mb.Node("MatMul", ["x", w]);
        mb.Output(y);
        Check(mb, a, 12, 1e-5f);
    }

    [Theory]
    [InlineData(new long[] { 0, 2, 1, 3 })]
    [InlineData(new long[] { 3, 1, 0, 2 })]
    [InlineData(new long[0])]
    public void Transpose_MatchesOrt(long[] perm)
    {
        var mb = new ModelBuilder().Input("x", 2, 3, 4, 5);
        string y = mb.Node("Transpose", ["x"], nd =>
        {
            if (perm.Length > 0)
            {
                Ints(nd, "perm", perm);
            }
        });
        mb.Output(y);
        Check(mb, [2, 3, 4, 5], 13);
    }

    [Fact]
    public void ReshapeFlattenSqueezeUnsqueeze_Opset13Inputs_MatchOrt()
    {
        var mb = new ModelBuilder(13).Input("x", 2, 3, 4);
        string r = mb.Node("Reshape", ["x", mb.Longs([0, -1, 2], 3)]);
        string u = mb.Node("Unsqueeze", [r, mb.Longs([0, -1], 2)]);
        string s = mb.Node("Squeeze", [u, mb.Longs([0], 1)]);
        string f = mb.Node("Flatten", [s], nd => Int(nd, "axis", 2));
        mb.Output(f);
        Check(mb, [2, 3, 4], 14);
    }

    [Fact]
    public void SqueezeUnsqueeze_Opset11Attributes_MatchOrt()
    {
        var mb = new ModelBuilder(11).Input("x", 2, 1, 4);
        string s = mb.Node("Squeeze", ["x"], nd => Ints(nd, "axes", 1));
        string u = mb.Node("Unsqueeze", [s], nd => Ints(nd, "axes", 0, 3));
        mb.Output(u);
        Check(mb, [2, 1, 4], 15);
    }

    [Fact]
    public void ShapeGatherConcatReshape_DynamicShapeSubgraph_MatchesOrt()
    {
        var mb = new ModelBuilder().Input("x", -1, 3, 4);
        string shape = mb.Node("Shape", ["x"]);
        string d0 = mb.Node("Gather", [shape, mb.Longs([0], [])], nd => Int(nd, "axis", 0));
        string d0u = mb.Node("Unsqueeze", [d0, mb.Longs([0], 1)]);
        string last = mb.Node("Slice", [shape, mb.Longs([-1], 1), mb.Longs([long.MaxValue], 1), mb.Longs([0], 1)]);
        string twice = mb.Node("Cast", [mb.Node("Mul", [mb.Node("Cast", [last], n => Int(n, "to", 1)), mb.Scalar(0.5f)])], n => Int(n, "to", 7));
        string newShape = mb.Node("Concat", [d0u, twice, mb.Longs([-1], 1)], nd => Int(nd, "axis", 0));
        string y = mb.Node("Reshape", ["x", newShape]);
        mb.Output(y);
        Check(mb, [6, 3, 4], 16);
    }

    [Theory]
    [InlineData(new long[] { 1, 0 }, new long[] { 3, -1 }, new long[] { 0, 2 }, new long[] { 1, 2 })]
    [InlineData(new long[] { -1 }, new long[] { -100 }, new long[] { 1 }, new long[] { -1 })]
    [InlineData(new long[] { 0, 1 }, new long[] { 2, 100 }, new long[] { -1, 0 }, new long[] { 2, 1 })]
    public void Slice_StartsEndsAxesSteps_MatchesOrt(long[] starts, long[] ends, long[] axes, long[] steps)
    {
        var mb = new ModelBuilder().Input("x", 4, 5, 6);
        int n = starts.Length;
        string y = mb.Node("Slice", ["x", mb.Longs(starts, n), mb.Longs(ends, n), mb.Longs(axes, n), mb.Longs(steps, n)]);
        mb.Output(y);
        Check(mb, [4, 5, 6], 17);
    }

    [Theory]
    [InlineData(0, new long[] { 2 }, new long[0])]
    [InlineData(1, new long[] { 0, -1, 2 }, new long[] { 3 })]
    [InlineData(2, new long[] { 1, 0, 1, 3 }, new long[] { 2, 2 })]
    public void Gather_AxesAndIndexShapes_MatchesOrt(int axis, long[] indices, long[] indexDims)
    {
        var mb = new ModelBuilder().Input("x", 3, 4, 5);
        string y = mb.Node("Gather", ["x", mb.Longs(indices, indexDims)], nd => Int(nd, "axis", axis));
        mb.Output(y);
        Check(mb, [3, 4, 5], 18);
    }

    [Theory]
    [InlineData("ReduceMean", 17, 1)]
    [InlineData("ReduceMean", 18, 0)]
    [InlineData("ReduceSum", 11, 1)]
    [InlineData("ReduceSum", 13, 0)]
    [InlineData("ReduceMax", 17, 1)]
    public void Reduce_AxesAttributeOrInput_MatchesOrt(string op, int opset, int keepdims)
    {
        bool axesInput = op == "ReduceSum" ? opset >= 13 : opset >= 18;
        foreach (long[] axes in new[] { new long[] { 1 }, new long[] { 0, 2 }, new long[] { -1 } })
        {
            var mb = new ModelBuilder(opset).Input("x", 3, 4, 5);
            string y = axesInput
                ? mb.Node(op, ["x", mb.Longs(axes, axes.Length)], nd => Int(nd, "keepdims", keepdims))
                : mb.Node(op, ["x"], nd =>
                {
                    Ints(nd, "axes", axes);
                    Int(nd, "keepdims", keepdims);
                });
            mb.Output(y);
            Check(mb, [3, 4, 5], 19, 1e-5f, $"{op} axes {string.Join(",", axes)}");
        }
    }

    [Fact]
    public void TileExpandConstantOfShape_MatchOrt()
    {
        var mb = new ModelBuilder().Input("x", 2, 1, 3);
        string t = mb.Node("Tile", ["x", mb.Longs([2, 1, 2], 3)]);
        string e = mb.Node("Expand", [t, mb.Longs([3, 4, 4, 6], 4)]);
        string shape = mb.Node("Shape", [e]);
        var value = new Import.Proto.TensorProto { DataType = 1 };
        value.Dims.Add(1);
        value.FloatData.Add(0.25f);
        string fill = mb.Node("ConstantOfShape", [shape], nd => TensorAttr(nd, "value", value));
        string y = mb.Node("Add", [e, fill]);
        string z = mb.Node("Identity", [y]);
        mb.Output(z);
        Check(mb, [2, 1, 3], 20);
    }

    [Fact]
    public void ConcatAndShapeOutput_MatchOrt()
    {
        var mb = new ModelBuilder().Input("x", 2, 3);
        string c = mb.Node("Concat", ["x", mb.Floats(Oracle.Random(new Random(1), 6), 2, 3), "x"], nd => Int(nd, "axis", 1));
        mb.Output(c);
        Check(mb, [2, 3], 21);

        var ms = new ModelBuilder().Input("x", 2, 3);
        ms.Output(ms.Node("Shape", ["x"]), Import.Proto.TensorProto.Types.DataType.Int64);
        Check(ms, [2, 3], 22);
    }

    [Theory]
    [InlineData("Neg")]
    [InlineData("Abs")]
    [InlineData("Relu")]
    [InlineData("Sigmoid")]
    [InlineData("Exp")]
    [InlineData("Floor")]
    [InlineData("Ceil")]
    public void Unary_MatchesOrt(string op)
    {
        var mb = new ModelBuilder().Input("x", 3, 5);
        mb.Output(mb.Node(op, ["x"]));
        Check(mb, [3, 5], 23, 1e-6f, op);
    }

    [Fact]
    public void SqrtReciprocalPow_OnPositiveValues_MatchOrt()
    {
        var mb = new ModelBuilder().Input("x", 4, 6);
        string pos = mb.Node("Add", [mb.Node("Abs", ["x"]), mb.Scalar(0.25f)]);
        string y = mb.Node("Pow", [mb.Node("Reciprocal", [mb.Node("Sqrt", [pos])]), mb.Scalar(3f)]);
        mb.Output(y);
        Check(mb, [4, 6], 24, 1e-5f);
    }

    [Fact]
    public void WhereSplitCastLike_MatchOrt()
    {
        var mb = new ModelBuilder(15).Input("x", 4, 6);
        string cond = mb.Node("Greater", ["x", mb.Scalar(0f)]);
        string w = mb.Node("Where", [cond, "x", mb.Floats([-1f, 0f, 1f, 2f, 3f, 4f], 6)]);
        var split = mb.Node("Split", [w, mb.Longs([2, 4], 2)], n => Int(n, "axis", 1), outputs: 2);
        string asLong = mb.Node("Cast", [split], n => Int(n, "to", 7));
        string back = mb.Node("CastLike", [asLong, "x"]);
        mb.Output(back);
        Check(mb, [4, 6], 25);
    }

    [Fact]
    public void UnsupportedOp_FailsNamingOpTypeAndNode()
    {
        var mb = new ModelBuilder().Input("x", 2, 3);
        mb.Output(mb.Node("Einsum", ["x"], name: "/blocks.0/weird/Einsum"));

        var e = Assert.Throws<BadInputException>(() => GraphLoader.Load(OnnxModelFile.FromProto(mb.Build(), "m.onnx")));

        Assert.Contains("Einsum", e.Message);
        Assert.Contains("/blocks.0/weird/Einsum", e.Message);
    }

    [Theory]
    [InlineData(3, 2, -1, 1)]
    [InlineData(3, 0, 1, 1)]
    [InlineData(3, 1, 0, 0)]
    [InlineData(9, 1, 0, 1)]
    public void MaxPool_BadWindow_FailsNamingTheNode(int k, int s, int p, int d)
    {
        // Negative pads, zero strides or dilations, a window wider than the padded 7 × 8 input.
        var mb = new ModelBuilder().Input("x", 1, 2, 7, 8);
        mb.Output(mb.Node("MaxPool", ["x"], nd =>
        {
            Ints(nd, "kernel_shape", k, k);
            Ints(nd, "strides", s, s);
            Ints(nd, "dilations", d, d);
            Ints(nd, "pads", p, p, p, p);
        }, name: "/sps/pool"));

        var e = Assert.Throws<BadInputException>(() => Oracle.Sim(mb.Build(), new float[2 * 7 * 8], [1, 2, 7, 8]));

        Assert.Contains("/sps/pool", e.Message);
        Assert.Contains("MaxPool", e.Message);
    }

    [Fact]
    public void Cycle_FailsNamingANode()
    {
        var mb = new ModelBuilder().Input("x", 2);
        mb.Node("Add", ["x", "b"], name: "loopA", output: "a");
        mb.Node("Relu", ["a"], name: "loopB", output: "b");
        mb.Output("b");

        var e = Assert.Throws<BadInputException>(() => GraphLoader.Load(OnnxModelFile.FromProto(mb.Build(), "m.onnx")));

        Assert.Contains("cycle", e.Message);
        Assert.Matches("loop[AB]", e.Message);
    }
}
