using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Tests.Graph;

/// <summary>The op table against the ONNX operator specification (inputs, weight operands, changelog).</summary>
public sealed class OpFactsTests
{
    [Theory]
    [InlineData("Slice", 9, 1)]
    [InlineData("Slice", 10, 3)]
    [InlineData("Pad", 10, 1)]
    [InlineData("Pad", 11, 2)]
    [InlineData("BatchNormalization", 17, 5)]
    [InlineData("Where", 17, 3)]
    [InlineData("Range", 17, 3)]
    [InlineData("Conv", 17, 2)]
    [InlineData("MatMul", 17, 2)]
    [InlineData("Add", 17, 2)]
    [InlineData("GreaterOrEqual", 17, 2)]
    [InlineData("ReduceMean", 18, 1)]
    [InlineData("Relu", 17, 1)]
    public void RequiredInputs_FollowTheSpecAtEachOpset(string op, int opset, int inputs) =>
        Assert.Equal(inputs, OpFacts.RequiredInputs(op, opset));

    [Fact]
    public void WeightSlots_AreConvW_GemmB_AndBothMatMulOperandsBFirst()
    {
        Assert.Equal([1], OpFacts.WeightSlots("Conv"));
        Assert.Equal([1], OpFacts.WeightSlots("Gemm"));
        Assert.Equal([1, 0], OpFacts.WeightSlots("MatMul"));
        Assert.Empty(OpFacts.WeightSlots("Add"));
        Assert.Equal(["Conv", "MatMul", "Gemm"], OpFacts.WeightOps);
    }

    [Theory]
    [InlineData("Conv", 1, 4, false, 0)]
    [InlineData("Gemm", 1, 2, true, 0)]
    [InlineData("Gemm", 1, 2, false, 1)]
    [InlineData("MatMul", 1, 2, false, 1)]
    [InlineData("MatMul", 0, 3, false, 1)]
    public void ChannelAxis_IsTheOutputChannelOfTheConsumer(string op, int slot, int rank, bool transB, int axis) =>
        Assert.Equal(axis, OpFacts.ChannelAxis(op, slot, rank, transB));

    [Fact]
    public void HasWeightForm_NeedsTheOperands_AndMatMulExactlyTwo()
    {
        Assert.True(OpFacts.HasWeightForm("Conv", 3));
        Assert.False(OpFacts.HasWeightForm("Conv", 1));
        Assert.True(OpFacts.HasWeightForm("MatMul", 2));
        Assert.False(OpFacts.HasWeightForm("MatMul", 3));
        Assert.False(OpFacts.HasWeightForm("Add", 2));
    }

    [Fact]
    public void AttributesBecomingInputs_FollowTheChangelog()
    {
        Assert.Equal(["axes"], OpFacts.AttributesBecomingInputs("ReduceMean", 17, 18));
        Assert.Empty(OpFacts.AttributesBecomingInputs("ReduceMean", 18, 21));
        Assert.Empty(OpFacts.AttributesBecomingInputs("ReduceSum", 13, 25));
        Assert.Equal(["axes"], OpFacts.AttributesBecomingInputs("Unsqueeze", 11, 13));
        Assert.Empty(OpFacts.AttributesBecomingInputs("Relu", 13, 25));
    }
}
