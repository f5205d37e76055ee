using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Tests.Simulate;

/// <summary>A tensor over 2^31 − 1 elements is refused with a message that says how many and what to lower.</summary>
public sealed class TensorLimitTests
{
    [Fact]
    public void NewFloats_OverOneTensorsLimit_SaysTheSizeAndTheRemedy()
    {
        // The device run that found it: 128 calibration images × 4 time steps at the first 224×224 convolution.
        var e = Assert.Throws<ArgumentException>(() => Tensor.NewFloats([512, 96, 224, 224]));

        Assert.Contains("2,466,250,752 elements [512,96,224,224]", e.Message);
        Assert.Contains("--batch", e.Message);
        Assert.Contains("--proxy-engine ort", e.Message);
    }
}
