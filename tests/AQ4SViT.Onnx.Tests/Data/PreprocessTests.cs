using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;

namespace AQ4SViT.Onnx.Tests.Data;

/// <summary>Resize, centre crop and per-channel normalisation against hand-computed values and Pillow's own output.</summary>
public sealed class PreprocessTests
{
    [Fact]
    public void Resize_Shrink4To2_UsesAntialiasedTriangleWeights()
    {
        // Each output pixel reads 3 inputs: centre c = 1 reads j = 0, 1, 2 with 1 − |(j − c + 0.5)/2| = 3/4, 3/4, 1/4,
        // i.e. 3/7, 3/7, 1/7; c = 3 reads j = 1, 2, 3 with 1/7, 3/7, 3/7. Row 0, 70, 140, 210 → 30 + 20 = 50 and 10 + 60 + 90 = 160.
        byte[] image = [0, 70, 140, 210, 0, 70, 140, 210, 0, 70, 140, 210, 0, 70, 140, 210];

        byte[] result = ImageTransform.Resize(image, 1, 4, 4, 2, 2);

        Assert.Equal([50, 160, 50, 160], result);
    }

    [Fact]
    public void Resize_Enlarge2To4_InterpolatesAtQuarterOffsets()
    {
        // Centres 0.25, 0.75, 1.25, 1.75: 0 → p0 (only j = 0 in range), 0.75·p0 + 0.25·p1, 0.25·p0 + 0.75·p1, p1.
        byte[] image = [0, 200, 0, 200];

        byte[] result = ImageTransform.Resize(image, 1, 2, 2, 4, 4);

        Assert.Equal(Enumerable.Repeat<byte[]>([0, 50, 150, 200], 4).SelectMany(r => r).ToArray(), result);
    }

    [Theory]
    [InlineData(37, 23, 16, 25, 16)] // portrait: width → 16, height int(16·37/23) = int(25.74) = 25
    [InlineData(23, 37, 16, 16, 25)]
    [InlineData(375, 500, 256, 256, 341)] // an ImageNet image: int(256·500/375) = int(341.33)
    [InlineData(28, 28, 32, 32, 32)]
    public void ResizedSize_ShorterSideToSize_LongerTruncated(int rows, int cols, int size, int newRows, int newCols)
    {
        Assert.Equal((newRows, newCols), ImageTransform.ResizedSize(rows, cols, size));
    }

    [Theory]
    [InlineData(25, 16, 12, 6, 2)] // (25 − 12)/2 = 6.5 rounds half to even: 6
    [InlineData(27, 16, 12, 8, 2)] // 7.5 → 8
    [InlineData(10, 10, 10, 0, 0)]
    public void CenterCrop_OffsetsRoundHalfToEven(int rows, int cols, int crop, int top, int left)
    {
        byte[] image = Enumerable.Range(0, rows * cols).Select(i => (byte)i).ToArray();

        byte[] result = ImageTransform.CenterCrop(image, 1, rows, cols, crop, crop);

        Assert.Equal(image[(top * cols) + left], result[0]);
        Assert.Equal(image[((top + crop - 1) * cols) + left + crop - 1], result[^1]);
    }

    [Fact]
    public void CenterCrop_LargerThanImage_PadsWithZerosAboveAndLeft()
    {
        byte[] image = [1, 2, 3, 4]; // 2×2

        byte[] result = ImageTransform.CenterCrop(image, 1, 2, 2, 5, 5);

        // Padding (5 − 2) // 2 = 1 above and left, 2 below and right.
        byte[] expected = [0, 0, 0, 0, 0, /**/ 0, 1, 2, 0, 0, /**/ 0, 3, 4, 0, 0, /**/ 0, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 0];
        Assert.Equal(expected, result);
    }

