using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Simulate;
using AQ4SViT.Onnx.Simulate.Ops;
using static AQ4SViT.Onnx.Tests.Simulate.ModelBuilder;

namespace AQ4SViT.Onnx.Tests.Simulate;

/// <summary>
/// The SIMD kernels against plain scalar references written from the definitions, over every length 0–256 and
/// random shapes. Exact equality where the kernel promises the same operations in the same order.
/// </summary>
public sealed class KernelTests
{
    private static float[] Values(Random rng, int count, double density = 1, bool spikes = false) =>
        Enumerable.Range(0, count).Select(_ => rng.NextDouble() >= density ? 0f : spikes ? 1f : (float)((rng.NextDouble() * 2) - 1)).ToArray();

    /// <summary>C = A·B with each output summed in K-blocks from zero (fused multiply-add in k order), blocks added in order.</summary>
    private static float[] BlockedGemm(float[] a, float[] b, int m, int k, int n, int strideK)
    {
        var c = new float[m * n];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float total = 0;
                for (int k0 = 0; k0 < k; k0 += strideK)
                {
                    float sum = 0;
                    for (int p = k0; p < Math.Min(k, k0 + strideK); p++)
                    {
                        sum = MathF.FusedMultiplyAdd(a[(i * k) + p], b[(p * n) + j], sum);
                    }

                    total = k0 == 0 ? sum : total + sum;
                }

                c[(i * n) + j] = total;
            }
        }

        return c;
    }

    [Fact]
    public void Transpose2D_EveryLength0To256_MatchesScalar()
    {
        var rng = new Random(1);
        for (int len = 0; len <= 256; len++)
        {
            foreach (var (rows, cols) in new[] { (len, rng.Next(1, 20)), (rng.Next(1, 20), len) })
            {
                int ld = cols + rng.Next(0, 3);
                var src = Values(rng, Math.Max(0, ((rows - 1) * ld) + cols));
                var dst = new float[rows * cols];
                Transpose2D.Run(src, ld, dst, rows, rows, cols);
                for (int r = 0; r < rows; r++)
                {
                    for (int c = 0; c < cols; c++)
                    {
                        Assert.Equal(src[(r * ld) + c], dst[(c * rows) + r]);
                    }
                }
            }
        }
    }

    [Fact]
    public void Gemm_DenseAndSparseStrategies_EveryN0To256_SameBitsAsBlockedScalar()
    {
        var rng = new Random(2);
        for (int n = 0; n <= 256; n++)
        {
            int m = rng.Next(1, 7);
            int k = rng.Next(1, 70);
            int strideK = new[] { 1, 8, 16, 128 }[rng.Next(4)];
            bool spikes = n % 2 == 0;
            var a = Values(rng, m * k, density: spikes ? 0.15 : 0.8, spikes);
            var b = Values(rng, k * n);
            var expected = BlockedGemm(a, b, m, k, n, strideK);
            var dense = new float[m * n];
            var sparse = new float[m * n];
            GemmKernel.Fma4x16(a, b, dense, 0, m, k, n, strideK, accumulate: false);
            GemmKernel.SparseFma(a, b, sparse, 0, m, k, n, strideK, accumulate: false);
            Assert.Equal(expected, dense);
            Assert.Equal(expected, sparse);
        }
    }

    [Fact]
    public void Gemm_EveryK0To256_RowsMatchesBlockedScalar()
    {
        var rng = new Random(3);
        for (int k = 0; k <= 256; k++)
        {
            int m = rng.Next(1, 9);
            int n = rng.Next(1, 40);
            var a = Values(rng, m * k, density: rng.NextDouble(), spikes: rng.Next(2) == 0);
            var b = Values(rng, k * n);
            int strideK = GemmKernel.OrtStrideK(n, k);
            var c = Values(rng, m * n); // garbage that must be overwritten
            GemmKernel.Rows(a, b, c, 0, m, k, n, strideK);
            Assert.Equal(BlockedGemm(a, b, m, k, n, Math.Max(1, strideK)), c);
        }
    }

    [Fact]
    public void SpikeConv_RandomGeometries_SameBitsAsBlockedIm2ColGemm()
    {
        var rng = new Random(4);
        for (int trial = 0; trial < 60; trial++)
        {
            int cg = rng.Next(1, 6), mg = rng.Next(1, 40), h = rng.Next(1, 12), w = rng.Next(1, 12);
            int kh = rng.Next(1, 4), kw = rng.Next(1, 4), sh = rng.Next(1, 3), sw = rng.Next(1, 3), dh = rng.Next(1, 3), dw = rng.Next(1, 3);
            int pt = rng.Next(0, kh), pl = rng.Next(0, kw);
            int oh = ((h + (2 * pt) - (((kh - 1) * dh) + 1)) / sh) + 1;
            int ow = ((w + (2 * pl) - (((kw - 1) * dw) + 1)) / sw) + 1;
            if (oh <= 0 || ow <= 0)
            {
                continue;
            }

            var x = Values(rng, cg * h * w, density: rng.NextDouble() * 0.4, spikes: trial % 3 != 0);
            var weights = Values(rng, mg * cg * kh * kw);
            var g = new ConvGeometry(h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow);
            var (expected, wt, strideK) = ConvReference(x, weights, cg, mg, g);
            var actual = new float[mg * oh * ow];
            SpikeConv.Image(x, wt, actual, g, mg, strideK);
            Assert.Equal(expected, actual);
        }
    }

    /// <summary>
    /// The spike-map path (3 × 3, stride 1, 0/1 inputs, lists read off row bit masks): rows up to 62 wide, pads 0–2 on
    /// each side, up to 70 channels (several K-blocks) and 100 output channels (every column kernel and the scalar tail),
    /// with list bands from one output row to the whole map.
    /// </summary>
    [Fact]
    public void SpikeConv_SpikeMaps3x3_SameBitsAsBlockedIm2ColGemm()
    {
        var rng = new Random(12);
        for (int trial = 0; trial < 40; trial++)
        {
            int cg = rng.Next(1, 71), mg = rng.Next(1, 101), h = rng.Next(1, 20), w = rng.Next(1, 63);
            int pt = rng.Next(0, 3), pb = rng.Next(0, 3), pl = rng.Next(0, 3), pr = rng.Next(0, 3);
            int oh = h + pt + pb - 2, ow = w + pl + pr - 2;
            if (oh <= 0 || ow <= 0 || ow > 62)
            {
                continue;
            }

            var g = new ConvGeometry(h, w, 3, 3, 1, 1, 1, 1, pt, pl, oh, ow);
            Assert.True(SpikeWindows.Fits(g), $"{g}");
            var x = Values(rng, cg * h * w, density: rng.NextDouble() * 0.5, spikes: true);
            var weights = Values(rng, mg * cg * 9);
            var (expected, wt, strideK) = ConvReference(x, weights, cg, mg, g);
            var actual = new float[mg * oh * ow];
            SpikeConv.Image(x, wt, actual, g, mg, strideK, listBudget: trial % 2 == 0 ? 1 : 1 << 18);
            Assert.Equal(expected, actual);
        }
    }

    /// <summary>Each pixel's list holds k = ci·9 + ky·3 + kx of every spike in its window, ascending; values other than +0 and +1 are refused.</summary>
    [Fact]
    public unsafe void SpikeWindows_ListTheWindowsSpikesInImToColOrder()
    {
        var rng = new Random(13);
        for (int trial = 0; trial < 30; trial++)
        {
            int channels = rng.Next(1, 9), h = rng.Next(1, 10), w = rng.Next(1, 63);
            int pt = rng.Next(0, 3), pb = rng.Next(0, 3), pl = rng.Next(0, 3), pr = rng.Next(0, 3);
            int oh = h + pt + pb - 2, ow = w + pl + pr - 2;
            if (oh <= 0 || ow <= 0 || ow > 62)
            {
                continue;
            }

            var g = new ConvGeometry(h, w, 3, 3, 1, 1, 1, 1, pt, pl, oh, ow);
            var x = Values(rng, channels * h * w, density: rng.NextDouble(), spikes: true);
            var masks = new ulong[SpikeWindows.MaskLength(channels, g)];
            int capacity = 9 * channels;
            var lists = new int[oh * ow * capacity];
            var counts = new int[oh * ow];
            fixed (float* px = x)
            fixed (ulong* pm = masks)
            fixed (int* pl2 = lists, pc = counts)
            {
                Assert.True(SpikeWindows.Masks(px, channels, g, pm));
                SpikeWindows.Lists(pm, channels, g, 0, oh, pl2, pc);
            }

            for (int oy = 0; oy < oh; oy++)
            {
                for (int ox = 0; ox < ow; ox++)
                {
                    var expected = new List<int>();
                    for (int ci = 0; ci < channels; ci++)
                    {
                        for (int ky = 0; ky < 3; ky++)
                        {
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int iy = oy - pt + ky, ix = ox - pl + kx;
                                if (iy >= 0 && iy < h && ix >= 0 && ix < w && x[(((ci * h) + iy) * w) + ix] != 0)
                                {
                                    expected.Add((ci * 9) + (ky * 3) + kx);
                                }
                            }
                        }
                    }

                    int pixel = (oy * ow) + ox;
                    Assert.Equal(expected, lists.AsSpan(pixel * capacity, counts[pixel]).ToArray());
                }
            }
        }

        foreach (float notASpike in new[] { 0.5f, 2f, -1f, -0f, float.NaN })
        {
            var g = new ConvGeometry(3, 20, 3, 3, 1, 1, 1, 1, 1, 1, 3, 20);
            var x = new float[2 * 3 * 20];
            x[^(1 + (int)(notASpike is 2f ? 13 : 0))] = notASpike; // once in a vector, once in the scalar tail
            var masks = new ulong[SpikeWindows.MaskLength(2, g)];
            fixed (float* px = x)
            fixed (ulong* pm = masks)
            {
                Assert.False(SpikeWindows.Masks(px, 2, g, pm));
            }
        }
    }

    /// <summary>
    /// Every row width 0–64: bit i is set exactly where the value is +1; any other value than +0 and +1 is refused; nothing
    /// past the row is read (it is followed by values that are not spikes).
    /// </summary>
    [Fact]
    public unsafe void SpikeRows_EveryWidth0To64_BitsOfTheOnes()
    {
        var rng = new Random(14);
        for (int width = 0; width <= 64; width++)
        {
            var row = Values(rng, width, density: rng.NextDouble(), spikes: true).Concat(Enumerable.Repeat(0.5f, 8)).ToArray();
            ulong expected = 0;
            for (int i = 0; i < width; i++)
            {
                expected |= row[i] == 1f ? 1UL << i : 0;
            }

            fixed (float* p = row)
            {
                Assert.True(SpikeRows.TryBits(p, width, out ulong bits));
                Assert.Equal(expected, bits);
            }

            if (width > 0)
            {
                row[rng.Next(width)] = new[] { -0f, 0.5f, float.NaN, 1.0000001f }[rng.Next(4)];
                fixed (float* p = row)
                {
                    Assert.False(SpikeRows.TryBits(p, width, out _));
                }
            }
        }
    }

    /// <summary>
    /// The convolution written from its definition (im2col, then the blocked GEMM W[mg×kdim]·col[kdim×p]), with the
    /// transposed weights and K-block the spike-driven kernel takes.
    /// </summary>
    private static (float[] Expected, float[] WeightsT, int StrideK) ConvReference(float[] x, float[] weights, int cg, int mg, ConvGeometry g)
    {
        int kdim = cg * g.KernelH * g.KernelW;
        int p = g.OutH * g.OutW;
        var col = new float[kdim * p];
        for (int ci = 0; ci < cg; ci++)
        {
            for (int ky = 0; ky < g.KernelH; ky++)
            {
                for (int kx = 0; kx < g.KernelW; kx++)
                {
                    for (int oy = 0; oy < g.OutH; oy++)
                    {
                        for (int ox = 0; ox < g.OutW; ox++)
                        {
                            int iy = (oy * g.StrideH) - g.PadTop + (ky * g.DilationH), ix = (ox * g.StrideW) - g.PadLeft + (kx * g.DilationW);
                            bool inside = iy >= 0 && iy < g.InH && ix >= 0 && ix < g.InW;
                            col[(((((ci * g.KernelH) + ky) * g.KernelW) + kx) * p) + (oy * g.OutW) + ox] = inside ? x[(((ci * g.InH) + iy) * g.InW) + ix] : 0f;
                        }
                    }
                }
            }
        }

        int strideK = GemmKernel.OrtStrideK(p, kdim);
        var wt = new float[kdim * mg];
        GemmKernel.Transpose(weights, wt, mg, kdim);
        return (BlockedGemm(weights, col, mg, kdim, p, strideK), wt, strideK);
    }

    [Theory]
    [InlineData(8, 16, 14, 1)]
    [InlineData(24, 48, 28, 1)]
    [InlineData(6, 10, 9, 2)]
    public void Conv_SpikeInput_BitExactWithOrt(int c, int m, int size, int group)
    {
        var rng = new Random(c + m);
        var mb = new ModelBuilder().Input("x", 2, c, size, size);
        string w = mb.Floats(Values(rng, m * (c / group) * 9), m, c / group, 3, 3);
        string b = mb.Floats(Values(rng, m), m);
        mb.Output(mb.Node("Conv", ["x", w, b], n =>
        {
            Int(n, "group", group);
            Ints(n, "pads", 1, 1, 1, 1);
        }));
        var input = Values(rng, 2 * c * size * size, density: 0.08, spikes: true);
        var model = mb.Build();
        var expected = Oracle.Ort(model, input, [2, c, size, size]);
        var (actual, _) = Oracle.Sim(model, input, [2, c, size, size]);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void MaxPool_RandomPlanesWithSilentOnes_MatchesScalar()
    {
        var rng = new Random(5);
        for (int trial = 0; trial < 80; trial++)
        {
            // Widths past 16 take several vectors in the column pass; dilation spreads the taps. Spike maps up to 64
            // columns with their pads pool through row bit masks, wider ones through the float path.
            int ch = rng.Next(1, 5), h = rng.Next(1, 16), w = rng.Next(1, 71), k = rng.Next(1, 4), s = rng.Next(1, 4), dil = rng.Next(1, 3), pad = rng.Next(0, k);
            int extent = ((k - 1) * dil) + 1;
            int oh = ((h + (2 * pad) - extent) / s) + 1, ow = ((w + (2 * pad) - extent) / s) + 1;
            if (h + (2 * pad) < extent || w + (2 * pad) < extent)
            {
                continue;
            }

            var x = Values(rng, ch * h * w, density: trial % 2 == 0 ? 0.05 : 1, spikes: trial % 2 == 0);
            var mb = new ModelBuilder().Input("x", 1, ch, h, w);
            mb.Output(mb.Node("MaxPool", ["x"], n =>
            {
                Ints(n, "kernel_shape", k, k);
                Ints(n, "strides", s, s);
                Ints(n, "dilations", dil, dil);
                Ints(n, "pads", pad, pad, pad, pad);
            }));
            var (actual, _) = Oracle.Sim(mb.Build(), x, [1, ch, h, w]);
            for (int c = 0; c < ch; c++)
            {
                for (int oy = 0; oy < oh; oy++)
                {
                    for (int ox = 0; ox < ow; ox++)
                    {
                        float best = float.NegativeInfinity;
                        for (int ky = 0; ky < k; ky++)
                        {
                            for (int kx = 0; kx < k; kx++)
                            {
                                int iy = (oy * s) - pad + (ky * dil), ix = (ox * s) - pad + (kx * dil);
                                if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                {
                                    best = Math.Max(best, x[(((c * h) + iy) * w) + ix]);
                                }
                            }
                        }

                        Assert.Equal(best, actual[(((c * oh) + oy) * ow) + ox]);
                    }
                }
            }
        }
    }

    [Fact]
    public void Lif_EveryNeuronCount0To256_MatchesScalarEquations()
    {
        var rng = new Random(6);
        var layer = new LifLayer { Index = 0, Name = "lif", Tau = 2f, VThreshold = 1f, VReset = 0f, DecayInput = true, TimeSteps = 4, Input = "x", Output = "s" }
            with { Charge = new ChargeForm(true, 0f, false, 2f) };
        var node = new Node(LifRecognizer.OpType, "lif", "aq4svit", 1, ["x"], ["s"], new Dictionary<string, Import.Proto.AttributeProto>()) { Lif = layer };
        for (int neurons = 0; neurons <= 256; neurons++)
        {
            var x = Values(rng, 4 * neurons).Select(v => v * 3).ToArray();
            var spikes = Lif.Run(node, Tensor.FromFloats(x, [4, neurons]), new ExecContext(2)).ToFloatArray();
            for (int i = 0; i < neurons; i++)
            {
                float v = 0f; // DESIGN.md: v = v + (x − (v − v_reset)) / tau; s = v ≥ thr; hard reset to 0
                for (int t = 0; t < 4; t++)
                {
                    v += (x[(t * neurons) + i] - (v - 0f)) / 2f;
                    float s = v >= 1f ? 1f : 0f;
                    Assert.Equal(s, spikes[(t * neurons) + i]);
                    v = s == 1f ? 0f : v;
                }
            }
        }
    }

    [Fact]
    public void DriftSums_EveryLength0To256_MatchScalarDefinition()
    {
        var rng = new Random(7);
        for (int len = 0; len <= 256; len++)
        {
            var q = Values(rng, len);
            var r = Values(rng, len);
            var sums = MembraneDrift.Sums(q, r, 0.25f);
            double diff = 0, norm = 0;
            for (int i = 0; i < len; i++)
            {
                double d = q[i] - r[i];
                diff += d * d;
                norm += (double)r[i] * r[i];
            }

            Assert.Equal(diff, sums.Diff, 1e-12 * Math.Max(1, diff));
            Assert.Equal(norm, sums.Norm, 1e-12 * Math.Max(1, norm));
            Assert.Equal(len, sums.Spikes);
            Assert.Equal(Enumerable.Range(0, len).Count(i => (q[i] >= 0.25f ? 1f : 0f) != (r[i] >= 0.25f ? 1f : 0f)), sums.Mismatches);
        }
    }

    [Fact]
    public void TransposeBatchNormTranspose_FusedIntoOneNode_BitExactWithOrt()
    {
        var rng = new Random(8);
        var mb = new ModelBuilder().Input("x", 3, 7, 20);
        string t1 = mb.Node("Transpose", ["x"], n => Ints(n, "perm", 0, 2, 1));
        string scale = mb.Floats(Values(rng, 20).Select(v => v + 1.5f).ToArray(), 20);
        string bias = mb.Floats(Values(rng, 20), 20);
        string mean = mb.Floats(Values(rng, 20), 20);
        string variance = mb.Floats(Values(rng, 20).Select(v => v + 1.1f).ToArray(), 20);
        string bn = mb.Node("BatchNormalization", [t1, scale, bias, mean, variance]);
        mb.Output(mb.Node("Transpose", [bn], n => Ints(n, "perm", 0, 2, 1)));
        var model = mb.Build();
        var input = Values(rng, 3 * 7 * 20).Select(v => v * 4).ToArray();

        var graph = GraphLoader.Load(Import.OnnxModelFile.FromProto(model, "bn.onnx"));
        Assert.Equal([BatchNormLastFusion.OpType], graph.Nodes.Select(n => n.OpType));
        var (actual, shape) = Oracle.Sim(model, input, [3, 7, 20]);
        Assert.Equal([3, 7, 20], shape);
        Assert.Equal(Oracle.Ort(model, input, [3, 7, 20]), actual);
    }

    /// <summary>
    /// MatMul → Add(bias) [→ Transpose → BatchNormalization → Transpose] becomes one Linear node that finishes each row
    /// of the product: the same bits as ONNX Runtime, on spikes (the sparse kernel, row by row) and on dense inputs (the
    /// dense kernel, block by block), with the bias on either side of the Add.
    /// </summary>
    [Theory]
    [InlineData(true, false, true)]
    [InlineData(true, true, false)]
    [InlineData(false, false, true)]
    [InlineData(false, true, false)]
    public void MatMulBiasNorm_FusedIntoOneLinearNode_BitExactWithOrt(bool spikes, bool biasFirst, bool withNorm)
    {
        var rng = new Random(9);
        const int Batch = 3, Tokens = 7, K = 40, N = 52;
        var mb = new ModelBuilder().Input("x", Batch, Tokens, K);
        string product = mb.Node("MatMul", ["x", mb.Floats(Values(rng, K * N), K, N)]);
        string bias = mb.Floats(Values(rng, N), N);
        string output = mb.Node("Add", biasFirst ? [bias, product] : [product, bias]);
        if (withNorm)
        {
            string t1 = mb.Node("Transpose", [output], n => Ints(n, "perm", 0, 2, 1));
            string scale = mb.Floats(Values(rng, N).Select(v => v + 1.5f).ToArray(), N);
            string shift = mb.Floats(Values(rng, N), N);
            string mean = mb.Floats(Values(rng, N), N);
            string variance = mb.Floats(Values(rng, N).Select(v => v + 1.1f).ToArray(), N);
            string bn = mb.Node("BatchNormalization", [t1, scale, shift, mean, variance]);
            output = mb.Node("Transpose", [bn], n => Ints(n, "perm", 0, 2, 1));
        }

        mb.Output(output);
        var model = mb.Build();
        var input = Values(rng, Batch * Tokens * K, density: spikes ? 0.1 : 1, spikes);

        var graph = GraphLoader.Load(Import.OnnxModelFile.FromProto(model, "linear.onnx"));
        Assert.Equal([LinearFusion.OpType], graph.Nodes.Select(n => n.OpType));
        var (actual, shape) = Oracle.Sim(model, input, [Batch, Tokens, K]);
        Assert.Equal([Batch, Tokens, N], shape);
        Assert.Equal(Oracle.Ort(model, input, [Batch, Tokens, K]), actual);
    }

    /// <summary>
    /// No fusion where it would change what is computed: a product read twice, or a bias that is not one vector per column
    /// (here [1, N], which could broadcast the shape); the nodes stay as they are and still match ONNX Runtime.
    /// </summary>
    [Fact]
    public void LinearFusion_LeavesSharedProductsAndOtherBiasesAlone()
    {
        var rng = new Random(10);
        const int K = 24, N = 20;
        var mb = new ModelBuilder().Input("x", 2, 5, K);
        string shared = mb.Node("MatMul", ["x", mb.Floats(Values(rng, K * N), K, N)]);
        string biased = mb.Node("Add", [shared, mb.Floats(Values(rng, N), N)]);
        string first = mb.Node("Mul", [shared, biased]);
        string product = mb.Node("MatMul", ["x", mb.Floats(Values(rng, K * N), K, N)]);
        string second = mb.Node("Add", [product, mb.Floats(Values(rng, N), 1, N)]);
        mb.Output(mb.Node("Add", [first, second]));
        var model = mb.Build();
        var input = Values(rng, 2 * 5 * K, density: 0.2, spikes: true);

        var graph = GraphLoader.Load(Import.OnnxModelFile.FromProto(model, "shared.onnx"));
        Assert.DoesNotContain(LinearFusion.OpType, graph.Nodes.Select(n => n.OpType));
        Assert.Equal(Oracle.Ort(model, input, [2, 5, K]), Oracle.Sim(model, input, [2, 5, K]).Values);
    }
}
