using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Tests.Emit;

namespace AQ4SViT.Onnx.Tests.Quantize;

public sealed class WeightCatalogTests
{
    [Theory]
    [InlineData("sps.convs.0.0", "sps.convs.0")]
    [InlineData("sps.convs.3.0", "sps.convs.3")]
    [InlineData("sps.rpe.0", "sps.rpe")]
    [InlineData("blocks.0.attn.q.linear", "blocks.0.attn")]
    [InlineData("blocks.1.attn.proj.linear", "blocks.1.attn")]
    [InlineData("blocks.0.mlp.fc1.linear", "blocks.0.mlp")]
    [InlineData("blocks.0.attn.q.conv.0", "blocks.0.attn")]
    [InlineData("blocks.0.attn.proj.0", "blocks.0.attn")]
    [InlineData("blocks.2.mlp.fc2.0", "blocks.2.mlp")]
    [InlineData("blocks.0.attn.q_linear", "blocks.0.attn")]
    [InlineData("head", "head")]
    [InlineData("patch_embed.proj_conv", "patch_embed.proj_conv")]
    public void BlockOf_ModulePaths_OfBothArchitectures(string module, string block)
    {
        Assert.Equal(block, WeightCatalog.BlockOf(module));
    }

    [Theory]
    [InlineData("/sps/convs.0/convs.0.0/Conv", "sps.convs.0.0")]
    [InlineData("/sps/rpe/rpe.0/Conv", "sps.rpe.0")]
    [InlineData("/blocks.0/attn/q/linear/MatMul", "blocks.0.attn.q.linear")]
    [InlineData("/head/MatMul", "head")]
    [InlineData("/ReduceMean", null)]
    [InlineData("node_MatMul_12", null)]
    public void ModulePathOfNode_TorchScriptScopes(string nodeName, string? module)
    {
        Assert.Equal(module, WeightCatalog.ModulePathOfNode(new NodeProto { Name = nodeName, OpType = "MatMul" }));
    }

    [Fact]
    public void ModulePathOfNode_DynamoNameScopes_TakesDeepestModule()
    {
        var node = new NodeProto { Name = "node_linear_3", OpType = "MatMul" };
        node.MetadataProps.Add(new StringStringEntryProto { Key = "pkg.torch.onnx.name_scopes", Value = "['', 'blocks.0', 'blocks.0.mlp', 'blocks.0.mlp.fc1', 'blocks.0.mlp.fc1.linear', 'linear']" });

        Assert.Equal("blocks.0.mlp.fc1.linear", WeightCatalog.ModulePathOfNode(node));
    }

    [Fact]
    public void Find_BuiltModel_AxesFollowOpAndTranspose()
    {
        using var dir = new TempDir();
        var model = TestModels.Save(TestModels.ConvGemmMatMul(), dir.File("m.onnx"));

        var weights = WeightCatalog.Find(model);

        Assert.Equal(new[] { "conv.weight", "fc.weight", "proj.weight", "onnx::MatMul_9" }, weights.Select(w => w.Name));
        Assert.Equal(new[] { 0, 0, 0, 1 }, weights.Select(w => w.ChannelAxis));        // Conv; Gemm transB=1; MatMul through Transpose [1,0]; MatMul B
        Assert.Equal(new[] { "Conv", "Gemm", "MatMul", "MatMul" }, weights.Select(w => w.OpType));
        Assert.Equal(new[] { "conv", "fc", "proj", "head" }, weights.Select(w => w.Block));
        Assert.Equal(new long[] { 72, 12, 15, 20 }, weights.Select(w => w.Params));
    }

    [Fact]
    public void Find_GemmWithoutTransB_ChannelAxisOne()
    {
        var proto = TestModels.ConvGemmMatMul();
        proto.Graph.Node.Single(n => n.OpType == "Gemm").Attribute.Clear();
        var model = OnnxModelFile.FromProto(proto, "mem.onnx");

        Assert.Equal(1, WeightCatalog.Find(model).Single(w => w.Name == "fc.weight").ChannelAxis);
    }

    [Fact]
    public void Find_DynamoStyleLinear_ThroughTransposeAndIdentity_BlockFromParameterName()
    {
        var rng = new Random(1);
        var g = new GraphProto();
        g.Input.Add(TestModels.ValueInfo("x", [2, 8]));
        g.Output.Add(TestModels.ValueInfo("y", [2, 6]));
        g.Initializer.Add(TestModels.Floats("blocks.0.attn.q_linear.weight", [6, 8], rng));
        g.Node.Add(TestModels.Node("Identity", "node_Identity_0", ["blocks.0.attn.q_linear.weight"], ["w_id"]));
        g.Node.Add(TestModels.Node("Transpose", "node_Transpose_1", ["w_id"], ["w_t"], TestModels.Ints("perm", 1, 0)));
        g.Node.Add(TestModels.Node("MatMul", "node_MatMul_2", ["x", "w_t"], ["y"]));
        var proto = new ModelProto { IrVersion = 10, Graph = g };
        proto.OpsetImport.Add(new OperatorSetIdProto { Version = 18 });

        var w = WeightCatalog.Find(OnnxModelFile.FromProto(proto, "mem.onnx")).Single();

        Assert.Equal(0, w.ChannelAxis);
        Assert.Equal("blocks.0.attn", w.Block);
        Assert.Equal(6, w.Channels);
    }

