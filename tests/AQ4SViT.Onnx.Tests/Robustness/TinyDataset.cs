using AQ4SViT.Onnx.Data;

namespace AQ4SViT.Onnx.Tests.Robustness;

/// <summary>Small IDX datasets written to a temporary folder: the first images of the bundled Fashion-MNIST test set, or made-up ones.</summary>
internal static class TinyDataset
{
    /// <summary>Writes the first <paramref name="count"/> Fashion-MNIST test images and labels into <paramref name="directory"/>.</summary>
    public static string FashionMnist(string directory, int count)
    {
        var set = SharedData.FashionMnist;
        Directory.CreateDirectory(directory);
        Data.IdxReaderTests.WriteIdx(Path.Combine(directory, IdxReader.TestImagesName), [count, set.Rows, set.Cols], set.Pixels[..(count * set.PixelsPerImage)], gzip: false);
        Data.IdxReaderTests.WriteIdx(Path.Combine(directory, IdxReader.TestLabelsName), [count], Array.ConvertAll(set.Labels[..count], l => (byte)l), gzip: false);
        return directory;
    }

    /// <summary>Writes <paramref name="count"/> grey images of <paramref name="rows"/>×<paramref name="cols"/> with labels 0, 1, 2, ….</summary>
    public static string Synthetic(string directory, int count, int rows, int cols)
    {
        Directory.CreateDirectory(directory);
        var pixels = Enumerable.Range(0, count * rows * cols).Select(i => (byte)(i * 31)).ToArray();
        Data.IdxReaderTests.WriteIdx(Path.Combine(directory, IdxReader.TestImagesName), [count, rows, cols], pixels, gzip: false);
        Data.IdxReaderTests.WriteIdx(Path.Combine(directory, IdxReader.TestLabelsName), [count], Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray(), gzip: false);
        return directory;
    }
}
