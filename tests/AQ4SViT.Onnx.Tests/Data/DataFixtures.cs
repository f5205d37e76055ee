using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using AQ4SViT.Onnx.Data;
using SkiaSharp;

namespace AQ4SViT.Onnx.Tests.Data;

/// <summary>
/// Writes the bundled Fashion-MNIST test images in every format the data room reads (CIFAR batches, npy, npz, PNG
/// folders, 4-D IDX), so that each source can be checked against the IDX original pixel for pixel.
/// </summary>
internal static class DataFixtures
{
    public static ImageSet Fashion => SharedData.FashionMnist;

    /// <summary>The first <paramref name="count"/> Fashion-MNIST test images (grey, 28×28).</summary>
    public static ImageSet First(int count) => Fashion.Slice(0, count);

    /// <summary>A grey set as RGB with the plane repeated (the known 3-channel version of it).</summary>
    public static ImageSet Rgb(ImageSet grey)
    {
        var pixels = new byte[grey.Count * 3 * grey.Plane];
        for (int i = 0; i < grey.Count; i++)
        {
            for (int c = 0; c < 3; c++)
            {
                grey.Image(i).CopyTo(pixels.AsSpan(((i * 3) + c) * grey.Plane, grey.Plane));
            }
        }

        return new ImageSet(pixels, grey.Labels, 3, grey.Rows, grey.Cols, "rgb");
    }

    /// <summary>Pads CHW 28×28 images into 32×32 with zeros (2 pixels each side), the size CIFAR records have.</summary>
    public static ImageSet PadTo32(ImageSet set)
    {
        int c = set.Channels;
        var pixels = new byte[set.Count * c * 32 * 32];
        for (int i = 0; i < set.Count; i++)
        {
            for (int ch = 0; ch < c; ch++)
            {
                for (int y = 0; y < set.Rows; y++)
                {
                    set.Image(i).Slice((ch * set.Plane) + (y * set.Cols), set.Cols)
                        .CopyTo(pixels.AsSpan((((i * c) + ch) * 1024) + ((y + 2) * 32) + 2));
                }
            }
        }

        return new ImageSet(pixels, set.Labels, c, 32, 32, "padded");
    }

    /// <summary>A CIFAR-10 batch (label byte + 3,072 pixel bytes) or, with <paramref name="coarse"/>, CIFAR-100 (coarse, fine, pixels).</summary>
    public static void WriteCifar(string path, ImageSet rgb32, Func<int, int>? coarse = null)
    {
        using var file = File.Create(path);
        for (int i = 0; i < rgb32.Count; i++)
        {
            if (coarse is not null)
            {
                file.WriteByte((byte)coarse(rgb32.Labels[i]));
            }

            file.WriteByte((byte)rgb32.Labels[i]);
            file.Write(rgb32.Image(i));
        }
    }

    /// <summary>A version-1.0 .npy file: magic, header dict padded with spaces to a multiple of 64, raw C-order data.</summary>
    public static byte[] Npy(string descr, int[] shape, byte[] data)
    {
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + dict.Length + 1;
        dict = dict.PadRight(dict.Length + ((64 - (total % 64)) % 64)) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 };
        bytes.Add((byte)(dict.Length & 0xff));
        bytes.Add((byte)(dict.Length >> 8));
        bytes.AddRange(Encoding.ASCII.GetBytes(dict));
        bytes.AddRange(data);
        return [.. bytes];
    }

    public static byte[] Int64Labels(IEnumerable<int> labels)
    {
        var list = labels.ToList();
        var bytes = new byte[list.Count * 8];
        for (int i = 0; i < list.Count; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), list[i]);
        }

        return bytes;
    }

    /// <summary>Pixels as float32 in [0, 1] (pixel / 255, as ToTensor gives them).</summary>
    public static byte[] Float32Pixels(byte[] pixels)
    {
        var bytes = new byte[pixels.Length * 4];
        for (int i = 0; i < pixels.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), (float)(pixels[i] / 255.0));
        }

        return bytes;
    }

    /// <summary>The set's pixels as [N, H, W, C] (channels last).</summary>
    public static byte[] Nhwc(ImageSet set)
    {
        var bytes = new byte[set.Pixels.Length];
        for (int i = 0; i < set.Count; i++)
        {
            for (int c = 0; c < set.Channels; c++)
            {
                for (int p = 0; p < set.Plane; p++)
                {
                    bytes[(i * set.PixelsPerImage) + (p * set.Channels) + c] = set.Pixels[(i * set.PixelsPerImage) + (c * set.Plane) + p];
                }
            }
        }

        return bytes;
    }

    public static void WriteNpz(string path, params (string Name, byte[] Npy)[] entries)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, npy) in entries)
        {
            using var stream = zip.CreateEntry(name + ".npy", CompressionLevel.Fastest).Open();
            stream.Write(npy);
        }
    }

    /// <summary>Class sub-folders <c>c0</c>… of PNGs (grey, or RGB for a 3-channel set), images numbered in set order.</summary>
    public static void WritePngFolder(string root, ImageSet set, Func<int, string>? className = null)
    {
        className ??= label => $"class{label:D2}";
        for (int i = 0; i < set.Count; i++)
        {
            string dir = Path.Combine(root, className(set.Labels[i]));
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, $"img{i:D5}.png"), Png(set, i));
        }
    }

    /// <summary>Image <paramref name="index"/> of the set as PNG (or lossless WebP) bytes, encoded by SkiaSharp.</summary>
    public static unsafe byte[] Png(ImageSet set, int index, SKEncodedImageFormat format = SKEncodedImageFormat.Png)
    {
        bool grey = set.Channels == 1;
        var info = new SKImageInfo(set.Cols, set.Rows, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, grey ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var dst = new Span<byte>((void*)bitmap.GetPixels(), info.BytesSize);
        ReadOnlySpan<byte> image = set.Image(index);
        int plane = set.Plane;
        for (int p = 0; p < plane; p++)
        {
            if (grey)
            {
                dst[p] = image[p];
            }
            else
            {
                dst[4 * p] = image[p];
                dst[(4 * p) + 1] = image[plane + p];
                dst[(4 * p) + 2] = image[(2 * plane) + p];
                dst[(4 * p) + 3] = 255;
            }
        }

        using var pixmap = bitmap.PeekPixels() ?? throw new InvalidOperationException("no pixels");
        using var data = (format == SKEncodedImageFormat.Webp
            ? pixmap.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 100))
            : bitmap.Encode(format, 100)) ?? throw new InvalidOperationException($"SkiaSharp cannot encode {format}");
        return data.ToArray();
    }
}
