using System.Globalization;
using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Data;

/// <summary>
/// How a byte pixel of channel c becomes the model's float input, as torchvision's <c>ToTensor</c> then
/// <c>Normalize(mean, std)</c> compute it in float32: <c>x = pixel · Scale</c> (for 1/255 the correctly rounded
/// quotient pixel/255), then <c>(x − Mean[c]) / Std[c]</c>, each step rounded to float32. One mean/std applies to every
/// channel. The default, and what the bundled cards say ("pixel/255"), is Scale = 1/255, Mean = 0, Std = 1.
/// Event frames are data, not pixels: their values are fed as float as they are, times <see cref="FrameScale"/> (1 unless
/// <c>--scale</c> is given or the card says a number), then <c>(x − Mean[c]) / Std[c]</c> in float32.
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

    /// <summary>What event-frame values are multiplied by: 1 (none) unless a scale was given explicitly.</summary>
    public float FrameScale { get; init; } = 1f;

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
        "none" => new InputScaling(1f, 0f, 1f),
        _ => Throw.BadInput<InputScaling>($"model card: unknown input scaling '{scaling}' (expected 'pixel/255' or 'none')"),
    };

    /// <summary>This scaling with some parts replaced (null: keep), as options and card fields override it.</summary>
    public InputScaling With(float? scale = null, float[]? mean = null, float[]? std = null, bool? greyToRgb = null) =>
        new(scale ?? Scale, mean ?? [.. Mean], std ?? [.. Std], greyToRgb ?? GreyToRgb) { FrameScale = scale ?? FrameScale };

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
        if (set.IsFrames || dims.Length == 4)
        {
            CheckFramesFit(set, inputName, dims);
            return;
        }

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
    /// A frame set fits a model input whose sample dims are <paramref name="dims"/> = [T, C, H, W]: same T, channels and
    /// size; mean/std per channel or one. An image set does not fit a frame input, nor frames an image input.
    /// </summary>
    private void CheckFramesFit(ImageSet set, string inputName, ReadOnlySpan<int> dims)
    {
        string takes = $"[{string.Join(",", dims.ToArray())}]";
        if (!set.IsFrames)
        {
            Throw.BadInput($"{set.Source}: holds {set.SampleText} but the model's input '{inputName}' takes frames {takes} (T, C, H, W per sample); pass event frames");
        }

        if (dims.Length != 4)
        {
            Throw.BadInput($"{set.Source}: holds {set.SampleText} but the model's input '{inputName}' takes images {takes}, not frames");
        }

        if (set.TimeSteps != dims[0] || set.Channels != dims[1] || set.Rows != dims[2] || set.Cols != dims[3])
        {
            Throw.BadInput($"{set.Source}: holds {set.SampleText} (T, C, H, W) but the model's input '{inputName}' takes {takes} per sample");
        }

        if ((Mean.Count != 1 && Mean.Count != dims[1]) || (Std.Count != 1 && Std.Count != dims[1]))
        {
            Throw.BadInput($"--mean/--std: {Mean.Count} and {Std.Count} values for the {dims[1]} channels of the model's input '{inputName}' (give one, or one per channel)");
        }
    }

    /// <summary>
    /// Writes samples [start, start+count) of <paramref name="set"/> one after the other in the layout of
    /// <paramref name="sampleDims"/> ([C, H, W] images, <see cref="Fill"/>; [T, C, H, W] frames, <see cref="FillFrames"/>).
    /// </summary>
    public void FillSamples(ImageSet set, int start, int count, ReadOnlySpan<int> sampleDims, Span<float> destination)
    {
        if (set.IsFrames)
        {
            FillFrames(set, start, count, destination);
        }
        else
        {
            Fill(set, start, count, sampleDims[0], destination);
        }
    }

    /// <summary>
    /// Writes frame samples [start, start+count) as T·C·H·W floats each: <c>(v · FrameScale − Mean[c]) / Std[c]</c> in float32
    /// (with no scale, mean or std given: the values as they are).
    /// </summary>
    public void FillFrames(ImageSet set, int start, int count, Span<float> destination)
    {
        int per = set.ValuesPerSample;
        int plane = set.Plane;
        if (destination.Length < count * per)
        {
            throw new ArgumentException("destination too small", nameof(destination));
        }

        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<float> sample = set.Frames(start + i);
            for (int f = 0; f < set.TimeSteps * set.Channels; f++)
            {
                int c = f % set.Channels;
                float mean = Mean[Mean.Count == 1 ? 0 : c];
                float std = Std[Std.Count == 1 ? 0 : c];
                ReadOnlySpan<float> src = sample.Slice(f * plane, plane);
                Span<float> dst = destination.Slice((i * per) + (f * plane), plane);
                for (int p = 0; p < plane; p++)
                {
                    dst[p] = ((src[p] * FrameScale) - mean) / std;
                }
            }
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
