using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>Proxies that start from a kept prefix give exactly what a whole run gives.</summary>
public sealed class PrefixReuseTests
{
    private static readonly Lazy<ImageSet> s_fashion = new(() => IdxReader.LoadEvaluationSet(RepoPaths.FashionMnist));

    private static SimulatorBackend Backend(string model, bool reuse)
    {
        var file = OnnxModelFile.Load(RepoPaths.Model(model));
        var weights = new FakeQuantWeights(file, WeightCatalog.Find(file), new QuantizationOptions());
        var calibration = DataSplits.Select(s_fashion.Value, DataSplit.Search, 12);
        return new SimulatorBackend(Simulator.Load(RepoPaths.Model(model), 2), weights, calibration, calibration, calibration, InputScaling.PixelOver255, reusePrefixes: reuse);
    }

    [Theory]
    [InlineData("tests/spikformer-d64")]
    [InlineData("tests/sdt-d64-dynamo")] // fixed batch of 1: prefixes kept per chunk
    public void Proxy_FromKeptPrefix_EqualsWholeRun(string model)
    {
        var reusing = Backend(model, reuse: true);
        var whole = Backend(model, reuse: false);
        var groups = reusing.Groups(Granularity.Block);
        var parent = BitVector.AllFloat(reusing.WeightNames.Count);
        foreach (var g in groups)
        {
            parent = parent.With(g.Weights, 4);
        }

        // Moves from the float model (its prefix is kept from the start), then from a hinted 4-bit parent.
        var settings = new List<BitVector>();
        foreach (var g in groups)
        {
            settings.Add(BitVector.AllFloat(reusing.WeightNames.Count).With(g.Weights, 3));
        }

        settings.Add(BitVector.AllFloat(reusing.WeightNames.Count));
        foreach (var g in groups.Reverse())
        {
            settings.Add(parent.With(g.Weights, 2));
        }

        settings.Add(parent);
        int reusedBefore = 0;
        for (int i = 0; i < settings.Count; i++)
        {
            if (i == groups.Count + 1)
            {
                reusing.HintParent(parent);
                reusedBefore = reusing.PrefixReuses;
            }

            var expected = whole.Proxy(settings[i], CancellationToken.None);
            var actual = reusing.Proxy(settings[i], CancellationToken.None);
            Assert.Equal(expected.Drift, actual.Drift);
            Assert.Equal(expected.SpikeMismatch, actual.SpikeMismatch);
        }

        // Every move except the one on the first group starts after the input; so does the parent itself.
        Assert.True(reusedBefore >= groups.Count - 1, $"{reusedBefore} reuses from the float prefix");
        Assert.True(reusing.PrefixReuses - reusedBefore >= groups.Count, $"{reusing.PrefixReuses - reusedBefore} reuses from the parent");
        Assert.Equal(0, whole.PrefixReuses);
        Assert.True(reusing.KeptFloats > 0);
    }
}
