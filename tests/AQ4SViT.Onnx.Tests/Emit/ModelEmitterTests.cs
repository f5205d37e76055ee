using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Quantize;
using DataType = AQ4SViT.Onnx.Import.Proto.TensorProto.Types.DataType;

namespace AQ4SViT.Onnx.Tests.Emit;

public sealed class ModelEmitterTests
{
    public static TheoryData<int, bool, bool, int> Configurations() => new()
    {
        // bits, per-channel, symmetric, expected opset
        { 4, true, true, 21 },
        { 3, true, false, 21 },
        { 2, false, true, 21 },
        { 8, true, true, 17 },
        { 6, false, false, 17 },
        { 16, true, true, 21 },
        { 16, true, false, 21 },
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Qdq_RunsInOrt_SameLogitsAsFakeQuant(int bits, bool perChannel, bool symmetric, int opset)
    {
        using var dir = new TempDir();
        var model = TestModels.Save(TestModels.ConvGemmMatMul(), dir.File("float.onnx"));
        var setting = Setting.Uniform(WeightCatalog.Find(model), Granularity.Layer, bits, new QuantizationOptions(perChannel, symmetric));
        float[] x = TestModels.RandomInput(TestModels.InputShape);

        var qdq = QdqEmitter.Write(model, setting, dir.File("q.onnx"));
        var fake = FakeQuantEmitter.Write(model, setting, dir.File("fq.onnx"));

        Assert.Equal(opset, qdq.Opset);
        Assert.Equal(17, fake.Opset);
        float[] yq = TestModels.Run(qdq.Path, x, TestModels.InputShape);
        float[] yf = TestModels.Run(fake.Path, x, TestModels.InputShape);
        TestModels.AssertClose(yf, yq, 1e-4);
        float[] y = TestModels.Run(model.Path, x, TestModels.InputShape);
        Assert.NotEqual(y, yq); // quantization did change something
    }

    [Fact]
    public void Qdq_Int4_MatchesHandFakeQuantizedFloatModel()
    {
        using var dir = new TempDir();
        var proto = TestModels.ConvGemmMatMul(seed: 5);
        var model = TestModels.Save(proto, dir.File("float.onnx"));
        var weights = WeightCatalog.Find(model);
        var setting = Setting.Uniform(weights, Granularity.Network, 4);
        // Independent reference: symmetric per-channel 4-bit, scale = max|w|/7, round half to even, in plain loops.
        var hand = proto.Clone();
        foreach (var w in weights)
        {
            var t = hand.Graph.Initializer.Single(i => i.Name == w.Name);
            float[] v = TensorDecoder.ToFloats(t, dir.Path);
            long inner = w.Shape.Skip(w.ChannelAxis + 1).Aggregate(1L, (a, b) => a * b);
            long channels = w.Shape[w.ChannelAxis];
            var max = new double[channels];
            for (long i = 0; i < v.Length; i++)
            {
                max[i / inner % channels] = Math.Max(max[i / inner % channels], Math.Abs(v[i]));
            }

            for (long i = 0; i < v.Length; i++)
            {
                float scale = max[i / inner % channels] == 0 ? 1f : (float)(max[i / inner % channels] / 7);
                v[i] = (float)Math.Round(v[i] / (double)scale, MidpointRounding.ToEven) * scale;
            }

            hand.Graph.Initializer[hand.Graph.Initializer.IndexOf(t)] = QuantizedTensors.FloatTensor(w.Name, w.Shape, v);
        }

        TestModels.Save(hand, dir.File("hand.onnx"));
        float[] x = TestModels.RandomInput(TestModels.InputShape, seed: 11);

        var qdq = QdqEmitter.Write(model, setting, dir.File("q.onnx"));

        TestModels.AssertClose(TestModels.Run(dir.File("hand.onnx"), x, TestModels.InputShape), TestModels.Run(qdq.Path, x, TestModels.InputShape), 1e-4);
    }

    [Fact]
    public void Qdq_Int4_GraphKeepsEveryNodeAndStoresPackedWeights()
    {
        using var dir = new TempDir();
        var model = TestModels.Save(TestModels.ConvGemmMatMul(), dir.File("float.onnx"));
        var setting = Setting.Create(WeightCatalog.Find(model), Granularity.Layer, new Dictionary<string, int> { ["conv"] = 4, ["proj"] = 8, ["head"] = 16 });

        var result = QdqEmitter.Write(model, setting, dir.File("q.onnx"));
        var q = OnnxModelFile.Load(result.Path);

        Assert.Equal(10L, q.Proto.IrVersion);
        Assert.Equal(21, q.DefaultOpset);
        var original = model.Graph.Node.Select(n => n.Name).ToList();
        var dq = q.Graph.Node.Take(3).ToList();
        Assert.All(dq, n => Assert.Equal("DequantizeLinear", n.OpType));
        Assert.Equal(new[] { "conv.weight", "proj.weight", "onnx::MatMul_9" }, dq.Select(n => n.Output.Single()));
        Assert.Equal(original, q.Graph.Node.Skip(3).Select(n => n.Name));
        Assert.Equal(new long[] { 0, 0, 1 }, dq.Select(n => n.Attribute.Single(a => a.Name == "axis").I));
        var init = q.InitializersByName();
        Assert.Equal(DataType.Int4, (DataType)init["conv.weight_quantized"].DataType);
        Assert.Equal(36, init["conv.weight_quantized"].RawData.Length);       // 72 values, two per byte
        Assert.Equal(DataType.Int8, (DataType)init["proj.weight_quantized"].DataType);
        Assert.Equal(DataType.Int16, (DataType)init["onnx::MatMul_9_quantized"].DataType);
        Assert.Equal(40, init["onnx::MatMul_9_quantized"].RawData.Length);
        Assert.Equal(new long[] { 4 }, init["onnx::MatMul_9_scale"].Dims);     // one scale per output column of [5,4]
        Assert.True(init.ContainsKey("fc.weight"));                             // FP32 group untouched
        Assert.False(init.ContainsKey("conv.weight"));
        // Unpacked INT4 values are the quantizer's.
        var expected = WeightQuantizer.Quantize(TensorDecoder.ToFloats(model.InitializersByName()["conv.weight"], dir.Path), [4, 2, 3, 3], 0, 4, QuantizationOptions.Default);
        Assert.Equal(expected.Values, IntPacking.Unpack(init["conv.weight_quantized"].RawData.Span, 72, 4, signed: true));
        // The ReduceMean axes attribute became an input at opset 21.
        var reduce = q.Graph.Node.Single(n => n.OpType == "ReduceMean");
        Assert.DoesNotContain(reduce.Attribute, a => a.Name == "axes");
        Assert.Equal(new long[] { 2, 3 }, TensorDecoder.ToInt64s(init[reduce.Input[1]], dir.Path));
        Assert.Equal(setting.ToJson().TrimEnd('\n'), q.Proto.MetadataProps.Single(p => p.Key == ModelEmitter.SettingMetadataKey).Value);
    }

    [Fact]
    public void OpsetUpgrade_ReduceMeanAxesAttribute_SameResultInOrt()
    {
        using var dir = new TempDir();
        var proto = TestModels.ConvGemmMatMul();
        TestModels.Save(proto, dir.File("opset17.onnx"));
        var upgraded = proto.Clone();

        OpsetUpgrader.Upgrade(upgraded, 21, "m.onnx");
        TestModels.Save(upgraded, dir.File("opset21.onnx"));

        float[] x = TestModels.RandomInput(TestModels.InputShape);
        Assert.Equal(TestModels.Run(dir.File("opset17.onnx"), x, TestModels.InputShape), TestModels.Run(dir.File("opset21.onnx"), x, TestModels.InputShape));
        Assert.Equal(21L, upgraded.OpsetImport.Single().Version);
        Assert.Equal(10L, upgraded.IrVersion);
    }

    [Fact]
    public void OpsetUpgrade_SplitWithoutSizes_GetsNumOutputs_AndTooOldOpsetRefused()
    {
        var proto = TestModels.ConvGemmMatMul();
        proto.Graph.Node.Add(TestModels.Node("Split", "/split", ["Y"], ["s0", "s1"], TestModels.Int("axis", 1)));
        OpsetUpgrader.Upgrade(proto, 21, "m.onnx");
        Assert.Equal(2, proto.Graph.Node.Single(n => n.OpType == "Split").Attribute.Single(a => a.Name == "num_outputs").I);

        var old = TestModels.ConvGemmMatMul(opset: 11);
        var e = Assert.Throws<BadInputException>(() => OpsetUpgrader.Upgrade(old, 21, "old.onnx"));
        Assert.Contains("old.onnx", e.Message);
    }

    [Fact]
    public void Qdq_Int2Storage_Opset25RunsInOrt()
    {
        using var dir = new TempDir();
        var model = TestModels.Save(TestModels.ConvGemmMatMul(), dir.File("float.onnx"));
        var setting = Setting.Uniform(WeightCatalog.Find(model), Granularity.Network, 2);
        float[] x = TestModels.RandomInput(TestModels.InputShape);

        var qdq = QdqEmitter.Write(model, setting, dir.File("q2.onnx"), new EmitOptions(StorageWidths.Int2));
        var int4 = QdqEmitter.Write(model, setting, dir.File("q4.onnx"));
        var fake = FakeQuantEmitter.Write(model, setting, dir.File("fq.onnx"));

        Assert.Equal(25, qdq.Opset);
        Assert.Equal(DataType.Int2, (DataType)OnnxModelFile.Load(qdq.Path).InitializersByName()["conv.weight_quantized"].DataType);
        Assert.True(qdq.OnnxFileBytes < int4.OnnxFileBytes);
        TestModels.AssertClose(TestModels.Run(fake.Path, x, TestModels.InputShape), TestModels.Run(qdq.Path, x, TestModels.InputShape), 1e-4);
    }

    [Fact]
    public void Write_SameModelAndSetting_ByteIdenticalAndNoTempFilesLeft()
    {
        using var dir = new TempDir();
        var model = TestModels.Save(TestModels.ConvGemmMatMul(), dir.File("float.onnx"));
        var setting = Setting.Uniform(WeightCatalog.Find(model), Granularity.Block, 4);

        QdqEmitter.Write(model, setting, dir.File("a.onnx"));
        QdqEmitter.Write(OnnxModelFile.Load(model.Path), Setting.Parse(setting.ToJson(), "s"), dir.File("b.onnx"));
        QdqEmitter.Write(model, setting, dir.File("a.onnx")); // overwrite in place
        FakeQuantEmitter.Write(model, setting, dir.File("fa.onnx"));
        FakeQuantEmitter.Write(model, setting, dir.File("fb.onnx"));

        Assert.Equal(File.ReadAllBytes(dir.File("a.onnx")), File.ReadAllBytes(dir.File("b.onnx")));
        Assert.Equal(File.ReadAllBytes(dir.File("fa.onnx")), File.ReadAllBytes(dir.File("fb.onnx")));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void Write_FailingModel_LeavesExistingOutputUntouched()
    {
        using var dir = new TempDir();
        var proto = TestModels.ConvGemmMatMul();
        var t = proto.Graph.Initializer.Single(i => i.Name == "fc.weight");
        var values = TensorDecoder.ToFloats(t, dir.Path);
        values[3] = float.NaN;
        proto.Graph.Initializer[proto.Graph.Initializer.IndexOf(t)] = QuantizedTensors.FloatTensor("fc.weight", [3, 4], values);
        var model = TestModels.Save(proto, dir.File("nan.onnx"));
        File.WriteAllText(dir.File("q.onnx"), "previous");

        var e = Assert.Throws<BadInputException>(() => QdqEmitter.Write(model, Setting.Uniform(WeightCatalog.Find(model), Granularity.Network, 4), dir.File("q.onnx")));

        Assert.Contains("fc.weight", e.Message);
        Assert.Equal("previous", File.ReadAllText(dir.File("q.onnx")));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(2)]
    public void Qdq_FileSize_WithinTenPercentOfPackedWeightsPlusGraph(int bits)
    {
        using var dir = new TempDir();
        var model = TestModels.Save(TestModels.ConvGemmMatMul(scale: 24), dir.File("float.onnx"));
        var weights = WeightCatalog.Find(model);
        var setting = Setting.Uniform(weights, Granularity.Layer, bits);

        var result = QdqEmitter.Write(model, setting, dir.File("q.onnx"));

        long floatFile = new FileInfo(model.Path).Length;
        double graphBytes = floatFile - result.Memory.Fp32WeightBytes;
        double predicted = result.Memory.StoredWeightBytes + result.Memory.ScaleOverheadBytes + graphBytes;
        Assert.InRange(result.TotalBytes, predicted * 0.9, predicted * 1.1);
        Assert.True(result.TotalBytes < floatFile * (bits + 4) / 32.0, $"{result.TotalBytes} of {floatFile}");
    }

    [Fact]
    public void Write_ExternalDataSource_KeepsExternalDataBesideOutput()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("src"));
        Directory.CreateDirectory(dir.File("out"));
        var proto = TestModels.ConvGemmMatMul(scale: 8);
        TestModels.Save(proto, dir.File("inline.onnx"));
        ModelWriter.Write(proto.Clone(), dir.File("src/model.onnx"), dir.Path, externalData: true);
        var external = OnnxModelFile.Load(dir.File("src/model.onnx"));
        Assert.True(ModelWriter.HasExternalData(external.Proto));
        var setting = Setting.Uniform(WeightCatalog.Find(external), Granularity.Network, 4);
        float[] x = TestModels.RandomInput(TestModels.InputShape);

        var q = QdqEmitter.Write(external, setting, dir.File("out/q.onnx"));
        var fq = FakeQuantEmitter.Write(external, setting, dir.File("out/fq.onnx"));
        var inlineQ = QdqEmitter.Write(OnnxModelFile.Load(dir.File("inline.onnx")), setting, dir.File("inline-q.onnx"));

        Assert.Equal(dir.File("out/q.onnx.data"), q.DataPath);
        Assert.True(File.Exists(dir.File("out/fq.onnx.data")));
        Assert.Null(inlineQ.DataPath);
        var reloaded = OnnxModelFile.Load(q.Path);
        Assert.All(reloaded.Graph.Initializer.Where(TensorDecoder.IsExternal), t => Assert.Equal("q.onnx.data", t.ExternalData.Single(e => e.Key == "location").Value));
        float[] expected = TestModels.Run(inlineQ.Path, x, TestModels.InputShape);
        Assert.Equal(expected, TestModels.Run(q.Path, x, TestModels.InputShape));
        TestModels.AssertClose(expected, TestModels.Run(fq.Path, x, TestModels.InputShape), 1e-4);
    }

    [Fact]
    public void Write_OverSourceModel_Refused()
    {
        using var dir = new TempDir();
        var model = TestModels.Save(TestModels.ConvGemmMatMul(), dir.File("float.onnx"));

        Assert.Throws<BadInputException>(() => QdqEmitter.Write(model, Setting.Uniform(WeightCatalog.Find(model), Granularity.Network, 4), model.Path));
    }
}
