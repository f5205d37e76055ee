using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Ort;

namespace AQ4SViT.Onnx.Tests.Validate;

/// <summary><c>--device</c> lists and where concurrent evaluations are placed (no GPU needed: placement is bookkeeping).</summary>
public sealed class DevicePoolTests
{
    [Theory]
    [InlineData("cpu", "cpu")]
    [InlineData("cuda", "cuda:0")]
    [InlineData("cuda:1", "cuda:1")]
    [InlineData("cuda:0,cuda:1", "cuda:0 cuda:1")]
    [InlineData(" CUDA:0 , cuda:0 ", "cuda:0 cuda:0")]
    [InlineData("cuda:all", "cuda:0 cuda:1 cuda:2")]
    public void Parse_DeviceLists(string text, string expected)
    {
        var devices = DevicePool.Parse(text, () => 3);

        Assert.Equal(expected, string.Join(" ", devices));
    }

    [Fact]
    public void Parse_CudaAllWithoutDevices_IsCudaZeroSoTheFallbackSaysWhy()
    {
        Assert.Equal([ComputeDevice.Cuda(0)], DevicePool.Parse("cuda:all", () => 0));
    }

    [Theory]
    [InlineData("cpu,cuda:0")]
    [InlineData("cuda:0,")]
    [InlineData("cuda:0,gpu")]
    [InlineData("cuda:x")]
    public void Parse_BadLists_AreBadInputNamingDevice(string text)
    {
        var e = Assert.Throws<BadInputException>(() => DevicePool.Parse(text, () => 2));

        Assert.Contains("--device", e.Message);
    }

    [Fact]
    public void Take_PlacesConcurrentEvaluationsOnTheLeastBusyDevice_FirstOnTies()
    {
        var pool = new DevicePool([ComputeDevice.Cuda(0), ComputeDevice.Cuda(1)]);

        var a = pool.Take();
        var b = pool.Take();
        var c = pool.Take();
        b.Dispose();
        var d = pool.Take();

        Assert.Equal(ComputeDevice.Cuda(0), a.Device);
        Assert.Equal(ComputeDevice.Cuda(1), b.Device);
        Assert.Equal(ComputeDevice.Cuda(0), c.Device);
        Assert.Equal(ComputeDevice.Cuda(1), d.Device);
        Assert.Equal([2, 1], pool.Running);
        a.Dispose();
        a.Dispose(); // twice gives back once
        c.Dispose();
        d.Dispose();
        Assert.Equal([0, 0], pool.Running);
    }

    [Fact]
    public void Take_SameDeviceTwice_TakesTwoSlotsOfIt()
    {
        var pool = new DevicePool([ComputeDevice.Cuda(0), ComputeDevice.Cuda(0)]);

        using var a = pool.Take();
        using var b = pool.Take();

        Assert.Equal(ComputeDevice.Cuda(0), a.Device);
        Assert.Equal(ComputeDevice.Cuda(0), b.Device);
        Assert.Equal([1, 1], pool.Running);
        Assert.Equal("cuda:0", pool.ToString());
    }

    [Fact]
    public void FallBackToCpu_EveryDeviceOnce()
    {
        var pool = new DevicePool([ComputeDevice.Cuda(0), ComputeDevice.Cuda(1)]);

        Assert.True(pool.FallBackToCpu());
        Assert.False(pool.FallBackToCpu());
        Assert.Equal("cpu", pool.ToString());
        Assert.Equal(ComputeDevice.Cpu, pool.Take().Device);
    }

    [Theory]
    [InlineData("Non-zero status code returned while running Conv node. Name:'/conv' Status Message: CUDA failure 2: out of memory ; GPU=0", true)]
    [InlineData("Failed to allocate memory for requested buffer of size 1073741824", true)]
    [InlineData("CUDNN failure 4: CUDNN_STATUS_ALLOC_FAILED", true)]
    [InlineData("Got invalid dimensions for input: x for the following indices", false)]
    public void DeviceMemory_RecognisesOrtAllocationFailures(string message, bool outOfMemory)
    {
        Assert.Equal(outOfMemory, DeviceMemory.IsOutOfMemoryMessage(message));
    }

    [Fact]
    public void DeviceMemory_OutOfMemoryRun_IsOneLineNamingTheBatch()
    {
        var e = Assert.Throws<BadInputException>(() => DeviceMemory.Guard<int>(() => throw new OutOfMemoryException(), "m.onnx", ComputeDevice.Cuda(0), 64));
        var last = Assert.Throws<BadInputException>(() => DeviceMemory.Guard<int>(() => throw new OutOfMemoryException(), "m.onnx", ComputeDevice.Cuda(0), 1));
        var other = new InvalidOperationException("bad shape");

        Assert.Equal("m.onnx at batch 64 does not fit in the memory of cuda:0: use --batch 32 (or smaller)", e.Message);
        Assert.Equal("m.onnx does not fit in the memory of cuda:0 even at batch 1: use --device cpu", last.Message);
        Assert.Same(other, Assert.Throws<InvalidOperationException>(() => DeviceMemory.Guard<int>(() => throw other, "m.onnx", ComputeDevice.Cuda(0), 8)));
    }
}
