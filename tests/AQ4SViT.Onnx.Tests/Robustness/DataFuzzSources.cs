using System.IO.Compression;
using AQ4SViT.Onnx.Data;
using static AQ4SViT.Onnx.Tests.Data.DataFixtures;

namespace AQ4SViT.Onnx.Tests.Robustness;

/// <summary>
/// The unmutated inputs of the data-file fuzz test: eight images (or event-frame samples) in every format <c>--data</c>
/// reads, each with a small model that takes them and the <c>eval</c> that reads them.
/// </summary>
internal static class DataFuzzSources
{
    private const int N = 8;

    /// <param name="Name">Which format.</param>
    /// <param name="Files">Relative path and bytes of each file of the source.</param>
    /// <param name="Data">What <c>--data</c> names, relative to the folder the files are written to.</param>
    /// <param name="Model">The model that takes this data.</param>
    public sealed record Source(string Name, (string Name, byte[] Bytes)[] Files, string Data, string Model)
    {
        public string[] Eval(string data) =>
            ["eval", Model, "--data", data, "--split", "all", "--batch", "4", "--threads", "1", "--json"];
    }

    public static Source[] All()
    {
        string grey = Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx");
        string rgb = Path.Combine(RepoPaths.Models, "tests", "upstream", "spikformer-sj012-dynamo", "model.onnx");
        string dvs = Path.Combine(RepoPaths.Models, "tests", "dvs-tb", "model.onnx");
        var set = First(N);
        var idx = (Images: Idx([N, 28, 28], set.Pixels[..(N * set.PixelsPerImage)]), Labels: Idx([N], Array.ConvertAll(set.Labels[..N], l => (byte)l)));
        string cifar = Path.Combine(Path.GetTempPath(), "aq4svit-fuzz-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            Directory.CreateDirectory(cifar);
            WriteCifar(Path.Combine(cifar, "test_batch.bin"), PadTo32(Rgb(set)));
            string png = Path.Combine(cifar, "png");
            WritePngFolder(png, set);
            return
            [
                new("idx", [(IdxReader.TestImagesName, idx.Images), (IdxReader.TestLabelsName, idx.Labels)], ".", grey),
                new("idx.gz", [(IdxReader.TestImagesName + ".gz", Gzip(idx.Images)), (IdxReader.TestLabelsName + ".gz", Gzip(idx.Labels))], ".", grey),
                new("cifar", [("test_batch.bin", File.ReadAllBytes(Path.Combine(cifar, "test_batch.bin")))], "test_batch.bin", rgb),
                new("png", [.. Directory.GetFiles(png, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
                    .Select(f => (Path.GetRelativePath(cifar, f), File.ReadAllBytes(f)))], "png", grey),
                new("npy", [("images.npy", Npy("|u1", [N, 28, 28], set.Pixels[..(N * set.PixelsPerImage)])), ("labels.npy", Npy("<i8", [N], Int64Labels(set.Labels[..N])))], ".", grey),
                new("npz", [("d.npz", Npz(("x", Npy("<f4", [N, 28, 28, 1], Float32Pixels(set.Pixels[..(N * set.PixelsPerImage)]))), ("y", Npy("<i8", [N], Int64Labels(set.Labels[..N])))))], "d.npz", grey),
                new("frames", [.. Directory.GetDirectories(Path.Combine(RepoPaths.Models, "tests", "dvs-data", "frames")).Order(StringComparer.Ordinal)
                    .SelectMany(c => Directory.GetFiles(c, "*.npz").Order(StringComparer.Ordinal).Take(2))
                    .Select(f => (Path.Combine("frames", Path.GetFileName(Path.GetDirectoryName(f))!, Path.GetFileName(f)), File.ReadAllBytes(f)))], "frames", dvs),
            ];
        }
        finally
        {
            Directory.Delete(cifar, recursive: true);
        }
    }

    public static void Write(string folder, (string Name, byte[] Bytes)[] files)
    {
        foreach (var (name, bytes) in files)
        {
            string path = Path.Combine(folder, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
        }
    }

    private static byte[] Idx(int[] dims, byte[] data)
    {
        string path = Path.GetTempFileName();
        try
        {
            Data.IdxReaderTests.WriteIdx(path, dims, data, gzip: false);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(bytes);
        }

        return memory.ToArray();
    }

    private static byte[] Npz(params (string Name, byte[] Npy)[] entries)
    {
        string path = Path.GetTempFileName();
        try
        {
            File.Delete(path);
            WriteNpz(path, entries);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
