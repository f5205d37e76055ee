using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Validate;

/// <summary>Our simulator as an <see cref="IClassifier"/> (<c>eval --engine sim</c>); optional weight overrides.</summary>
public sealed class SimClassifier(Simulator simulator, InputScaling scaling, IReadOnlyDictionary<string, float[]>? weightOverrides = null) : IClassifier
{
    public SimClassifier(string modelPath, InputScaling scaling, int threads = 0)
        : this(Simulator.Load(modelPath, threads), scaling)
    {
    }

    public Simulator Simulator { get; } = simulator;

    public string Engine => "sim";

    /// <summary>Sees every LIF layer's membrane and spikes during <see cref="Logits"/> (e.g. <see cref="FiringRates"/>).</summary>
    public IMembraneObserver? Observer { get; init; }

    public int Classes => Simulator.Classes;

    public void Logits(ImageSet set, int start, int count, Span<float> logits)
    {
        int[] dims = Simulator.ImageDims;
        scaling.CheckFits(set, Simulator.Graph.InputName, dims);
        set.CheckLabels(Classes, "the model");

        var input = new float[count * Simulator.ImageSize];
        scaling.FillSamples(set, start, count, dims, input);
        Simulator.Run(input, count, logits, weightOverrides, Observer);
    }

    public void Dispose()
    {
    }
}
