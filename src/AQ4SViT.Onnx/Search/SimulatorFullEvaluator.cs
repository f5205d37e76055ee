using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// Full evaluations in our simulator: top-1 of a setting (its weights fake-quantized) over a split, batch by batch,
/// stopping early as <see cref="TopOneTally"/> says.
/// </summary>
internal sealed class SimulatorFullEvaluator(Simulator simulator, WeightTable weights, InputScaling scaling, int batch)
{
    private long _images;

    /// <summary>Images run so far (early stops make it less than evaluations × split size).</summary>
    public long Images => Interlocked.Read(ref _images);

    /// <summary>Top-1 of <paramref name="setting"/> on <paramref name="set"/>; with <paramref name="couldStillPass"/> it stops early, without it sees every image.</summary>
    public SplitScore Score(ImageSet set, BitVector setting, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation)
    {
        var overrides = weights.Overrides(setting.Bits);
        var tally = new TopOneTally(set, couldStillPass);
        var logits = new float[batch * simulator.Classes];
        for (int start = 0; start < set.Count && !tally.Hopeless; start += batch)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Math.Min(batch, set.Count - start);
            simulator.Run(SimulatorInput.Fill(simulator, scaling, set, start, count), count, logits, overrides);
            Interlocked.Add(ref _images, count);
            tally.Add(start, count, logits.AsSpan(0, count * simulator.Classes));
        }

        return tally.Result;
    }
}

/// <summary>The simulator's input for images of a set.</summary>
internal static class SimulatorInput
{
    /// <summary>Images <paramref name="start"/>… (<paramref name="count"/> of them) of <paramref name="set"/>, scaled into the simulator's input layout.</summary>
    public static float[] Fill(Simulator simulator, InputScaling scaling, ImageSet set, int start, int count)
    {
        int[] dims = simulator.ImageDims;
        var input = new float[count * simulator.ImageSize];
        scaling.FillSamples(set, start, count, dims, input);
        return input;
    }
}
