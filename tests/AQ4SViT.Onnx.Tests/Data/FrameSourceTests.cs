using System.Buffers.Binary;
using System.Text;
using AQ4SViT.Onnx.Data;
using static AQ4SViT.Onnx.Tests.Data.DataFixtures;

namespace AQ4SViT.Onnx.Tests.Data;

/// <summary>
/// Neuromorphic frame sources (<c>tools/make_dvs_fixture.py</c> wrote <c>models/tests/dvs-data</c> with NumPy): the
/// SpikingJelly frame folder, the <c>.npy</c> pair and an <c>.npz</c> each read exactly the values NumPy wrote, as float
/// frames with their time axis; values above 255 and float frames stay as they are.
/// </summary>
public sealed class FrameSourceTests
{
    private const int T = 4;

    public static string DvsData => Path.Combine(RepoPaths.Models, "tests", "dvs-data");

    /// <summary>frames.npy as NumPy wrote it (uint8 [N, T, 2, 32, 32], version-1 header read here, not by NpyReader) and labels.npy (int64).</summary>
    public static (byte[] Frames, int[] Shape, long[] Labels) Numpy()
    {
        byte[] frames = File.ReadAllBytes(Path.Combine(DvsData, "frames.npy"));
        byte[] labels = File.ReadAllBytes(Path.Combine(DvsData, "labels.npy"));
        string header = Encoding.ASCII.GetString(frames, 10, BinaryPrimitives.ReadUInt16LittleEndian(frames.AsSpan(8)));
        Assert.Contains("'descr': '|u1'", header, StringComparison.Ordinal);
        Assert.Contains("'shape': (200, 4, 2, 32, 32)", header, StringComparison.Ordinal);
        byte[] data = frames[(10 + header.Length)..];
        int labelData = 10 + BinaryPrimitives.ReadUInt16LittleEndian(labels.AsSpan(8));
        long[] y = new long[(labels.Length - labelData) / 8];
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = BinaryPrimitives.ReadInt64LittleEndian(labels.AsSpan(labelData + (8 * i)));
        }

