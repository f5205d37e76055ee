using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Simulate;

/// <summary>
/// Our LIF simulator for an exported SViT. <see cref="Load"/> prepares once (decode, fold, fuse LIF layers);
/// <see cref="Run(ReadOnlySpan{float}, int, IReadOnlyDictionary{string, float[]}?, IMembraneObserver?)"/> runs any number
/// of times, optionally with float weight overrides (fake-quantized weights; no reload) and a membrane observer.
/// A model exported with a fixed batch runs chunk by chunk (chunks in parallel), so any batch works.
/// Thread-safe for concurrent runs.
/// </summary>
public sealed class Simulator
{
    public Simulator(SpikingGraph graph, int threads = 0)
    {
        Graph = graph;
        Threads = threads;
        var axes = graph.InputAxes;
        if (graph.InputDims.Length < 2 || graph.InputDims.Where((_, i) => i != axes.Batch).Any(d => d <= 0))
        {
            Throw.BadTensor(graph.InputName, $"{graph.ModelPath}: input dims [{string.Join(",", graph.InputDims)}] must be fixed except the batch");
        }

        ImageDims = axes.SampleDims(graph.InputDims);
        ImageSize = ImageDims.Aggregate(1, (a, b) => a * b);
        Classes = graph.OutputDims.Length > 0 && graph.OutputDims[^1] > 0 ? graph.OutputDims[^1] : ProbeClasses();
    }

    /// <summary>Prepares a model file: load, decode initializers, fold constants, recognise LIF layers.</summary>
    public static Simulator Load(string modelPath, int threads = 0) => new(GraphLoader.Load(modelPath), threads);

    public SpikingGraph Graph { get; }

    public IReadOnlyList<LifLayer> LifLayers => Graph.LifLayers;

    public IReadOnlyList<WeightTensor> Weights => Graph.Weights;

    /// <summary>Worker threads per run (0: all cores).</summary>
    public int Threads { get; set; }

    /// <summary>Floats per sample: C·H·W per image, T·C·H·W per sample of frames.</summary>
    public int ImageSize { get; }

    /// <summary>
    /// One sample's dims (the input's without the batch, time first), e.g. (1, 28, 28) for images or (4, 2, 32, 32) for
    /// frames: <see cref="Run(ReadOnlySpan{float}, int, IReadOnlyDictionary{string, float[]}?, IMembraneObserver?)"/> takes
    /// samples one after the other in this layout, whatever axis of the input is the batch.
    /// </summary>
    public int[] ImageDims { get; }

    /// <summary>Which input axis is the batch and which is time.</summary>
    public InputAxes InputAxes => Graph.InputAxes;

    public int Classes { get; }

    /// <summary>Logits (batch × <see cref="Classes"/>) of <paramref name="batch"/> images, NCHW floats in <paramref name="input"/>.</summary>
    public float[] Run(ReadOnlySpan<float> input, int batch, IReadOnlyDictionary<string, float[]>? weightOverrides = null, IMembraneObserver? observer = null)
    {
        var logits = new float[batch * Classes];
        Run(input, batch, logits, weightOverrides, observer);
        return logits;
    }

    public void Run(ReadOnlySpan<float> input, int batch, Span<float> logits, IReadOnlyDictionary<string, float[]>? weightOverrides = null, IMembraneObserver? observer = null)
    {
        Execute(Images(input, batch), batch, logits, weightOverrides, observer, null, null);
    }

    /// <summary>
    /// As <see cref="Run(ReadOnlySpan{float}, int, IReadOnlyDictionary{string, float[]}?, IMembraneObserver?)"/>, also keeping
    /// the values alive before each of <paramref name="nodes"/> (per chunk) so that <see cref="RunFrom"/> can start there.
    /// </summary>
    public float[] RunRecording(ReadOnlySpan<float> input, int batch, IEnumerable<int> nodes, out Prefix prefix, IReadOnlyDictionary<string, float[]>? weightOverrides = null, IMembraneObserver? observer = null)
    {
        var logits = new float[batch * Classes];
        int[] wanted = [.. nodes];
        var perChunk = new LiveValues[ChunkCount(batch)];
        for (int i = 0; i < perChunk.Length; i++)
        {
            perChunk[i] = new LiveValues(wanted);
        }

        Execute(Images(input, batch), batch, logits, weightOverrides, observer, perChunk, null);
        prefix = new Prefix(batch, perChunk);
        return logits;
    }

    /// <summary>
    /// Logits of the batch recorded in <paramref name="prefix"/>, computed from the values recorded before <paramref name="node"/>:
    /// the same result as a whole run when no node before it reads a weight that differs between the two runs.
    /// </summary>
    public float[] RunFrom(Prefix prefix, int node, IReadOnlyDictionary<string, float[]>? weightOverrides = null, IMembraneObserver? observer = null)
    {
        if (!prefix.Has(node))
        {
            throw new ArgumentException($"no values were recorded before node {node}", nameof(node));
        }

        var logits = new float[prefix.Batch * Classes];
        Execute(null, prefix.Batch, logits, weightOverrides, observer, null, (node, prefix.Chunks));
        return logits;
    }

    /// <summary>The live values of one recorded run, per chunk of a fixed-batch model.</summary>
    public sealed class Prefix
    {
        internal Prefix(int batch, LiveValues[] chunks)
        {
            Batch = batch;
            Chunks = chunks;
        }

        public int Batch { get; }

        internal LiveValues[] Chunks { get; }

        /// <summary>Floats held by the recorded copies.</summary>
        public long Floats => Chunks.Sum(c => c.Floats);

        public bool Has(int node) => Chunks.All(c => c.Has(node));
    }