    [Fact]
    public void Groups_EachGranularity_InGraphOrder()
    {
        using var dir = new TempDir();
        var weights = WeightCatalog.Find(TestModels.Save(TestModels.ConvGemmMatMul(), dir.File("m.onnx")));

        var network = WeightCatalog.Groups(weights, Granularity.Network);
        var block = WeightCatalog.Groups(weights, Granularity.Block);
        var layer = WeightCatalog.Groups(weights, Granularity.Layer);

        Assert.Equal("network", network.Single().Name);
        Assert.Equal(119, network.Single().Params);
        Assert.Equal(new[] { "conv", "fc", "proj", "head" }, block.Select(g => g.Name));
        Assert.Equal(new[] { "conv", "fc", "proj", "head" }, layer.Select(g => g.Name));      // module paths
        Assert.Equal(weights.Select(w => w.Name), layer.Select(g => g.Weights.Single()));     // members: initializer names
    }

    [Fact]
    public void Find_TwoWeightsOneModulePath_SecondInGraphOrderGetsSuffix()
    {
        var rng = new Random(1);
        var g = new GraphProto();
        g.Input.Add(TestModels.ValueInfo("x", [2, 4]));
        g.Output.Add(TestModels.ValueInfo("y", [2, 4]));
        g.Initializer.Add(TestModels.Floats("onnx::MatMul_7", [4, 4], rng));
        g.Initializer.Add(TestModels.Floats("onnx::MatMul_8", [4, 4], rng));
        g.Initializer.Add(TestModels.Floats("onnx::MatMul_9", [4, 4], rng));
        g.Node.Add(TestModels.Node("MatMul", "/mix/MatMul", ["x", "onnx::MatMul_7"], ["a"]));
        g.Node.Add(TestModels.Node("MatMul", "/mix/MatMul_1", ["a", "onnx::MatMul_8"], ["b"]));
        g.Node.Add(TestModels.Node("MatMul", "MatMul_2", ["b", "onnx::MatMul_9"], ["y"]));   // no scope: the initializer name
        var proto = new ModelProto { IrVersion = 8, Graph = g };
        proto.OpsetImport.Add(new OperatorSetIdProto { Version = 17 });

        var weights = WeightCatalog.Find(OnnxModelFile.FromProto(proto, "mem.onnx"));

        Assert.Equal(new[] { "mix", "mix#2", "onnx::MatMul_9" }, weights.Select(w => w.DisplayName));
        Assert.Equal(new[] { "mix", "mix#2", "onnx::MatMul_9" }, WeightCatalog.Groups(weights, Granularity.Layer).Select(x => x.Name));
    }

    [Fact]
    public void Find_SpikformerFixture_PatchStagesBlocksAndHead()
    {
        var model = OnnxModelFile.Load(TestModels.Fixture("spikformer-tiny.onnx"));

        var weights = WeightCatalog.Find(model);
        var blocks = WeightCatalog.Groups(weights, Granularity.Block);

        Assert.Equal(
            new[] { "sps.convs.0", "sps.convs.1", "sps.convs.2", "sps.convs.3", "sps.rpe", "blocks.0.attn", "blocks.0.mlp", "head" },
            blocks.Select(g => g.Name));
        Assert.Equal(4, blocks.Single(g => g.Name == "blocks.0.attn").Weights.Count); // q, k, v, proj
        Assert.All(weights.Where(w => w.OpType == "Conv"), w => Assert.Equal(0, w.ChannelAxis));
        Assert.All(weights.Where(w => w.OpType == "MatMul"), w => Assert.Equal(1, w.ChannelAxis));
        Assert.Equal(weights.Count, WeightCatalog.Groups(weights, Granularity.Layer).Count);
    }

    [Fact]
    public void Find_SdtFixture_ConvBlocksAndMatMulHead()
    {
        var model = OnnxModelFile.Load(TestModels.Fixture("sdt-tiny.onnx"));

        var blocks = WeightCatalog.Groups(WeightCatalog.Find(model), Granularity.Block);

        Assert.Equal(
            new[] { "sps.convs.0", "sps.convs.1", "sps.convs.2", "sps.convs.3", "sps.rpe", "blocks.0.attn", "blocks.0.mlp", "head" },
            blocks.Select(g => g.Name));
        Assert.Equal(2, blocks.Single(g => g.Name == "blocks.0.mlp").Weights.Count);
    }

    [Theory]
    [MemberData(nameof(RepoPaths.BundledModels), MemberType = typeof(RepoPaths))]
    public void Find_BundledModel_EveryWeightInOneBlock(string name)
    {
        string path = RepoPaths.Model(name);
        if (!File.Exists(path))
        {
            return; // bundled models land in models/ separately; nothing to check until they do
        }

        var weights = WeightCatalog.Find(OnnxModelFile.Load(path));
        var blocks = WeightCatalog.Groups(weights, Granularity.Block);

        Assert.NotEmpty(weights);
        Assert.Contains(blocks, g => g.Name == "head");
        Assert.Contains(blocks, g => g.Name.StartsWith("sps.", StringComparison.Ordinal));
        Assert.Contains(blocks, g => g.Name.EndsWith(".attn", StringComparison.Ordinal));
        Assert.Contains(blocks, g => g.Name.EndsWith(".mlp", StringComparison.Ordinal));
        Assert.Equal(weights.Count, blocks.Sum(g => g.Weights.Count));
        Assert.DoesNotContain(weights, w => w.Block == w.Name); // every weight found a module scope
    }
}
