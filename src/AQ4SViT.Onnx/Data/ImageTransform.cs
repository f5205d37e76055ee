namespace AQ4SViT.Onnx.Data;

/// <summary>
/// torchvision's <c>Resize(size)</c> (shorter side, bilinear, on a PIL image) and <c>CenterCrop(crop)</c>, on CHW bytes
/// (each channel on its own, as PIL treats bands). The arithmetic, exactly:
/// <list type="bullet">
/// <item>Output size: the shorter side becomes <c>size</c>, the longer <c>⌊size · long / short⌋</c> (float division,
/// truncated, as torchvision's <c>int(size * long / short)</c>); an image already that size is left as it is.</item>
/// <item>Resampling, per axis (width first, then height, rounded to bytes in between, as Pillow does): with
/// <c>scale = in / out</c> and <c>f = max(scale, 1)</c> (an antialiasing filter when shrinking), output pixel i is centred
/// at <c>c = (i + 0.5) · scale</c> and reads inputs <c>j ∈ [max(0, trunc(c − f + 0.5)), min(in, trunc(c + f + 0.5)))</c>
/// with weights <c>w_j = max(0, 1 − |(j − c + 0.5) / f|)</c> divided by their sum, each weight then turned into a 22-bit
/// fixed-point integer <c>trunc(w · 2²² ± 0.5)</c>; the output is <c>(2²¹ + Σ w_j · p_j) >> 22</c>, clamped to 0..255.</item>
/// <item>Centre crop: top = <c>round((h − crop) / 2)</c>, left = <c>round((w − crop) / 2)</c>, rounding half to even
/// (Python's <c>round</c>); a crop larger than the image pads with zeros, <c>(crop − h) // 2</c> above and left.</item>
/// </list>
/// </summary>
internal static class ImageTransform
{
    private const int PrecisionBits = 22;

    /// <summary>
    /// RGB planes to one grey plane as Pillow's <c>convert('L')</c> (ITU-R 601-2 luma in 16-bit fixed point):
    /// <c>(19595·R + 38470·G + 7471·B + 32768) >> 16</c>; equal planes give that value back exactly.
    /// </summary>
    public static byte[] Grey(ReadOnlySpan<byte> chw, int plane)
    {
        var grey = new byte[plane];
        for (int p = 0; p < plane; p++)
        {
            grey[p] = (byte)(((19595 * chw[p]) + (38470 * chw[plane + p]) + (7471 * chw[(2 * plane) + p]) + 32768) >> 16);
        }

        return grey;
    }

    /// <summary>torchvision's output size for <c>Resize(size)</c> of an h×w image.</summary>
    public static (int Rows, int Cols) ResizedSize(int rows, int cols, int size)
    {
        if (cols <= rows)
        {
            return ((int)(size * (double)rows / cols), size);
        }

        return (size, (int)(size * (double)cols / rows));
    }

    /// <summary>Resizes each channel of a CHW image so that its shorter side is <paramref name="size"/>.</summary>
    public static byte[] ResizeShorterSide(ReadOnlySpan<byte> chw, int channels, int rows, int cols, int size, out int newRows, out int newCols)
    {
        (newRows, newCols) = ResizedSize(rows, cols, size);
        return Resize(chw, channels, rows, cols, newRows, newCols);
    }

    /// <summary>Bilinear resampling of each channel to <paramref name="outRows"/>×<paramref name="outCols"/>, Pillow's arithmetic.</summary>
    public static byte[] Resize(ReadOnlySpan<byte> chw, int channels, int rows, int cols, int outRows, int outCols)
    {
        if (rows == outRows && cols == outCols)
        {
            return chw.ToArray();
        }

        var (xBounds, xWeights, xTaps) = Coefficients(cols, outCols);
        var (yBounds, yWeights, yTaps) = Coefficients(rows, outRows);
        var result = new byte[channels * outRows * outCols];
        var temp = new byte[rows * outCols];
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<byte> src = chw.Slice(c * rows * cols, rows * cols);
            ReadOnlySpan<byte> rowsIn = src;
            int tempCols = cols;
            if (cols != outCols)
            {
                for (int y = 0; y < rows; y++)
                {
                    Pass(src.Slice(y * cols, cols), 1, temp.AsSpan(y * outCols, outCols), 1, xBounds, xWeights, xTaps);
                }

                rowsIn = temp;
                tempCols = outCols;
            }

            Span<byte> dst = result.AsSpan(c * outRows * outCols, outRows * outCols);
            if (rows != outRows)
            {
                for (int x = 0; x < outCols; x++)
                {
                    Pass(rowsIn[x..], tempCols, dst[x..], outCols, yBounds, yWeights, yTaps);
                }
            }
            else
            {
                rowsIn[..(rows * outCols)].CopyTo(dst);
            }
        }

