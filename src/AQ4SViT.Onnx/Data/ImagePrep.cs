using AQ4SViT.Onnx.Core;


namespace AQ4SViT.Onnx.Data;

/// <summary>
/// What happens to each image between its file and the set: with <paramref name="RgbToGrey"/> an RGB image becomes
/// grey first (torchvision's <c>Grayscale()</c>, i.e. Pillow's <c>convert('L')</c>), then <c>Resize(Resize)</c> and
/// <c>CenterCrop(Crop)</c> (either may be absent); see <see cref="ImageTransform"/> for the arithmetic.
/// </summary>
public sealed record ImagePrep(int? Resize = null, int? Crop = null, bool RgbToGrey = false)
{
    public static ImagePrep None { get; } = new();

    public bool IsNone => Resize is null && Crop is null && !RgbToGrey;

    /// <summary>Channels an image of <paramref name="channels"/> comes out with.</summary>
    public int OutputChannels(int channels) => RgbToGrey && channels == 3 ? 1 : channels;

    /// <summary>The size an image of <paramref name="rows"/>×<paramref name="cols"/> comes out at.</summary>
    public (int Rows, int Cols) OutputSize(int rows, int cols)
    {
        Check();
        var size = Resize is { } r ? ImageTransform.ResizedSize(rows, cols, r) : (rows, cols);
        return Crop is { } c ? (c, c) : size;
    }

    public byte[] Apply(byte[] chw, int channels, int rows, int cols)
    {
        if (IsNone)
        {
            return chw;
        }

        byte[] image = chw;
        if (RgbToGrey && channels == 3)
        {
            image = ImageTransform.Grey(chw, rows * cols);
            channels = 1;
        }

        if (Resize is { } r)
        {
            image = ImageTransform.ResizeShorterSide(image, channels, rows, cols, r, out rows, out cols);
        }

        return Crop is { } c ? ImageTransform.CenterCrop(image, channels, rows, cols, c, c) : image;
    }

    /// <summary>Every image of <paramref name="set"/> put through <see cref="Apply(byte[], int, int, int)"/> (all have one size, so all come out at one).</summary>
    public ImageSet Apply(ImageSet set)
    {
        if (IsNone)
        {
            return set;
        }

        var (rows, cols) = OutputSize(set.Rows, set.Cols);
        int channels = OutputChannels(set.Channels);
        int perImage = channels * rows * cols;
        if ((long)perImage * set.Count > int.MaxValue / 2)
        {
            Throw.BadInput($"{set.Source}: {set.Count} images of {channels}x{rows}x{cols} are more than this tool holds in memory; pass a smaller --crop");
        }

        var pixels = new byte[perImage * set.Count];
        for (int i = 0; i < set.Count; i++)
        {
            Apply(set.Image(i).ToArray(), set.Channels, set.Rows, set.Cols).CopyTo(pixels.AsSpan(i * perImage, perImage));
        }

        return set.WithPixels(pixels, channels, rows, cols);
    }

    private void Check()
    {
        if (Resize is <= 0 || Crop is <= 0)
        {
            Throw.BadInput($"--resize and --crop must be positive (got {Resize}, {Crop})");
        }
    }
}
