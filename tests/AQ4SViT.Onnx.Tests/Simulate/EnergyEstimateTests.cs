using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Simulate;
using static AQ4SViT.Onnx.Tests.Simulate.ModelBuilder;

namespace AQ4SViT.Onnx.Tests.Simulate;

/// <summary>Issue 21, point 6: the energy estimate's arithmetic on a model small enough to count by hand.</summary>
public sealed class EnergyEstimateTests
{
    /// <summary>
    /// image x (1, 2) → repeated over T = 4 → MatMul W1 (2×2, fed by the image) → LIF (tau 2, thr 1, hard reset) →
    /// MatMul W2 (2×2, fed by spikes) → mean over T → MatMul W3 (2×1, fed by real values, once) → (1, 1).
    /// </summary>
    private static (Simulator Simulator, string[] Weights) Model()
    {
        const int T = 4;
        var mb = new ModelBuilder().Input("x", 1, 2).OutputWithDims("y", 1, 1);
        string w1 = mb.Floats([2f, 0f, 0f, 0.5f], 2, 2);
        string w2 = mb.Floats([1f, 2f, 3f, 4f], 2, 2);
        string w3 = mb.Floats([1f, -1f], 2, 1);
        string repeated = mb.Node("Expand", [mb.Node("Unsqueeze", ["x", mb.Longs([0], 1)]), mb.Longs([T, 1, 2], 3)], name: "/repeat");
        string h = mb.Node("MatMul", [repeated, w1], name: "/fc1/MatMul");
        string vp = mb.Floats([0f, 0f], 2);
        var steps = new List<string>();
        for (int t = 0; t < T; t++)
        {
            string xt = mb.Node("Gather", [h, mb.Longs([t], [])], n => Int(n, "axis", 0), name: $"/lif/Gather_{t}");
            string charged = mb.Node("Add", [vp, mb.Node("Div", [mb.Node("Sub", [xt, vp], name: $"/lif/Sub_{t}"), mb.Scalar(2f)], name: $"/lif/Div_{t}")], name: $"/lif/Add_{t}");
            string fire = mb.Node("GreaterOrEqual", [mb.Node("Sub", [charged, mb.Scalar(1f)], name: $"/lif/SubThr_{t}"), mb.Scalar(0f)], name: $"/lif/Ge_{t}");
            string s = mb.Node("Cast", [fire], n => Int(n, "to", 1), name: $"/lif/Cast_{t}");
            steps.Add(mb.Node("Unsqueeze", [s, mb.Longs([0], 1)], name: $"/lif/Unsqueeze_{t}"));
            vp = mb.Node("Add", [mb.Node("Mul", [mb.Node("Sub", [mb.Scalar(1f), s]), charged]), mb.Node("Mul", [s, mb.Scalar(0f)])], name: $"/lif/Reset_{t}");
        }

        string spikes = mb.Node("Concat", [.. steps], n => Int(n, "axis", 0), name: "/lif/Concat");
        string z = mb.Node("MatMul", [spikes, w2], name: "/fc2/MatMul");
        string mean = mb.Node("ReduceMean", [z], n => { Ints(n, "axes", 0); Int(n, "keepdims", 0); }, name: "/mean");
        mb.Node("MatMul", [mean, w3], name: "/head/MatMul", output: "y");
        var simulator = new Simulator(GraphLoader.Load(OnnxModelFile.FromProto(mb.Build(), "energy.onnx")), threads: 1);
        return (simulator, [w1, w2, w3]);
    }

    [Fact]
    public void Energy_HandBuiltModel_MatchesHandCountedMacsSopsAndPicojoules()
    {
        var (simulator, weights) = Model();
        Assert.Equal("/lif", Assert.Single(simulator.LifLayers).Name);
        var counter = new OperationCounter(simulator.Graph, weights);

        // x = (1, 1): fc1 gives (2, 0.5) at every step; neuron 0 reaches 1 and fires at every step, neuron 1 climbs
        // 0.25, 0.375, 0.4375, 0.46875 and never fires: rate 4 spikes / (2 neurons × 4 steps) = 0.5.
        simulator.Run([1f, 1f], 1, observer: counter);
        var rates = counter.Rates.Rates().ToDictionary(r => r.Layer, r => r.Rate);
        Assert.Equal(0.5, rates["/lif"], 12);
        var energy = EnergyEstimate.From(counter, rates, new Dictionary<string, double> { ["/lif"] = 0.25 });

        Assert.Equal(4, energy.TimeSteps);
        Assert.Equal(1, energy.Images);
        Assert.Collection(
            energy.Layers,
            fc1 =>
            {
                // Fed by the image: 2 × 2 MACs per pass, 4 passes (output (T, B, 2)); the SNN counts it once.
                Assert.Equal((weights[0], LayerInput.Image, 4.0, 4), (fc1.Weight, fc1.Input, fc1.Macs, fc1.Passes));
                Assert.Equal(4.0, fc1.SnnMacs);
            },
            fc2 =>
            {
                // Fed by /lif's spikes: SOPs = rate × MACs × T = 0.5 × 4 × 4 = 8 (0.25 × 16 = 4 quantized).
                Assert.Equal((weights[1], LayerInput.Spikes, 4.0, 4), (fc2.Weight, fc2.Input, fc2.Macs, fc2.Passes));
                Assert.Equal(["/lif"], fc2.SpikeSources);
                Assert.Equal(8.0, fc2.Sops(quantized: false), 12);
                Assert.Equal(4.0, fc2.Sops(quantized: true), 12);
                Assert.Equal(0.0, fc2.SnnMacs);
            },
            head =>
            {
                // Fed by the mean over T (real values), run once: 2 × 1 MACs.
                Assert.Equal((weights[2], LayerInput.Real, 2.0, 1), (head.Weight, head.Input, head.Macs, head.Passes));
                Assert.Equal(2.0, head.SnnMacs);
            });

        // ANN: (4 + 4 + 2) MACs × 4.6 pJ = 46 pJ. SNN: 8 SOPs × 0.9 + (4 + 2) MACs × 4.6 = 7.2 + 27.6 = 34.8 pJ;
        // quantized: 4 × 0.9 + 27.6 = 31.2 pJ.
        Assert.Equal(10.0, energy.AnnMacs, 12);
        Assert.Equal(8.0, energy.SopsFloat, 12);
        Assert.Equal(4.0, energy.SopsQuantized, 12);
        Assert.Equal(6.0, energy.SnnMacs, 12);
        Assert.Equal(46e-6, energy.AnnMicrojoules, 15);
        Assert.Equal(34.8e-6, energy.SnnFloatMicrojoules, 15);
        Assert.Equal(31.2e-6, energy.SnnQuantizedMicrojoules, 15);
    }
}
