using AQ4SViT.Onnx.Core;


namespace AQ4SViT.Onnx.Graph;

/// <summary>
/// Which axis of a model's input is the batch and which, if any, is time. A rank-4 input <c>[B, C, H, W]</c> takes
/// images (a spiking model repeats them over T inside: direct encoding). A rank-5 input takes event frames, the time
/// steps being data: <c>[T, B, C, H, W]</c> (SpikingJelly's multi-step layout) or <c>[B, T, C, H, W]</c>. Of its first two
/// axes the symbolic one (a dynamic batch, -1) is the batch and the other, fixed, is T; when both are fixed, the one
/// equal to the model's T (its LIF layers' time steps) is time, and when neither or both are, the input is taken as a plain
/// tensor with the batch first and no time axis (export a DVS model with a dynamic batch). A symbolic T is refused.
/// </summary>
public sealed record InputAxes(int Batch, int? Time)
{
    public static InputAxes Images { get; } = new(0, null);

    /// <summary>The input takes frames (time is an input axis), not an image repeated over T.</summary>
    public bool IsFrames => Time is not null;

    /// <summary><c>NCHW</c>, <c>TBCHW</c> or <c>BTCHW</c>.</summary>
    public string Layout => Time switch
    {
        null => "NCHW",
        0 => "TBCHW",
        _ => "BTCHW",
    };

    /// <summary>
    /// The axes of an input of <paramref name="dims"/> (-1 where symbolic) named <paramref name="inputName"/> of
    /// <paramref name="model"/>; <paramref name="timeSteps"/> (the LIF layers' T, or the frames' T; 0 when unknown) breaks
    /// the tie when both leading axes of a rank-5 input are fixed. A symbolic T or a symbolic C/H/W is one line naming the input.
    /// </summary>
    public static InputAxes Of(IReadOnlyList<int> dims, int timeSteps, string inputName, string model)
    {
        if (dims.Count != 5)
        {
            return Images;
        }

        string shape = $"[{string.Join(",", dims)}]";
        if (dims.Skip(2).Any(d => d <= 0))
        {
            return Throw.BadTensor<InputAxes>(inputName, $"{model}: input dims {shape} must be fixed except the batch");
        }

        return (dims[0] > 0, dims[1] > 0) switch
        {
            (false, false) => Throw.BadTensor<InputAxes>(inputName, $"{model}: input dims {shape} have a symbolic time axis; only a fixed T is supported (export with T fixed and the batch dynamic)"),
            (false, true) => new InputAxes(0, 1),
            (true, false) => new InputAxes(1, 0),
            _ when timeSteps > 0 && dims[0] == timeSteps && dims[1] != timeSteps => new InputAxes(1, 0),
            _ when timeSteps > 0 && dims[1] == timeSteps && dims[0] != timeSteps => new InputAxes(0, 1),

            // All fixed and no T tells the axes apart: a plain tensor input, batch first, as for any other rank.
            _ => Images,
        };
    }

    /// <summary>The input's dims without the batch, time first: <c>[C, H, W]</c> or <c>[T, C, H, W]</c>, one sample's layout.</summary>
    public int[] SampleDims(IReadOnlyList<int> dims) => Time switch
    {
        null => [.. dims.Skip(1)],
        0 => [dims[0], .. dims.Skip(2)],
        _ => [.. dims.Skip(1)],
    };

    /// <summary>The input's dims with the batch set to <paramref name="batch"/>.</summary>
    public int[] WithBatch(IReadOnlyList<int> dims, int batch)
    {
        int[] result = [.. dims];
        result[Batch] = batch;
        return result;
    }

    /// <summary>
    /// Samples one after the other (<paramref name="batch"/> of <c>perStep</c>·T floats each, time first) laid
    /// out as the input takes them: unchanged for <c>[B, T, …]</c> and images, transposed to <c>[T, B, …]</c> when time leads.
    /// </summary>
    public void ToInputLayout(ReadOnlySpan<float> samples, int batch, int timeSteps, Span<float> destination)
    {
        if (Time != 0)
        {
            samples.CopyTo(destination);
            return;
        }

        int perStep = samples.Length / (batch * timeSteps);
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < timeSteps; t++)
            {
                samples.Slice(((b * timeSteps) + t) * perStep, perStep).CopyTo(destination.Slice(((t * batch) + b) * perStep, perStep));
            }
        }
    }
}
