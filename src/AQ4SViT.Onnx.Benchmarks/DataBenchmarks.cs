using AQ4SViT.Onnx.Data;
using BenchmarkDotNet.Attributes;
using SkiaSharp;

namespace AQ4SViT.Onnx.Benchmarks;

/// <summary>
/// Decode throughput of the data room on ImageNet-like files: 32 photos-sized images (500 × 375, RGB, smooth content
/// plus noise) as JPEG (quality 90) and PNG, read one by one from a streamed set (decode, then torchvision's evaluation
/// transform Resize(256) + CenterCrop(224)), one thread. The transform alone on a decoded image for comparison.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 2, iterationCount: 6)]
public class DataBenchmarks
{
    private const int Images = 32;
    private const int Width = 500;
    private const int Height = 375;
    private readonly ImagePrep _imagenet = new(Resize: 256, Crop: 224);
    private string _root = "";
    private ImageSet _jpeg = null!;
    private ImageSet _png = null!;
    private ImageSet _jpegFull = null!;
    private byte[] _decoded = [];

    [GlobalSetup]
    public unsafe void Setup()
    {
        _root = Path.Combine(Path.GetTempPath(), "aq4svit-bench-" + Guid.NewGuid().ToString("N")[..8]);
        var rng = new Random(5);
        var info = new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        foreach (string format in new[] { "jpg", "png" })
        {
            Directory.CreateDirectory(Path.Combine(_root, format, "class"));
        }

        for (int i = 0; i < Images; i++)
        {
            using var bitmap = new SKBitmap(info);
            var px = new Span<byte>((void*)bitmap.GetPixels(), info.BytesSize);
            for (int y = 0; y < Height; y++)
            {
                for (int x = 0; x < Width; x++)
                {
                    int p = 4 * ((y * Width) + x);
                    px[p] = (byte)((x + (i * 7)) % 200 + rng.Next(40));
                    px[p + 1] = (byte)((y * 2) % 200 + rng.Next(40));
                    px[p + 2] = (byte)(((x + y) / 3) % 200 + rng.Next(40));
                    px[p + 3] = 255;
                }
            }

            using var jpg = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
            File.WriteAllBytes(Path.Combine(_root, "jpg", "class", $"{i:D3}.jpg"), jpg.ToArray());
            using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(_root, "png", "class", $"{i:D3}.png"), png.ToArray());
        }

        var streamed = new DataOptions { Prep = _imagenet, StreamAboveBytes = 0 };
        _jpeg = DataLoader.LoadUnsplit(Path.Combine(_root, "jpg"), streamed);
        _png = DataLoader.LoadUnsplit(Path.Combine(_root, "png"), streamed);
        _jpegFull = DataLoader.LoadUnsplit(Path.Combine(_root, "jpg"), new DataOptions { StreamAboveBytes = 0 });
        _decoded = _jpegFull.Image(0).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_root, recursive: true);

    [Benchmark(Baseline = true, OperationsPerInvoke = Images)]
    public int JpegDecodeResizeCrop() => ReadAll(_jpeg);

    [Benchmark(OperationsPerInvoke = Images)]
    public int JpegDecodeOnly() => ReadAll(_jpegFull);

    [Benchmark(OperationsPerInvoke = Images)]
    public int PngDecodeResizeCrop() => ReadAll(_png);

    [Benchmark(OperationsPerInvoke = Images)]
    public int ResizeCropOnly()
    {
        int sum = 0;
        for (int i = 0; i < Images; i++)
        {
            sum += _imagenet.Apply(_decoded, 3, Height, Width)[i];
        }

        return sum;
    }

    private static int ReadAll(ImageSet set)
    {
        int sum = 0;
        for (int i = 0; i < set.Count; i++)
        {
            sum += set.Image(i)[i];
        }

        return sum;
    }
}