        return (data, [200, 4, 2, 32, 32], y);
    }

    private static void AssertSampleIs(ImageSet set, int index, byte[] numpy, int numpyIndex)
    {
        int per = set.ValuesPerSample;
        var expected = numpy.AsSpan(numpyIndex * per, per).ToArray().Select(b => (float)b).ToArray();
        Assert.True(expected.AsSpan().SequenceEqual(set.Frames(index)), $"sample {index} (numpy {numpyIndex}) differs");
    }

    private static void AssertFrameShape(ImageSet set, int count)
    {
        Assert.True(set.IsFrames);
        Assert.Equal((count, T, 2, 32, 32), (set.Count, set.TimeSteps, set.Channels, set.Rows, set.Cols));
    }

    [Fact]
    public void FrameFolder_SpikingJellyNpzPerSample_ReadsWhatNumpyWrote_ClassesSorted()
    {
        var (frames, _, labels) = Numpy();

        var set = DataLoader.LoadUnsplit(Path.Combine(DvsData, "frames"), DataOptions.Default);

        AssertFrameShape(set, labels.Length);
        for (int i = 0; i < set.Count; i++)
        {
            // c<k>/sample_<n>.npz: class k (sorted folder names c0..c3), sample n of frames.npy.
            string file = Path.GetFileNameWithoutExtension(set.ItemNames![i]);
            int n = int.Parse(file["sample_".Length..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(labels[n], set.Labels[i]);
            Assert.Equal($"c{labels[n]}", Path.GetFileName(Path.GetDirectoryName(set.ItemNames[i])));
            AssertSampleIs(set, i, frames, n);
        }

        Assert.Equal(set.Labels.Order(), set.Labels); // class folders in order
    }

    [Fact]
    public void NpyPair_FramesNpyAndLabelsNpy_ReadsWhatNumpyWrote_FileOrFolder()
    {
        var (frames, _, labels) = Numpy();

        var fromFile = DataLoader.LoadUnsplit(Path.Combine(DvsData, "frames.npy"), DataOptions.Default);
        var fromFolder = DataLoader.LoadUnsplit(DvsData, DataOptions.Default with { Format = "frames" });

        foreach (var set in new[] { fromFile, fromFolder })
        {
            AssertFrameShape(set, labels.Length);
            Assert.Equal(labels.Select(l => (int)l), set.Labels);
            for (int i = 0; i < set.Count; i++)
            {
                AssertSampleIs(set, i, frames, i);
            }
        }
    }

    [Theory]
    [InlineData("frames", "labels")]
    [InlineData("x", "y")]
    [InlineData("images", "labels")]
    public void Npz_OneFrameArray_ReadsWhatNumpyWrote(string framesKey, string labelsKey)
    {
        using var dir = new TempDir();
        WriteNpz(dir.File("dvs.npz"),
            (framesKey, File.ReadAllBytes(Path.Combine(DvsData, "frames.npy"))),
            (labelsKey, File.ReadAllBytes(Path.Combine(DvsData, "labels.npy"))));
        var (frames, _, labels) = Numpy();

        var set = DataLoader.LoadUnsplit(dir.File("dvs.npz"), DataOptions.Default);

        AssertFrameShape(set, labels.Length);
        Assert.Equal(labels.Select(l => (int)l), set.Labels);
        AssertSampleIs(set, 0, frames, 0);
        AssertSampleIs(set, set.Count - 1, frames, set.Count - 1);
    }

    [Theory]
    [InlineData("<i2")]
    [InlineData("<f4")]
    [InlineData("<i8")]
    public void FrameFolder_CountsAbove255AndFloats_KeptAsTheyAre(string descr)
    {
        using var dir = new TempDir();
        float[] values = [0f, 1f, 300f, 4096f, 7f, 2.5f, 0f, 65f];
        for (int c = 0; c < 2; c++)
        {
            Directory.CreateDirectory(dir.File($"class{c}"));
            float[] sample = values.Select(v => descr == "<f4" ? v + c : MathF.Floor(v) + c).ToArray();
            WriteNpz(dir.File($"class{c}/s.npz"), ("frames", Npy(descr, [2, 2, 1, 2], Encode(descr, sample))));
        }

        var set = DataLoader.LoadUnsplit(dir.Path, DataOptions.Default);

        Assert.Equal((2, 2, 2, 1, 2), (set.Count, set.TimeSteps, set.Channels, set.Rows, set.Cols));
        Assert.Equal([0, 1], set.Labels);
        Assert.Equal(values.Select(v => (descr == "<f4" ? v : MathF.Floor(v)) + 1), set.Frames(1).ToArray());
    }

    [Fact]
    public void StratifiedSplit_OfFrames_KeepsEverySampleAndItsFrames()
    {
        var unsplit = DataLoader.LoadUnsplit(Path.Combine(DvsData, "frames.npy"), DataOptions.Default);

        var split = DataLoader.Load(Path.Combine(DvsData, "frames.npy"), DataOptions.Default);
        var test = DataSplits.Select(split, DataSplit.Test, 30);

        Assert.Equal(unsplit.Count, split.Count);
        Assert.Equal("stratified", split.Split.Method);
        for (int i = 0; i < test.Count; i++)
        {
            int origin = test.Origin(i);
            Assert.Equal(unsplit.Labels[origin], test.Labels[i]);
            Assert.True(unsplit.Frames(origin).SequenceEqual(test.Frames(i)));
        }
    }

    [Fact]
    public void FillFrames_NoScalingByDefault_ScaleMeanStdPerChannelWhenGiven()
    {
        float[] frames = [1, 2, 300, 4, 5, 6, 7, 8]; // T=2, C=2, 1x2
        var set = ImageSet.FromFrames(frames, [0], 2, 2, 1, 2, "mem");
        var none = new float[8];
        var scaled = new float[8];

        InputScaling.PixelOver255.FillFrames(set, 0, 1, none);
        InputScaling.PixelOver255.With(scale: 0.5f, mean: [1f, 2f], std: [2f, 4f]).FillFrames(set, 0, 1, scaled);

        Assert.Equal(frames, none);
        float[] expected = new float[8];
        for (int i = 0; i < 8; i++)
        {
            int c = (i / 2) % 2;
            expected[i] = ((frames[i] * 0.5f) - (c == 0 ? 1f : 2f)) / (c == 0 ? 2f : 4f);
        }

        Assert.Equal(expected, scaled);
    }

    private static byte[] Encode(string descr, float[] values)
    {
        int size = descr switch { "<i2" => 2, "<f4" => 4, _ => 8 };
        var bytes = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
        {
            var at = bytes.AsSpan(i * size);
            switch (descr)
            {
                case "<i2": BinaryPrimitives.WriteInt16LittleEndian(at, (short)values[i]); break;
                case "<f4": BinaryPrimitives.WriteSingleLittleEndian(at, values[i]); break;
                default: BinaryPrimitives.WriteInt64LittleEndian(at, (long)values[i]); break;
            }
        }

        return bytes;
    }
}