    /// <summary>A copy of the first <paramref name="batch"/> images of <paramref name="input"/>, which must hold them.</summary>
    private float[] Images(ReadOnlySpan<float> input, int batch)
    {
        if (input.Length < batch * ImageSize)
        {
            throw new ArgumentException($"{input.Length} floats for {batch} images of {ImageSize}", nameof(input));
        }

        return input[..(batch * ImageSize)].ToArray();
    }

    private int ChunkCount(int batch)
    {
        int chunk = Graph.FixedBatch ?? batch;
        return (batch + chunk - 1) / chunk;
    }

    private void Execute(float[]? data, int batch, Span<float> logits, IReadOnlyDictionary<string, float[]>? weightOverrides, IMembraneObserver? observer,
        LiveValues[]? record, (int Node, LiveValues[] From)? resume)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (logits.Length < batch * Classes)
        {
            throw new ArgumentException($"room for {logits.Length} logits, need {batch * Classes}", nameof(logits));
        }

        var overrides = PrepareOverrides(weightOverrides);
        int chunk = Graph.FixedBatch ?? batch;
        int chunks = ChunkCount(batch);
        int threads = Threads <= 0 ? Environment.ProcessorCount : Threads;
        var output = new float[batch * Classes];
        bool parallelChunks = chunks > 1 && threads > 1;
        var safeObserver = observer is null ? null : parallelChunks ? new LockedObserver(observer) : observer;

        void RunChunk(int ci, int innerThreads)
        {
            int start = ci * chunk;
            int count = Math.Min(chunk, batch - start);
            Tensor? feed = null;
            if (data is not null)
            {
                var floats = new float[chunk * ImageSize];
                Array.Copy(data, start * ImageSize, floats, 0, count * ImageSize);
                if (InputAxes.Time == 0)
                {
                    // Samples are time-first one after the other; the input is [T, B, …].
                    var timeMajor = new float[floats.Length];
                    InputAxes.ToInputLayout(floats, chunk, ImageDims[0], timeMajor);
                    floats = timeMajor;
                }

                feed = Tensor.FromFloats(floats, InputAxes.WithBatch(Graph.InputDims, chunk));
            }

            var ctx = new ExecContext(innerThreads) { Observer = safeObserver, NodeObserver = observer as INodeObserver, BatchOffset = start };
            var result = GraphExecutor.Run(Graph, feed, overrides, ctx, record?[ci], resume is { } r ? (r.Node, r.From[ci]) : null);
            if (result.Length != chunk * Classes)
            {
                Throw.BadTensor(Graph.OutputName, $"{Graph.ModelPath}: output {result.ShapeText} is not {chunk} × {Classes} logits");
            }

            if (!result.IsFloat)
            {
                // An integer initializer on the way (a bias declared INT32) makes the logits integers.
                Throw.BadTensor(Graph.OutputName, $"{Graph.ModelPath}: output {result} holds integers, not float logits");
            }

            result.Floats[..(count * Classes)].CopyTo(output.AsSpan(start * Classes, count * Classes));
        }

        if (parallelChunks)
        {
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, ci => RunChunk(ci, 1));
        }
        else
        {
            for (int ci = 0; ci < chunks; ci++)
            {
                RunChunk(ci, threads);
            }
        }

        output.CopyTo(logits);
    }

    private Dictionary<string, Tensor>? PrepareOverrides(IReadOnlyDictionary<string, float[]>? weightOverrides)
    {
        if (weightOverrides is null || weightOverrides.Count == 0)
        {
            return null;
        }

        var map = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, values) in weightOverrides)
        {
            if (!Graph.Constants.TryGetValue(name, out var original) || !original.IsFloat)
            {
                Throw.BadTensor(name, $"{Graph.ModelPath}: no float initializer of this name to override");
            }

            if (values.Length != original.Length)
            {
                Throw.BadTensor(name, $"override has {values.Length} values but the initializer {original.ShapeText} has {original.Length}");
            }

            map[name] = Tensor.FromFloats(values, original.Shape);
        }

        return map;
    }

    private int ProbeClasses()
    {
        int chunk = Graph.FixedBatch ?? 1;
        var result = GraphExecutor.Run(Graph, Tensor.NewFloats(InputAxes.WithBatch(Graph.InputDims, chunk)), null, new ExecContext(Threads));
        return result.Length / chunk;
    }

    /// <summary>Serialises calls from parallel chunks; a comparer's reference lookups are read-only and go straight through.</summary>
    private sealed class LockedObserver(IMembraneObserver inner) : IMembraneObserver, IMembraneComparer
    {
        private readonly Lock _gate = new();

        public bool Observes(LifLayer layer)
        {
            lock (_gate)
            {
                return inner.Observes(layer);
            }
        }

        public bool ReadsMembrane => inner.ReadsMembrane;

        public void OnStep(LifLayer layer, int t, int batchStart, ReadOnlySpan<int> shape, ReadOnlySpan<float> membrane, ReadOnlySpan<float> spikes)
        {
            lock (_gate)
            {
                inner.OnStep(layer, t, batchStart, shape, membrane, spikes);
            }
        }

        public bool Compares(LifLayer layer)
        {
            lock (_gate)
            {
                return inner is IMembraneComparer c && c.Compares(layer);
            }
        }

        public (float[] Values, int Offset) Reference(LifLayer layer, int t, int batchStart) =>
            ((IMembraneComparer)inner).Reference(layer, t, batchStart);

        public void OnCompared(LifLayer layer, int t, int batchStart, double squaredDifference, long mismatches, long neurons)
        {
            lock (_gate)
            {
                ((IMembraneComparer)inner).OnCompared(layer, t, batchStart, squaredDifference, mismatches, neurons);
            }
        }
    }
}
