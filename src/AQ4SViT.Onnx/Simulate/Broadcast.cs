using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Simulate;

/// <summary>
/// ONNX (numpy) multidirectional broadcasting, planned once per call: the output shape, and for each operand the
/// offsets of contiguous inner blocks so kernels run TensorPrimitives over runs instead of per element.
/// </summary>
internal readonly struct Broadcast
{
    public Broadcast(int[] outShape, long[] aStrides, long[] bStrides, int inner, bool aInnerScalar, bool bInnerScalar)
    {
        OutShape = outShape;
        AStrides = aStrides;
        BStrides = bStrides;
        Inner = inner;
        AInnerScalar = aInnerScalar;
        BInnerScalar = bInnerScalar;
    }

    public int[] OutShape { get; }
    public long[] AStrides { get; }
    public long[] BStrides { get; }

    /// <summary>Length of the contiguous inner run of the output.</summary>
    public int Inner { get; }

    /// <summary>True when A is one value across the inner run (broadcast), false when it is a contiguous run.</summary>
    public bool AInnerScalar { get; }
    public bool BInnerScalar { get; }

    public int OuterCount => Inner == 0 ? 0 : Tensor.SizeOf(OutShape) / Inner;

    public static int[] Shape(int[] a, int[] b, Func<string> where)
    {
        int rank = Math.Max(a.Length, b.Length);
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
            {
                Core.Throw.BadInput($"{where()}: shapes [{string.Join(",", a)}] and [{string.Join(",", b)}] do not broadcast");
            }

            shape[i] = da == 1 ? db : da;
        }

        return shape;
    }

    public static Broadcast Plan(int[] a, int[] b, Func<string> where)
    {
        int[] shape = Shape(a, b, where);
        int rank = shape.Length;
        long[] sa = Strides(a, shape);
        long[] sb = Strides(b, shape);

        // Grow the inner run from the last axis while each operand stays either contiguous (1) or broadcast (0).
        int inner = 1;
        int modeA = -1;
        int modeB = -1;
        int axis = rank - 1;
        for (; axis >= 0; axis--)
        {
            int d = shape[axis];
            if (d == 1)
            {
                continue;
            }

            int ma = sa[axis] == 0 ? 0 : (sa[axis] == inner ? 1 : 2);
            int mb = sb[axis] == 0 ? 0 : (sb[axis] == inner ? 1 : 2);
            if (ma == 2 || mb == 2 || (modeA != -1 && ma != modeA) || (modeB != -1 && mb != modeB))
            {
                break;
            }

            modeA = ma;
            modeB = mb;
            inner *= d;
        }

        int total = Tensor.SizeOf(shape);
        return new Broadcast(shape, sa[..(axis + 1)], sb[..(axis + 1)], total == 0 ? 0 : inner, modeA == 0, modeB == 0)
        {
            OuterShape = shape[..(axis + 1)],
        };
    }

    /// <summary>Output dims that step the outer loop (the leading axes not folded into <see cref="Inner"/>).</summary>
    public int[] OuterShape { get; init; } = [];

    /// <summary>Strides of <paramref name="shape"/> aligned to <paramref name="outShape"/>; 0 where broadcast.</summary>
    public static long[] Strides(int[] shape, int[] outShape)
    {
        int rank = outShape.Length;
        var strides = new long[rank];
        long s = 1;
        for (int i = rank - 1; i >= 0; i--)
        {
            int j = i - (rank - shape.Length);
            int d = j >= 0 ? shape[j] : 1;
            strides[i] = d == 1 ? 0 : s;
            s *= d;
        }

        return strides;
    }

    /// <summary>Offsets of A and B for outer index <paramref name="outer"/>.</summary>
    public (int A, int B) Offsets(int outer)
    {
        long oa = 0;
        long ob = 0;
        var shape = OuterShape;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            int d = shape[i];
            int idx = outer % d;
            outer /= d;
            oa += idx * AStrides[i];
            ob += idx * BStrides[i];
        }

        return ((int)oa, (int)ob);
    }
}
