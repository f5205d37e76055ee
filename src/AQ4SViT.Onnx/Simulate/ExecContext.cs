namespace AQ4SViT.Onnx.Simulate;

/// <summary>State of one run shared by the kernels: threads, the membrane observer, where this chunk's images start.</summary>
internal sealed class ExecContext(int threads)
{
    public ParallelOptions Options { get; } = new() { MaxDegreeOfParallelism = threads <= 0 ? Environment.ProcessorCount : threads };

    public int Threads => Options.MaxDegreeOfParallelism;

    /// <summary>Null when nobody observes: the LIF kernel then records nothing.</summary>
    public IMembraneObserver? Observer { get; init; }

    /// <summary>Sees each node's input and output shapes after it runs (<see cref="INodeObserver"/>); null: nothing is reported.</summary>
    public INodeObserver? NodeObserver { get; init; }

    /// <summary>Whether a value is a graph constant (weights): ONNX Runtime pre-packs such GEMM operands, which changes its K-blocking.</summary>
    public Func<string, bool>? IsConstant { get; init; }

    /// <summary>Index of this run's first image in the caller's batch (fixed-batch models run chunk by chunk).</summary>
    public int BatchOffset { get; init; }

    /// <summary>Runs body(i) for i in [0, count), in parallel when it pays.</summary>
    public void For(int count, Action<int> body)
    {
        if (Threads <= 1 || count <= 1)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }

            return;
        }

        Parallel.For(0, count, Options, body);
    }

    /// <summary>
    /// Runs body(start, end) over contiguous ranges covering [0, count): about four per thread, so that uneven work
    /// still spreads, while each range amortises the cost of scheduling.
    /// </summary>
    public void ForRanges(int count, Action<int, int> body)
    {
        int ranges = Math.Min(count, Threads * 4);
        For(ranges, r => body((int)((long)count * r / ranges), (int)((long)count * (r + 1) / ranges)));
    }

    public static ExecContext Serial { get; } = new(1);

    /// <summary>A copy that knows the graph's constants.</summary>
    public ExecContext With(Graph.SpikingGraph graph) => new(Threads)
    {
        Observer = Observer,
        NodeObserver = NodeObserver,
        BatchOffset = BatchOffset,
        IsConstant = graph.Constants.ContainsKey,
    };
}
