using System.Collections.Concurrent;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// Runs a search's evaluations on its backend and times them. With <see cref="Jobs"/> &gt; 1 it also computes announced
/// ones ahead, up to <see cref="Jobs"/> at once, into a side table that <see cref="TakeProxy"/> and
/// <see cref="TakeAccuracy"/> empty when the serial order asks (<see cref="EvaluationJournal"/>).
/// </summary>
internal sealed class EvaluationPrefetch(ISearchBackend backend)
{
    private readonly ConcurrentDictionary<string, ProxyScore> _proxies = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SplitScore> _accuracies = new(StringComparer.Ordinal);

    /// <summary>Evaluations run at once by the prefetch methods (1: none, everything is computed when asked for).</summary>
    public int Jobs { get; set; } = 1;

    /// <summary>Full evaluations computed ahead and not taken (yet).</summary>
    public int UntakenAccuracies => _accuracies.Count;

    /// <summary>Full evaluations computed ahead of being asked for (taken or not).</summary>
    public int SpeculativeAccuracies { get; private set; }

    /// <summary>Proxies computed, and the seconds they took (summed over concurrent jobs).</summary>
    public Stopwatches ProxyTimes { get; } = new();

    /// <summary>Full evaluations computed (speculative ones included), and their seconds (summed over concurrent jobs).</summary>
    public Stopwatches FullTimes { get; } = new();

    public bool HasAccuracy(string key) => _accuracies.ContainsKey(key);

    /// <summary>The proxy computed ahead, else computed now.</summary>
    public ProxyScore TakeProxy(BitVector setting, CancellationToken cancellation)
    {
        if (!_proxies.TryRemove(setting.Key, out var score))
        {
            cancellation.ThrowIfCancellationRequested();
            score = TimedProxy(setting, cancellation);
        }

        return score;
    }

    /// <summary>The search-split accuracy computed ahead, else computed now (stopping early once
    /// <paramref name="couldStillPass"/> says no, when given).</summary>
    public SplitScore TakeAccuracy(BitVector setting, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation)
    {
        if (!_accuracies.TryRemove(setting.Key, out var split))
        {
            cancellation.ThrowIfCancellationRequested();
            split = TimedAccuracy(setting, couldStillPass, cancellation);
        }

        return split;
    }

    /// <summary>Computes the proxies of <paramref name="settings"/> neither <paramref name="known"/> nor computed ahead
    /// already; nothing when <see cref="Jobs"/> is 1.</summary>
    public void PrefetchProxies(IEnumerable<BitVector> settings, Func<string, bool> known, CancellationToken cancellation)
    {
        if (Jobs > 1)
        {
            var todo = Unknown(settings, k => known(k) || _proxies.ContainsKey(k));
            Concurrently.ForEach(todo, Jobs, s => _proxies[s.Key] = TimedProxy(s, cancellation), cancellation);
        }
    }

    /// <summary>Computes the accuracies of <paramref name="settings"/> neither <paramref name="known"/> nor computed ahead
    /// already; nothing when <see cref="Jobs"/> is 1.</summary>
    public void PrefetchAccuracies(IEnumerable<BitVector> settings, Func<string, bool> known, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation)
    {
        if (Jobs > 1)
        {
            var todo = Unknown(settings, k => known(k) || _accuracies.ContainsKey(k));
            SpeculativeAccuracies += todo.Count;
            Concurrently.ForEach(todo, Jobs, s => _accuracies[s.Key] = TimedAccuracy(s, couldStillPass, cancellation), cancellation);
        }
    }

    private ProxyScore TimedProxy(BitVector setting, CancellationToken cancellation) =>
        ProxyTimes.Time(() => backend.Proxy(setting, cancellation));

    private SplitScore TimedAccuracy(BitVector setting, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation) =>
        FullTimes.Time(() => backend.SearchAccuracy(setting, couldStillPass, cancellation));

    private static List<BitVector> Unknown(IEnumerable<BitVector> settings, Func<string, bool> known)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return settings.Where(s => !known(s.Key) && seen.Add(s.Key)).ToList();
    }

    /// <summary>Counts calls and sums their seconds, from any thread.</summary>
    public sealed class Stopwatches
    {
        private long _ticks;
        private int _count;

        public int Count => _count;

        public double Seconds => (double)Interlocked.Read(ref _ticks) / System.Diagnostics.Stopwatch.Frequency;

        public T Time<T>(Func<T> work)
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            var result = work();
            Interlocked.Add(ref _ticks, System.Diagnostics.Stopwatch.GetTimestamp() - started);
            Interlocked.Increment(ref _count);
            return result;
        }
    }
}
