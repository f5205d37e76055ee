using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Tests.Simulate;

/// <summary>The simulator's buffer pool: best fit among free arrays, at most twice the length asked for.</summary>
public sealed class BufferPoolTests
{
    private const int Big = BufferPool<float>.MinPooled * 4;

    [Fact]
    public void Rent_GivesBackAFreeArrayUpToTwiceTheLength_ElseAllocates()
    {
        var pool = new BufferPool<float>();
        float[] first = pool.Rent(Big);
        Assert.Equal(Big, first.Length);
        pool.Return(first);

        Assert.Same(first, pool.Rent((Big / 2) + 1));
        pool.Return(first);

        float[] small = pool.Rent((Big / 2) - 1);
        Assert.NotSame(first, small);
        Assert.Equal((Big / 2) - 1, small.Length);
    }

    [Fact]
    public void Rent_TakesTheShortestFreeArrayThatFits()
    {
        var pool = new BufferPool<int>();
        int[] longer = pool.Rent(Big + 100);
        int[] shorter = pool.Rent(Big);
        int[] tooShort = pool.Rent(Big - 100);
        pool.Return(longer);
        pool.Return(tooShort);
        pool.Return(shorter);

        Assert.Same(shorter, pool.Rent(Big - 50));
        Assert.Same(longer, pool.Rent(Big - 50));
        Assert.Same(tooShort, pool.Rent(Big - 100));
    }

    [Fact]
    public void ShortArrays_AreNeverPooled()
    {
        var pool = new BufferPool<float>();
        float[] array = pool.Rent(BufferPool<float>.MinPooled - 1);
        pool.Return(array);
        Assert.NotSame(array, pool.Rent(BufferPool<float>.MinPooled - 1));
    }

    [Fact]
    public void Clear_DropsEveryFreeArray()
    {
        var pool = new BufferPool<float>();
        float[] array = pool.Rent(Big);
        pool.Return(array);
        pool.Clear();

        Assert.NotSame(array, pool.Rent(Big));
    }
}