    [Fact]
    public void ResizeAndCrop_MatchPillow_OnEveryGoldenCase()
    {
        string path = Path.Combine(RepoPaths.Root, "tests", "AQ4SViT.Onnx.Tests", "Fixtures", "pil-resize.npz");
        var keys = Enumerable.Range(0, 8).SelectMany(i => new[] { $"case{i}_in", $"case{i}_out", $"case{i}_args" }).ToArray();
        var arrays = NpyReader.ReadArchive(path, keys);

        for (int i = 0; i < 8; i++)
        {
            var input = arrays[$"case{i}_in"];
            var expected = arrays[$"case{i}_out"];
            int[] args = NpyReader.Labels(arrays[$"case{i}_args"], "args");
            var prep = new ImagePrep(args[0] == 0 ? null : args[0], args[1] == 0 ? null : args[1]);
            var (chw, c, h, w) = ToChw(input);
            var (echw, ec, eh, ew) = ToChw(expected);

            byte[] actual = prep.Apply(chw, c, h, w);

            Assert.Equal((eh, ew), prep.OutputSize(h, w));
            Assert.Equal(ec, c);
            int diff = actual.Zip(echw, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(diff == 0, $"case {i} ({h}x{w}x{c}, resize {args[0]}, crop {args[1]}): max difference from Pillow {diff}");
        }
    }

    [Fact]
    public void Fill_DefaultScaling_IsPixelOver255AsBefore()
    {
        var set = new ImageSet(Enumerable.Range(0, 256).Select(i => (byte)i).ToArray(), [0], 16, 16, "all values");
        var floats = new float[256];

        InputScaling.PixelOver255.Fill(set, 0, 1, 1, floats);

        for (int v = 0; v < 256; v++)
        {
            Assert.Equal((float)(v / 255.0), floats[v]);
        }
    }

    [Fact]
    public void Fill_PerChannelMeanStd_HandComputed()
    {
        // One RGB pixel (255, 51, 102): x = 1, 0.2, 0.4; (x − mean)/std with mean (0.5, 0.25, 0), std (0.5, 0.25, 2).
        var set = new ImageSet([255, 51, 102], [0], 3, 1, 1, "pixel");
        var scaling = new InputScaling(1f / 255f, [0.5f, 0.25f, 0f], [0.5f, 0.25f, 2f]);
        var floats = new float[3];

        scaling.Fill(set, 0, 1, 3, floats);

        Assert.Equal(1.0f, floats[0]);
        Assert.Equal(-0.2f, floats[1], 1e-6f);
        Assert.Equal(0.2f, floats[2], 1e-6f);
    }

    [Fact]
    public void Fill_ImageNetNormalize_MatchesTorchFloat32Steps()
    {
        // torchvision: ToTensor gives float32(124/255); Normalize subtracts and divides in float32.
        var set = new ImageSet([124, 124, 124], [0], 3, 1, 1, "pixel");
        var scaling = new InputScaling(1f / 255f, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);
        var floats = new float[3];

        scaling.Fill(set, 0, 1, 3, floats);

        float x = (float)(124 / 255.0);
        Assert.Equal((x - 0.485f) / 0.229f, floats[0]);
        Assert.Equal((x - 0.456f) / 0.224f, floats[1]);
        Assert.Equal((x - 0.406f) / 0.225f, floats[2]);
        Assert.Equal(0.00557, floats[0], 4);
    }

    [Fact]
    public void CheckFits_GreyIntoThreeChannels_NeedsGreyToRgb()
    {
        var grey = new ImageSet(new byte[4], [0], 1, 2, 2, "grey.idx");

        var e = Assert.Throws<BadInputException>(() => InputScaling.PixelOver255.CheckFits(grey, "input", [3, 2, 2]));
        InputScaling.PixelOver255.With(greyToRgb: true).CheckFits(grey, "input", [3, 2, 2]);

        Assert.Contains("grey.idx", e.Message);
        Assert.Contains("1 channel but the model's input 'input' takes 3", e.Message);
        Assert.Contains("--grey-to-rgb", e.Message);
    }

    [Fact]
    public void CheckFits_RgbIntoOneChannel_IsAnError_AndMeanCountMustMatch()
    {
        var rgb = new ImageSet(new byte[12], [0], 3, 2, 2, "rgb.bin");

        var channels = Assert.Throws<BadInputException>(() => InputScaling.PixelOver255.CheckFits(rgb, "x", [1, 2, 2]));
        var mean = Assert.Throws<BadInputException>(() => new InputScaling(1f / 255f, [0.5f, 0.5f], [1f]).CheckFits(rgb, "x", [3, 2, 2]));

        Assert.Contains("3 channels but the model's input 'x' takes 1", channels.Message);
        Assert.Contains("2 and 1 values for the 3 channels", mean.Message);
    }

    [Theory]
    [InlineData("0.5", new[] { 0.5f })]
    [InlineData("0.485, 0.456,0.406", new[] { 0.485f, 0.456f, 0.406f })]
    public void ParseList_OneOrPerChannel(string text, float[] expected)
    {
        Assert.Equal(expected, InputScaling.ParseList(text, "--mean"));
    }

    /// <summary>An (H, W) or (H, W, C) uint8 array as CHW bytes.</summary>
    private static (byte[] Chw, int Channels, int Rows, int Cols) ToChw(NpyArray array)
    {
        int h = array.Shape[0], w = array.Shape[1], c = array.Shape.Length == 3 ? array.Shape[2] : 1;
        var chw = new byte[c * h * w];
        for (int p = 0; p < h * w; p++)
        {
            for (int ch = 0; ch < c; ch++)
            {
                chw[(ch * h * w) + p] = array.Data[(p * c) + ch];
            }
        }

        return (chw, c, h, w);
    }
}
