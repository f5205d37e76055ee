using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>
/// A backend whose truth is known: weight i contributes sensitivity[i]·4^(−bits) to the drift, and accuracy
/// falls linearly with drift. So drift orders candidates exactly as their real drop does.
/// </summary>
internal sealed class SyntheticBackend : ISearchBackend
{
    private readonly double[] _sensitivity;
    private readonly double _fp;
    private readonly double _slope;

    public SyntheticBackend(long[] parameters, double[] sensitivity, double fpAccuracy = 0.9, double slope = 1.0)
    {
        WeightParams = parameters;
        _sensitivity = sensitivity;
        _fp = fpAccuracy;
        _slope = slope;
        WeightNames = Enumerable.Range(0, parameters.Length).Select(i => $"w{i}").ToArray();
    }

    public const int Images = 5000;

    public IReadOnlyList<string> WeightNames { get; }
    public IReadOnlyList<long> WeightParams { get; }
    public int FullCalls => _fullCalls;
    public int ProxyCalls => _proxyCalls;

    /// <summary>Each call sleeps this long, so that concurrent calls overlap measurably.</summary>
    public int DelayMs { get; set; }

    /// <summary>The most calls that were running at the same moment.</summary>
    public int MaxConcurrent => _maxConcurrent;

    private int _fullCalls;
    private int _proxyCalls;
    private int _inFlight;
    private int _maxConcurrent;

    /// <summary>Cancel (as Ctrl-C would) once this many full evaluations have run.</summary>
    public int? CancelAfterFull { get; set; }

    public IReadOnlyList<SearchGroup> Groups(Granularity granularity) => granularity switch
    {
        Granularity.Network => [new SearchGroup("network", Enumerable.Range(0, WeightNames.Count).ToArray(), WeightParams.Sum())],
        Granularity.Block => Enumerable.Range(0, (WeightNames.Count + 1) / 2)
            .Select(b => Enumerable.Range(2 * b, Math.Min(2, WeightNames.Count - (2 * b))).ToArray())
            .Select((w, b) => new SearchGroup($"block{b}", w, w.Sum(i => WeightParams[i])))
            .ToArray(),
        _ => Enumerable.Range(0, WeightNames.Count).Select(i => new SearchGroup(WeightNames[i], [i], WeightParams[i])).ToArray(),
    };

    public double Drift(BitVector s) =>
        Enumerable.Range(0, s.Count).Sum(i => s[i] == BitVector.Fp32 ? 0 : _sensitivity[i] * Math.Pow(4, -s[i]));

    public ProxyScore Proxy(BitVector setting, CancellationToken cancellation)
    {
        Interlocked.Increment(ref _proxyCalls);
        Work();
        return new ProxyScore(Drift(setting), 0);
    }

    private void Work()
    {
        if (DelayMs <= 0)
        {
            return;
        }

        int now = Interlocked.Increment(ref _inFlight);
        int seen;
        while ((seen = Volatile.Read(ref _maxConcurrent)) < now && Interlocked.CompareExchange(ref _maxConcurrent, now, seen) != seen)
        {
        }

        Thread.Sleep(DelayMs);
        Interlocked.Decrement(ref _inFlight);
    }

    public SplitScore SearchAccuracy(BitVector setting, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation)
    {
        if (CancelAfterFull is { } n && Interlocked.Increment(ref _fullCalls) > n)
        {
            Interlocked.Decrement(ref _fullCalls);
            throw new OperationCanceledException();
        }

        if (CancelAfterFull is null)
        {
            Interlocked.Increment(ref _fullCalls);
        }

        Work();

        // 5,000 images, of which the first right ones are right: a candidate loses images, never gains.
        int right = (int)Math.Round((_fp - (_slope * Drift(setting))) * Images);
        var hits = new System.Collections.BitArray(Images);
        for (int i = 0; i < Math.Max(0, right); i++)
        {
            hits[i] = true;
        }

        return new SplitScore((double)right / Images, Ordered(hits), Images, Margins: [.. Enumerable.Range(0, Images).Select(i => i < right ? 1f : -1f)]);
    }

    private int[]? _order;

    /// <summary>The hits by evaluation position, as a real backend reports them after <see cref="OrderSearch"/>.</summary>
    private System.Collections.BitArray Ordered(System.Collections.BitArray hits)
    {
        if (_order is null)
        {
            return hits;
        }

        var ordered = new System.Collections.BitArray(Images);
        for (int p = 0; p < Images; p++)
        {
            ordered[p] = hits[_order[p]];
        }

        return ordered;
    }

    public void OrderSearch(IReadOnlyList<int> order) => _order = [.. order.Select(p => _order is null ? p : _order[p])];
}
