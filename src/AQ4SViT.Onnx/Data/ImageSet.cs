namespace AQ4SViT.Onnx.Data;

/// <summary>Grayscale (or single-plane) images with labels, as read from an IDX pair. Pixels are bytes, row-major.</summary>
public sealed class ImageSet
{
    public ImageSet(byte[] pixels, byte[] labels, int rows, int cols, string source)
    {
        if (rows <= 0 || cols <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"{source}: image size {rows}x{cols} is not positive");
        }

        if (pixels.LongLength != (long)labels.Length * rows * cols)
        {
            throw new ArgumentException($"{source}: {pixels.LongLength} pixels do not make {labels.Length} images of {rows}x{cols}");
        }

        Pixels = pixels;
        Labels = labels;
        Rows = rows;
        Cols = cols;
        Source = source;
    }

    public byte[] Pixels { get; }
    public byte[] Labels { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int Count => Labels.Length;
    public int PixelsPerImage => Rows * Cols;

    /// <summary>Where the images came from (the folder), for messages.</summary>
    public string Source { get; }

    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * PixelsPerImage, PixelsPerImage);

    /// <summary>Images <paramref name="indices"/>[0], [1], … as a new set (copies).</summary>
    public ImageSet Select(IReadOnlyList<int> indices)
    {
        var pixels = new byte[indices.Count * PixelsPerImage];
        var labels = new byte[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            Image(indices[i]).CopyTo(pixels.AsSpan(i * PixelsPerImage, PixelsPerImage));
            labels[i] = Labels[indices[i]];
        }

        return new ImageSet(pixels, labels, Rows, Cols, Source);
    }

    /// <summary>A contiguous range of images as a new set (copies).</summary>
    public ImageSet Slice(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Count)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"{Source}: images {start}..{start + count - 1} out of 0..{Count - 1}");
        }

        return new ImageSet(
            Pixels.AsSpan(start * PixelsPerImage, count * PixelsPerImage).ToArray(),
            Labels.AsSpan(start, count).ToArray(),
            Rows,
            Cols,
            Source);
    }
}
