using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Ort;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Runners;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Validate;

namespace AQ4SViT.Onnx.Tests.Validate;

/// <summary>
/// ONNX Runtime on a device. The default build has no CUDA provider (and this machine no CUDA 13 libraries), so asking
/// for CUDA must fall back to the CPU with one message and give the CPU's results; whether CUDA itself works cannot be
/// checked here.
/// </summary>
public sealed class DeviceTests
{
    [Theory]
    [InlineData("cpu", false, 0)]
    [InlineData("CPU", false, 0)]
    [InlineData("cuda", true, 0)]
    [InlineData("cuda:3", true, 3)]
    public void Device_Parse_ReadsCpuAndCudaIndex(string text, bool cuda, int index)
    {
        Assert.Equal(new ComputeDevice(cuda, index), ComputeDevice.Parse(text));
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda0")]
    public void Device_ParseBadValue_IsBadInputNamingOption(string text)
    {
        var e = Assert.Throws<BadInputException>(() => ComputeDevice.Parse(text));
        Assert.Contains("--device", e.Message);
        Assert.Contains(text, e.Message);
    }

    [Fact]
    public void OrtClassifier_CudaMissing_FallsBackWithOneLineAndCpuLogits()
    {
        string model = RepoPaths.Model("tests/spikformer-d64");
        var set = SharedData.FashionMnist.Slice(0, 16);
        var messages = new List<string>();

        using var cpu = new OrtClassifier(model, InputScaling.PixelOver255, 1, ComputeDevice.Cpu);
        using var cuda = new OrtClassifier(model, InputScaling.PixelOver255, 1, ComputeDevice.Cuda(0), messages.Add);

        Assert.Equal(ComputeDevice.Cpu, cuda.ActualDevice);
        var message = Assert.Single(messages);
        Assert.DoesNotContain('\n', message);
        Assert.StartsWith("cuda:0 is not available (", message);
        Assert.EndsWith("running on the CPU", message);
        Assert.Equal(Accuracy.Evaluate(cpu, set, 8).Logits, Accuracy.Evaluate(cuda, set, 8).Logits);
    }

    /// <summary>The default build is on ONNX Runtime's CPU package: asking it for CUDA says how to get the GPU build.</summary>
    [Fact]
    public void CpuBuild_CudaRequested_SaysHowToGetTheGpuBuild()
    {
        if (OrtSessions.HasCudaProvider)
        {
            return; // the -p:OrtGpu=true build: its fallback is the test above
        }

        var messages = new List<string>();
        Assert.Equal(ComputeDevice.Cpu, OrtSessions.Resolve(ComputeDevice.Cuda(1), messages.Add));
        Assert.Equal($"cuda:1 is not available ({OrtSessions.CpuBuildReason}); running on the CPU", Assert.Single(messages));
        Assert.Contains("AQ4SViT.Cli.Gpu", OrtSessions.CpuBuildReason);
        Assert.Contains("-p:OrtGpu=true", OrtSessions.CpuBuildReason);
    }

    [Theory]
    [InlineData("tests/spikformer-d64", 4)]
    [InlineData("tests/sdt-d64-dynamo", 3)] // external data, fixed batch 1
    public void OrtFullEvaluator_FakeQuantInitializers_EqualOrtOnEmittedFakeQuantFile(string name, int bits)
    {
        using var dir = new TempDir();
        string path = RepoPaths.Model(name);
        var model = OnnxModelFile.Load(path);
        var catalog = WeightCatalog.Find(model);
        var setting = Setting.Uniform(catalog, Granularity.Block, bits);
        var vector = new BitVector(catalog.Select(w => setting.BitsOfWeight(w.Name)));
        var set = SharedData.FashionMnist.Slice(0, 12);
        var emitted = FakeQuantEmitter.Write(model, setting, dir.File("fq.onnx"));
        using var evaluator = new OrtFullEvaluator(model, new WeightTable(model, catalog, QuantizationOptions.Default), InputScaling.PixelOver255, ComputeDevice.Cpu, threads: 1, batch: 5);

        float[] logits = evaluator.Logits(set, vector, CancellationToken.None);
        float[] floatLogits = evaluator.Logits(set, BitVector.AllFloat(catalog.Count), CancellationToken.None);
        using var oracle = new OrtClassifier(emitted.Path, InputScaling.PixelOver255, threads: 1);
        using var floatOracle = new OrtClassifier(path, InputScaling.PixelOver255, threads: 1);

        Assert.Equal(Accuracy.Evaluate(oracle, set, 5).Logits, logits);
        Assert.Equal(Accuracy.Evaluate(floatOracle, set, 5).Logits, floatLogits);
        Assert.NotEqual(floatLogits, logits);
    }

    [Fact]
    public void OrtFullEvaluator_ConcurrentEvaluationsOnOneSession_EqualSerialOnes()
    {
        // Two devices named alike share one session (as cuda:0,cuda:0 does): each evaluation binds its own weights.
        string path = RepoPaths.Model("tests/spikformer-d64");
        var model = OnnxModelFile.Load(path);
        var catalog = WeightCatalog.Find(model);
        var weights = new WeightTable(model, catalog, QuantizationOptions.Default);
        var set = SharedData.FashionMnist.Slice(0, 10);
        BitVector[] settings = [.. new[] { 2, 3, 4, 8 }.Select(b => BitVector.AllFloat(catalog.Count).With(Enumerable.Range(0, catalog.Count), b))];
        using var serial = new OrtFullEvaluator(model, weights, InputScaling.PixelOver255, ComputeDevice.Cpu, 1, 5);
        using var shared = new OrtFullEvaluator(model, weights, InputScaling.PixelOver255, new DevicePool([ComputeDevice.Cpu, ComputeDevice.Cpu]), 1, 5);

        float[][] expected = [.. settings.Select(s => serial.Logits(set, s, CancellationToken.None))];
        var actual = new float[settings.Length * 3][];
        Parallel.For(0, actual.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => actual[i] = shared.Logits(set, settings[i % settings.Length], CancellationToken.None));

        for (int i = 0; i < actual.Length; i++)
        {
            Assert.Equal(expected[i % settings.Length], actual[i]);
        }

        Assert.Equal(4, expected.Select(l => string.Join(",", l)).Distinct().Count());
    }

    [Fact]
    public void OrtFullEvaluator_CudaMissing_TellsOnceAndMatchesCpu()
    {
        string path = RepoPaths.Model("tests/spikformer-d64");
        var model = OnnxModelFile.Load(path);
        var catalog = WeightCatalog.Find(model);
        var weights = new WeightTable(model, catalog, QuantizationOptions.Default);
        var set = SharedData.FashionMnist.Slice(0, 10);
        var messages = new List<string>();
        using var cpu = new OrtFullEvaluator(model, weights, InputScaling.PixelOver255, ComputeDevice.Cpu, 1, 10);
        using var cuda = new OrtFullEvaluator(model, weights, InputScaling.PixelOver255, ComputeDevice.Cuda(1), 1, 10, messages.Add);
        var four = BitVector.AllFloat(catalog.Count).With(Enumerable.Range(0, catalog.Count), 4);

        double first = cuda.Accuracy(set, four, null, CancellationToken.None).Accuracy;
        double second = cuda.Accuracy(set, BitVector.AllFloat(catalog.Count), null, CancellationToken.None).Accuracy;

        Assert.Single(messages);
        Assert.Equal(ComputeDevice.Cpu, cuda.Device);
        Assert.Equal(cpu.Accuracy(set, four, null, CancellationToken.None).Accuracy, first);
        Assert.Equal(cpu.Accuracy(set, BitVector.AllFloat(catalog.Count), null, CancellationToken.None).Accuracy, second);
    }
}
