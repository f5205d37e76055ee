using AQ4SViT.Onnx.Quantize;

namespace AQ4SViT.Onnx.Tests.Quantize;

public sealed class WeightQuantizerTests
{
    public static TheoryData<int, bool, bool> Configurations()
    {
        var data = new TheoryData<int, bool, bool>();
        foreach (int bits in new[] { 2, 3, 4, 5, 6, 7, 8, 16 })
        {
            foreach (bool perChannel in new[] { true, false })
            {
                foreach (bool symmetric in new[] { true, false })
                {
                    data.Add(bits, perChannel, symmetric);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Quantize_RandomTensors_ErrorAtMostHalfScaleAndValuesOnGrid(int bits, bool perChannel, bool symmetric)
    {
        var options = new QuantizationOptions(perChannel, symmetric);
        for (int seed = 0; seed < 20; seed++)
        {
            var rng = new Random((seed * 131) + bits);
            var (shape, axis) = RandomShape(rng);
            float[] w = RandomWeights(rng, shape, axis, zeroChannel: seed % 3 == 0);

            var q = WeightQuantizer.Quantize(w, shape, axis, bits, options);
            float[] deq = q.Dequantize();

            int qmin = WeightQuantizer.QMin(bits, symmetric), qmax = WeightQuantizer.QMax(bits, symmetric);
            var (_, channels, inner) = WeightQuantizer.Layout(shape, q.Axis);
            Assert.Equal(perChannel ? axis : -1, q.Axis);
            Assert.Equal(channels, q.Scales.Length);
            Assert.Equal(symmetric, q.ZeroPoints is null);
            Assert.All(q.Scales, s => Assert.True(float.IsNormal(s) && s > 0, $"scale {s}"));
            for (int i = 0; i < w.Length; i++)
            {
                int c = (int)(i / inner % channels);
                float scale = q.Scales[c];
                int zp = q.ZeroPoints?[c] ?? 0;
                Assert.InRange(q.Values[i], qmin, qmax);
                Assert.InRange(zp, qmin < 0 ? 0 : qmin, qmax);
                // On the grid, computed as DequantizeLinear does; the error is at most half a step.
                Assert.Equal((q.Values[i] - zp) * scale, deq[i]);
                double error = Math.Abs((double)w[i] - deq[i]);
                Assert.True(error <= (scale / 2.0 * (1 + 1e-6)) + 1e-30, $"bits {bits} seed {seed} element {i}: |{w[i]} − {deq[i]}| = {error} > scale/2 = {scale / 2.0}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void FakeQuantize_EqualsDequantizedQuantize_Bitwise(int bits, bool perChannel, bool symmetric)
    {
        var options = new QuantizationOptions(perChannel, symmetric);
        var rng = new Random(bits * 7);
        var (shape, axis) = RandomShape(rng);
        float[] w = RandomWeights(rng, shape, axis, zeroChannel: true);
        var fake = new float[w.Length];

        WeightQuantizer.FakeQuantize(w, shape, axis, bits, options, fake);

        Assert.Equal(WeightQuantizer.Quantize(w, shape, axis, bits, options).Dequantize(), fake);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void FakeQuantize_Symmetric_IsIdempotent(int bits)
    {
        var rng = new Random(3);
        long[] shape = [6, 10];
        float[] w = RandomWeights(rng, shape, 0, zeroChannel: false);
        var once = new float[w.Length];
        var twice = new float[w.Length];

        WeightQuantizer.FakeQuantize(w, shape, 0, bits, QuantizationOptions.Default, once);
        WeightQuantizer.FakeQuantize(once, shape, 0, bits, QuantizationOptions.Default, twice);

        Assert.Equal(once, twice);
    }

    [Fact]
    public void Quantize_FourBitSymmetricPerTensor_HandComputed()
    {
        // scale = 0.875 / 7 = 0.125 exactly; w/scale = -7, -3.5, 0, 2.5, 7, 1.5 → ties to even: -4, 2, 2.
        float[] w = [-0.875f, -0.4375f, 0f, 0.3125f, 0.875f, 0.1875f];

        var q = WeightQuantizer.Quantize(w, [6], 0, 4, new QuantizationOptions(PerChannel: false));

        Assert.Equal(-1, q.Axis);
        Assert.Equal(0.125f, q.Scales.Single());
        Assert.Equal(new[] { -7, -4, 0, 2, 7, 2 }, q.Values);
    }

    [Fact]
    public void Quantize_TwoBitSymmetric_IsTernary()
    {
        float[] w = [-0.9f, -0.2f, 0.1f, 0.6f, 1f, 0.4f];

        var q = WeightQuantizer.Quantize(w, [2, 3], 0, 2, QuantizationOptions.Default);

        Assert.Equal(new[] { 0.9f, 1f }, q.Scales);
        Assert.Equal(new[] { -1, 0, 0, 1, 1, 0 }, q.Values);
    }

    [Fact]
    public void Quantize_AsymmetricPerChannelAxis1_HandComputed()
    {
        // Shape [2,2], axis 1: channel 0 = {0, 2}, channel 1 = {-1, 3}. 2 bits: qmax 3.
        // ch0: lo 0, hi 2 → scale 2/3, zp 0; ch1: lo −1, hi 3 → scale 4/3, zp round(0.75) = 1.
        float[] w = [0f, -1f, 2f, 3f];

        var q = WeightQuantizer.Quantize(w, [2, 2], 1, 2, new QuantizationOptions(Symmetric: false));

        Assert.Equal(new[] { 2f / 3f, 4f / 3f }, q.Scales);
        Assert.Equal(new[] { 0, 1 }, q.ZeroPoints);
        Assert.Equal(new[] { 0, 0, 3, 3 }, q.Values);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Quantize_AllZeroChannel_ScaleOneAndExactZeros(bool symmetric)
    {
        float[] w = [0f, 0f, 0f, 0.5f, -0.25f, 1f];

        var q = WeightQuantizer.Quantize(w, [2, 3], 0, 4, new QuantizationOptions(true, symmetric));
        float[] deq = q.Dequantize();

        Assert.Equal(1f, q.Scales[0]);
        Assert.Equal(new[] { 0f, 0f, 0f }, deq[..3]);
        Assert.DoesNotContain(deq, float.IsNaN);
    }

    [Fact]
    public void Quantize_SubnormalChannel_NoNaN()
    {
        float[] w = [1e-44f, -1e-44f, 0.5f, 0.25f];

        var q = WeightQuantizer.Quantize(w, [2, 2], 0, 8, QuantizationOptions.Default);

        Assert.Equal(1f, q.Scales[0]);
        Assert.All(q.Dequantize(), v => Assert.True(float.IsFinite(v)));
    }

    private static (long[] Shape, int Axis) RandomShape(Random rng)
    {
        return rng.Next(3) switch
        {
            0 => ([rng.Next(1, 9), rng.Next(1, 5), 3, 3], 0),          // Conv W
            1 => ([rng.Next(1, 20), rng.Next(1, 20)], 1),               // MatMul B [K, N]
            _ => ([rng.Next(1, 20), rng.Next(1, 20)], 0),               // Gemm B with transB
        };
    }

    private static float[] RandomWeights(Random rng, long[] shape, int axis, bool zeroChannel)
    {
        var n = shape.Aggregate(1L, (a, b) => a * b);
        var w = new float[n];
        var (_, channels, inner) = WeightQuantizer.Layout(shape, axis);
        double spread = Math.Pow(10, rng.Next(-4, 2));
        for (int i = 0; i < n; i++)
        {
            int c = (int)(i / inner % channels);
            bool skew = rng.Next(4) == 0; // some all-positive channels (asymmetric ranges)
            w[i] = zeroChannel && c == 0 ? 0f : (float)(((rng.NextDouble() * 2) - (skew ? 0 : 1)) * spread * (1 + c));
        }

        return w;
    }
}
