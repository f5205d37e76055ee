using System.Globalization;
using AQ4SViT.Onnx.Errors;

namespace AQ4SViT.Onnx.Data;

/// <summary>
/// How a byte pixel of channel c becomes the model's float input, as torchvision's <c>ToTensor</c> then
/// <c>Normalize(mean, std)</c> compute it in float32: <c>x = pixel · Scale</c> (for 1/255 the correctly rounded
/// quotient pixel/255), then <c>(x − Mean[c]) / Std[c]</c>, each step rounded to float32. One mean/std applies to every
/// channel. The default, and what the bundled cards say ("pixel/255"), is Scale = 1/255, Mean = 0, Std = 1.
/// </summary>
public sealed record InputScaling
{
    public InputScaling(float scale, float mean, float std)
        : this(scale, [mean], [std])
    {
    }

    public InputScaling(float scale, float[] mean, float[] std, bool greyToRgb = false)
    {
        if (mean.Length == 0 || std.Length == 0)
        {
            Throw.BadInput("--mean/--std need at least one number");
        }

        if (!float.IsFinite(scale) || mean.Any(m => !float.IsFinite(m)) || std.Any(s => s == 0 || !float.IsFinite(s)))
        {
            Throw.BadInput($"--scale/--mean/--std must be finite and --std non-zero (got {scale}, {Join(mean)}, {Join(std)})");
        }

        Scale = scale;
        Mean = mean;
        Std = std;
        GreyToRgb = greyToRgb;
    }

    public static InputScaling PixelOver255 { get; } = new(1f / 255f, 0f, 1f);

    public float Scale { get; }

    /// <summary>One value for every channel, or one per channel.</summary>
    public IReadOnlyList<float> Mean { get; }

    /// <summary>One value for every channel, or one per channel.</summary>
    public IReadOnlyList<float> Std { get; }

    /// <summary>A grey (1-channel) set may feed a 3-channel model, its plane repeated (<c>--grey-to-rgb</c>).</summary>
    public bool GreyToRgb { get; }

    /// <summary>Parses a card's <c>scaling</c> text; only the forms we write are accepted.</summary>
    public static InputScaling FromCard(string? scaling) => scaling switch
    {
        null or "" or "pixel/255" => PixelOver255,
        _ => Throw.BadInput<InputScaling>($"model card: unknown input scaling '{scaling}' (expected 'pixel/255')"),
    };

    /// <summary>This scaling with some parts replaced (null: keep), as options and card fields override it.</summary>
    public InputScaling With(float? scale = null, float[]? mean = null, float[]? std = null, bool? greyToRgb = null) =>
        new(scale ?? Scale, mean ?? [.. Mean], std ?? [.. Std], greyToRgb ?? GreyToRgb);

    /// <summary>"0.485,0.456,0.406" or "0.5" as floats (invariant culture); <paramref name="option"/> names it in errors.</summary>
    public static float[] ParseList(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
            {
                Throw.BadInput($"{option} takes one number or one per channel, comma-separated; got '{text}'");
            }
        }

        return values;
    }

    /// <summary>
    /// The set fits a model input of <paramref name="dims"/> = [C, H, W] named <paramref name="inputName"/>: same size,
    /// same channels (or grey into 3 with <see cref="GreyToRgb"/>), mean/std per channel or one; else one line naming both.
    /// </summary>
    public void CheckFits(ImageSet set, string inputName, ReadOnlySpan<int> dims)
    {
        if (dims.Length != 3 || set.Rows != dims[1] || set.Cols != dims[2])
        {
            Throw.BadInput($"{set.Source}: images are {set.Rows}x{set.Cols} but the model's input '{inputName}' takes [{string.Join(",", dims.ToArray())}]");
        }

        int channels = dims[0];
        if (set.Channels != channels && !(set.Channels == 1 && channels == 3 && GreyToRgb))
        {
            string hint = (set.Channels, channels) switch
            {
                (1, 3) => " (pass --grey-to-rgb to repeat the grey plane)",
                (3, 1) => " (pass --rgb-to-grey to convert)",
                _ => "",
            };
            Throw.BadInput($"{set.Source}: images have {set.Channels} channel{(set.Channels == 1 ? "" : "s")} but the model's input '{inputName}' takes {channels}{hint}");
        }

        if ((Mean.Count != 1 && Mean.Count != channels) || (Std.Count != 1 && Std.Count != channels))
        {
            Throw.BadInput($"--mean/--std: {Mean.Count} and {Std.Count} values for the {channels} channels of the model's input '{inputName}' (give one, or one per channel)");
        }
    }

    /// <summary>
    /// Writes images [start, start+count) of <paramref name="set"/> as NCHW floats with <paramref name="channels"/>
    /// channels; a grey set's plane is repeated over the channels.
    /// </summary>
    public void Fill(ImageSet set, int start, int count, int channels, Span<float> destination)
    {
        int plane = set.Plane;
        if (destination.Length < count * channels * plane)
        {
            throw new ArgumentException("destination too small", nameof(destination));
        }

        if (set.Channels != channels && set.Channels != 1)
        {
            throw new ArgumentException($"{set.Source}: {set.Channels} channels cannot fill {channels}", nameof(channels));
        }

        // One table per channel and call: 256 values each computed as torchvision does in float32, so "pixel/255"
        // gives exactly the correctly rounded quotient that PyTorch's (x / 255.0) feeds the exported model.
        Span<float> tables = stackalloc float[256 * channels];
        bool over255 = Scale == PixelOver255.Scale;
        for (int c = 0; c < channels; c++)
        {
            float mean = Mean[Mean.Count == 1 ? 0 : c];
            float std = Std[Std.Count == 1 ? 0 : c];
            for (int v = 0; v < 256; v++)
            {
                float x = over255 ? (float)(v / 255.0) : v * Scale;
                tables[(c * 256) + v] = (x - mean) / std;
            }
        }

        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> image = set.Image(start + i);
            for (int c = 0; c < channels; c++)
            {
                ReadOnlySpan<byte> src = set.Channels == 1 ? image : image.Slice(c * plane, plane);
                ReadOnlySpan<float> table = tables.Slice(c * 256, 256);
                Span<float> dst = destination.Slice(((i * channels) + c) * plane, plane);
                for (int p = 0; p < plane; p++)
                {
                    dst[p] = table[src[p]];
                }
            }
        }

    }

    private static string Join(IEnumerable<float> values) => string.Join(",", values.Select(v => v.ToString(CultureInfo.InvariantCulture)));
}