        return result;
    }

    /// <summary>torchvision's <c>CenterCrop</c> of each channel (zero padding where the crop is larger).</summary>
    public static byte[] CenterCrop(ReadOnlySpan<byte> chw, int channels, int rows, int cols, int cropRows, int cropCols)
    {
        int padTop = cropRows > rows ? (cropRows - rows) / 2 : 0;
        int padLeft = cropCols > cols ? (cropCols - cols) / 2 : 0;
        int paddedRows = cropRows > rows ? cropRows : rows;
        int paddedCols = cropCols > cols ? cropCols : cols;
        int top = (int)Math.Round((paddedRows - cropRows) / 2.0, MidpointRounding.ToEven) - padTop;
        int left = (int)Math.Round((paddedCols - cropCols) / 2.0, MidpointRounding.ToEven) - padLeft;
        var result = new byte[channels * cropRows * cropCols];
        for (int c = 0; c < channels; c++)
        {
            for (int y = 0; y < cropRows; y++)
            {
                int sy = top + y;
                if (sy < 0 || sy >= rows)
                {
                    continue;
                }

                for (int x = 0; x < cropCols; x++)
                {
                    int sx = left + x;
                    if (sx >= 0 && sx < cols)
                    {
                        result[(((c * cropRows) + y) * cropCols) + x] = chw[(((c * rows) + sy) * cols) + sx];
                    }
                }
            }
        }

        return result;
    }

    /// <summary>One resampling pass along a line: <paramref name="src"/>[j·srcStride] into <paramref name="dst"/>[i·dstStride].</summary>
    private static void Pass(ReadOnlySpan<byte> src, int srcStride, Span<byte> dst, int dstStride, int[] bounds, int[] weights, int taps)
    {
        int outSize = bounds.Length / 2;
        for (int i = 0; i < outSize; i++)
        {
            int min = bounds[2 * i];
            int n = bounds[(2 * i) + 1];
            int sum = 1 << (PrecisionBits - 1);
            for (int k = 0; k < n; k++)
            {
                sum += src[(min + k) * srcStride] * weights[(i * taps) + k];
            }

            dst[i * dstStride] = (byte)Math.Clamp(sum >> PrecisionBits, 0, 255);
        }
    }

    /// <summary>Per output pixel: first input and tap count (bounds), and fixed-point weights, <c>Taps</c> per pixel.</summary>
    private static (int[] Bounds, int[] Weights, int Taps) Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = filterScale; // the triangle's support is 1, widened when shrinking
        int taps = ((int)Math.Ceiling(support) * 2) + 1;
        var bounds = new int[outSize * 2];
        var weights = new int[outSize * taps];
        var w = new double[taps];
        for (int i = 0; i < outSize; i++)
        {
            double center = (i + 0.5) * scale;
            int min = Math.Max(0, (int)(center - support + 0.5));
            int max = Math.Min(inSize, (int)(center + support + 0.5));
            int n = max - min;
            double total = 0;
            for (int k = 0; k < n; k++)
            {
                double t = Math.Abs((k + min - center + 0.5) / filterScale);
                w[k] = t < 1.0 ? 1.0 - t : 0.0;
                total += w[k];
            }

            for (int k = 0; k < n; k++)
            {
                double normalised = total != 0 ? w[k] / total : w[k];
                double fixedPoint = normalised * (1 << PrecisionBits);
                weights[(i * taps) + k] = (int)(normalised < 0 ? fixedPoint - 0.5 : fixedPoint + 0.5);
            }

            bounds[2 * i] = min;
            bounds[(2 * i) + 1] = n;
        }

        return (bounds, weights, taps);
    }
}
