using AQ4SViT.Onnx.Core;


namespace AQ4SViT.Onnx.Data;

/// <summary>
/// Turns an array of images of shape [N, H, W] (grey), [N, C, H, W] or [N, H, W, C] into CHW images. A 4-dimensional
/// shape whose dimension 1 or 3 (but not both) is 1 or 3 tells its layout; otherwise <c>--layout nchw|nhwc</c> must.
/// </summary>
internal static class PixelLayout
{
    public static (byte[] Pixels, int Channels, int Rows, int Cols) ToChw(byte[] data, int[] dims, string? layout, string path)
    {
        if (dims.Length == 3)
        {
            return (data, 1, dims[1], dims[2]);
        }

        if (dims.Length != 4)
        {
            return Throw.BadInput<(byte[], int, int, int)>($"{path}: images must have 3 dimensions (N, H, W) or 4 (N, C, H, W or N, H, W, C); found {dims.Length} ({string.Join("x", dims)})");
        }

        bool nhwc = layout?.ToLowerInvariant() switch
        {
            "nchw" => false,
            "nhwc" => true,
            null => Detect(dims, path),
            _ => Throw.BadInput<bool>($"--layout must be nchw or nhwc, got '{layout}'"),
        };
        if (!nhwc)
        {
            return (data, dims[1], dims[2], dims[3]);
        }

        int n = dims[0], rows = dims[1], cols = dims[2], channels = dims[3];
        var chw = new byte[data.Length];
        int plane = rows * cols;
        int perImage = plane * channels;
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<byte> src = data.AsSpan(i * perImage, perImage);
            Span<byte> dst = chw.AsSpan(i * perImage, perImage);
            for (int p = 0; p < plane; p++)
            {
                for (int c = 0; c < channels; c++)
                {
                    dst[(c * plane) + p] = src[(p * channels) + c];
                }
            }
        }

        return (chw, channels, rows, cols);
    }

    private static bool Detect(int[] dims, string path)
    {
        bool first = dims[1] is 1 or 3;
        bool last = dims[3] is 1 or 3;
        if (first != last)
        {
            return last;
        }

        return Throw.BadInput<bool>($"{path}: cannot tell whether shape {string.Join("x", dims)} is NCHW or NHWC; pass --layout nchw or --layout nhwc");
    }
}
