using AQ4SViT.Onnx.Errors;

namespace AQ4SViT.Onnx.Data;

/// <summary>
/// How a byte pixel becomes the model's float input: <c>(pixel · Scale − Mean) / Std</c>.
/// The default, and what the bundled cards say ("pixel/255"), is Scale = 1/255, Mean = 0, Std = 1.
/// </summary>
public readonly record struct InputScaling(float Scale, float Mean, float Std)
{
    public static InputScaling PixelOver255 { get; } = new(1f / 255f, 0f, 1f);

    /// <summary>Parses a card's <c>scaling</c> text; only the forms we write are accepted.</summary>
    public static InputScaling FromCard(string? scaling) => scaling switch
    {
        null or "" or "pixel/255" => PixelOver255,
        _ => Throw.BadInput<InputScaling>($"model card: unknown input scaling '{scaling}' (expected 'pixel/255')"),
    };

    /// <summary>Writes images [start, start+count) of <paramref name="set"/> as NCHW floats, repeating the plane over <paramref name="channels"/>.</summary>
    public void Fill(ImageSet set, int start, int count, int channels, Span<float> destination)
    {
        int plane = set.PixelsPerImage;
        if (destination.Length < count * channels * plane)
        {
            throw new ArgumentException("destination too small", nameof(destination));
        }

        // One table per call: each byte value computed in double and rounded once, so "pixel/255" gives exactly
        // the correctly rounded float32 quotient that PyTorch's (x / 255.0) feeds the exported model.
        Span<float> table = stackalloc float[256];
        bool over255 = Scale == PixelOver255.Scale;
        for (int v = 0; v < 256; v++)
        {
            double scaled = over255 ? v / 255.0 : v * (double)Scale;
            table[v] = (float)((scaled - Mean) / Std);
        }

        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> image = set.Image(start + i);
            for (int c = 0; c < channels; c++)
            {
                Span<float> dst = destination.Slice(((i * channels) + c) * plane, plane);
                for (int p = 0; p < plane; p++)
                {
                    dst[p] = table[image[p]];
                }
            }
        }
    }
}
