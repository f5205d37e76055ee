using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>Proxies that start from a kept prefix give exactly what a whole run gives.</summary>
public sealed class PrefixReuseTests
{
    private static SimulatorBackend Backend(string model, bool reuse)
    {
        var file = OnnxModelFile.Load(RepoPaths.Model(model));
        var weights = new WeightTable(file, WeightCatalog.Find(file), new QuantizationOptions());
        var calibration = DataSplits.Select(SharedData.FashionMnist, DataSplit.Search, 12);
        return new SimulatorBackend(Simulator.Load(RepoPaths.Model(model), 2), weights, calibration, calibration, InputScaling.PixelOver255, reusePrefixes: reuse);
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

    /// <summary>
    /// The drift compared inside the LIF kernel against the definition (<see cref="MembraneDrift"/>'s doc) computed here in
    /// double from whole recorded membranes of the float model and the candidate.
    /// </summary>
    [Theory]
    [InlineData("tests/spikformer-d64")]
    [InlineData("tests/sdt-d64-dynamo")]
    public void Proxy_MatchesDefinitionOnRecordedMembranes(string model)
    {
        var backend = Backend(model, reuse: false);
        var simulator = Simulator.Load(RepoPaths.Model(model), 2);
        var file = OnnxModelFile.Load(RepoPaths.Model(model));
        var weights = new WeightTable(file, WeightCatalog.Find(file), new QuantizationOptions());
        var calibration = DataSplits.Select(SharedData.FashionMnist, DataSplit.Search, 12);
        var input = new float[calibration.Count * simulator.ImageSize];
        InputScaling.PixelOver255.Fill(calibration, 0, calibration.Count, simulator.ImageDims[0], input);
        var n = backend.WeightNames.Count;
        var candidate = BitVector.AllFloat(n).With(Enumerable.Range(0, n).ToArray(), 3);

        var reference = new Recorder();
        float[] referenceLogits = simulator.Run(input, calibration.Count, null, reference);
        var quantized = new Recorder();
        float[] quantizedLogits = simulator.Run(input, calibration.Count, weights.Overrides(candidate.Bits), quantized);

        double sum = 0;
        long spikes = 0, differ = 0;
        foreach (var (layer, steps) in reference.Layers)
        {
            double diff = 0, norm = 0;
            foreach (var (key, r) in steps)
            {
                var q = quantized.Layers[layer][key];
                for (int i = 0; i < r.Count; i++)
                {
                    diff += ((double)q[i] - r[i]) * ((double)q[i] - r[i]);
                    norm += (double)r[i] * r[i];
                    differ += (q[i] >= reference.Thresholds[layer]) != (r[i] >= reference.Thresholds[layer]) ? 1 : 0;
                }

                spikes += r.Count;
            }

            sum += diff / (norm + MembraneDrift.Epsilon);
        }

        // The logits are the last term.
        double logitDiff = 0, logitNorm = 0;
        for (int i = 0; i < referenceLogits.Length; i++)
        {
            logitDiff += ((double)quantizedLogits[i] - referenceLogits[i]) * ((double)quantizedLogits[i] - referenceLogits[i]);
            logitNorm += (double)referenceLogits[i] * referenceLogits[i];
        }

        sum += logitDiff / (logitNorm + MembraneDrift.Epsilon);
        var proxy = backend.Proxy(candidate, CancellationToken.None);
        Assert.True(proxy.Drift > 0);
        Assert.Equal(sum / (reference.Layers.Count + 1), proxy.Drift, 1e-5 * proxy.Drift);
        Assert.Equal((double)differ / spikes, proxy.SpikeMismatch, 12);
    }

    /// <summary>Keeps every observed V[l][t] per (step, first image).</summary>
    private sealed class Recorder : Onnx.Simulate.IMembraneObserver
    {
        public Dictionary<int, Dictionary<(int T, int BatchStart), List<float>>> Layers { get; } = [];

        public Dictionary<int, float> Thresholds { get; } = [];

        public bool Observes(Onnx.Graph.LifLayer layer) => true;

        public void OnStep(Onnx.Graph.LifLayer layer, int t, int batchStart, ReadOnlySpan<int> shape, ReadOnlySpan<float> membrane, ReadOnlySpan<float> spikes)
        {
            lock (Layers)
            {
                if (!Layers.TryGetValue(layer.Index, out var steps))
                {
                    Layers[layer.Index] = steps = [];
                }

                steps[(t, batchStart)] = [.. membrane];
                Thresholds[layer.Index] = layer.VThreshold;
            }
        }
    }
}
