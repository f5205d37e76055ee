using System.Text.Json;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>
/// Issue 21 point 4, the logic behind the outputs: what pareto.png draws as measured, as an upper bound and as the Pareto
/// front; one search.log.jsonl line per drift proxy with the gate's decision; the small-sample rule.
/// </summary>
public sealed class HonestOutputTests
{
    private static PlotPoint P(string key, long bits, double accuracy, bool measured = true, bool passed = true) => new(key, bits, accuracy, measured, passed);

    [Fact]
    public void Plot_Classify_SplitsUpperBoundsFromMeasured_AndKeepsEachSettingOnce()
    {
        var points = new[]
        {
            P("a", 100, 0.90),
            P("b", 60, 0.70, measured: false, passed: false), // stopped early: an upper bound
            P("c", 80, 0.88, passed: false),                   // measured to the end, and failed
            P("a", 100, 0.90),                                 // a memoised repeat
            P("d", 70, 0.89),
        };

        var data = ParetoPlot.Classify(points);

        Assert.Equal(["a", "b", "c", "d"], data.Points.Select(p => p.Key));
        Assert.Equal(["a", "c", "d"], data.Measured.Select(p => p.Key));
        Assert.Equal(["b"], data.UpperBounds.Select(p => p.Key));
        Assert.Equal(["d", "a"], data.Front.Select(p => p.Key)); // c failed and b is a bound: neither is on the front
    }

    [Fact]
    public void Plot_ParetoFront_KeepsOnlyUndominatedPoints_FewestBitsFirst()
    {
        var points = new[]
        {
            P("p1", 50, 0.80),
            P("p2", 40, 0.85), // dominates p1 (fewer bits, higher accuracy)
            P("p3", 60, 0.85), // as accurate as p2 with more bits: dominated
            P("p4", 70, 0.90),
            P("p5", 70, 0.87), // same bits as p4, lower: dominated
            P("p6", 30, 0.70),
            P("p7", 90, 0.90), // same accuracy as p4 with more bits: dominated
            P("p8", 30, 0.70), // equal to p6: the first is kept
        };

        var front = ParetoPlot.ParetoFront(points);

        Assert.Equal(["p6", "p2", "p4"], front.Select(p => p.Key));
        Assert.Empty(ParetoPlot.ParetoFront([]));
    }

    [Fact]
    public void Plot_BudgetLegend_SaysTheGuard()
    {
        Assert.Equal("budget: pass if drop + 1 SE ≤ 1.5 pts (line: float − 1.5)", ParetoPlot.BudgetLegend(1.5, 1.0));
        Assert.Equal("budget: pass if drop ≤ 2 pts (line: float − 2)", ParetoPlot.BudgetLegend(2.0, 0.0));
    }

    [Fact]
    public void Plot_Render_WritesAPngWithUpperBoundsAndFront()
    {
        var points = new[] { P("f", 3200, 0.92), P("a", 400, 0.915), P("b", 200, 0.80, measured: false, passed: false), P("c", 300, 0.90, passed: false), P("d", 500, 0.918) };

        byte[] png = ParetoPlot.Render(points, (400, 0.915), 3200, 0.92, 1.5, 1.0, "test");

        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }

    [Theory]
    [InlineData(0.9, 1000, 1.5, 1.0, false)] // SE 1.34
    [InlineData(0.9, 50, 1.5, 1.0, true)]    // SE 6.0
    [InlineData(0.9, 50, 1.5, 0.0, false)]   // no guard: the raw budget is checked
    [InlineData(0.5, 1000, 1.5, 1.0, true)]  // SE 2.24
    public void SampleSize_Rule_GuardTimesSeAgainstMaxDrop(double p, int n, double maxDrop, double guard, bool tooSmall)
    {
        var check = SampleSizeCheck.Of(n, p, maxDrop, guard);

        Assert.Equal(100 * Math.Sqrt(2 * p * (1 - p) / n), check.StandardError, 12);
        Assert.Equal(tooSmall, check.TooSmall);
        Assert.Equal(tooSmall, check.Warning(5000) is not null);
        Assert.NotNull(check.ImagesNeeded);
        if (guard > 0)
        {
            // The named size is the first that is large enough.
            int needed = check.ImagesNeeded.Value;
            Assert.False(SampleSizeCheck.Of(needed, p, maxDrop, guard).TooSmall);
            Assert.True(SampleSizeCheck.Of(needed - 1, p, maxDrop, guard).TooSmall);
        }
    }

    [Fact]
    public void SampleSize_Warning_NamesTheSizeThatReachesTheBudget()
    {
        var check = SampleSizeCheck.Of(50, 0.9, 1.5, 1.0);

        string warning = check.Warning(5000)!;

        Assert.Contains("50 search images are too few for --max-drop 1.5 with --guard 1", warning);
        Assert.Contains($"--search-limit {check.ImagesNeeded} or more", warning);
        Assert.Contains("more than the split's 500", SampleSizeCheck.Of(50, 0.9, 1.5, 1.0).Warning(500));
        Assert.Null(SampleSizeCheck.Of(50, 0.9, 0, 1.0).ImagesNeeded);
    }

    [Fact]
    public void SampleSize_ConfirmationWarning_ByTheConfirmationGuard()
    {
        // p 0.92: 2p(1−p) = 0.1472. 1,000 images: SE 100·√(0.1472/1000) = 1.213, 2 SE ≥ 1.5; needed: ⌊0.1472·(200/1.5)²⌋ + 1 = 2,617.
        // 5,000 images (the default: 1,000 searched + 4,000 held out): SE 0.543, 2 SE = 1.085 < 1.5.
        string? warning = SampleSizeCheck.Of(1000, 0.92, 1.5, 2.0).ConfirmationWarning();

        Assert.NotNull(warning);
        Assert.Contains("1000 search and held-out images are too few to confirm a setting with --confirm-guard 2 at --max-drop 1.5", warning);
        Assert.Contains("about 1.21 points", warning);
        Assert.Contains("2617 images would do", warning);
        Assert.Null(SampleSizeCheck.Of(5000, 0.92, 1.5, 2.0).ConfirmationWarning());
    }

    private static SyntheticBackend Backend(int delayMs = 0) => new(
        parameters: [200, 5000, 8000, 8000, 20000, 20000, 3000, 1000],
        sensitivity: [40, 20, 4, 4, 2, 3, 6, 30],
        slope: 0.01)
    { DelayMs = delayMs };

    private static (SearchOutcome Outcome, EvaluationJournal Journal, List<CandidateRecord> Log) Run(ISearchBackend backend, SearchOptions options, int jobs = 1, string? state = null, bool resume = false)
    {
        var log = new List<CandidateRecord>();
        var journal = new EvaluationJournal(backend, state, options.Fingerprint, resume) { Jobs = jobs };
        var context = new SearchContext(backend, journal, options, log.Add, null, CancellationToken.None) { ProxyLog = log.Add };
        var outcome = options.Strategy == SearchStrategy.Sensitivity ? new SensitivitySearch(context).Run() : new BeamSearch(context).Run();
        journal.Checkpoint();
        return (outcome, journal, log);
    }

    [Theory]
    [InlineData(SearchStrategy.Greedy, 1, 1.5, Granularity.Layer)]
    [InlineData(SearchStrategy.Beam, 3, 1.5, Granularity.Layer)]
    [InlineData(SearchStrategy.Beam, 2, 0.3, Granularity.Block)]
    [InlineData(SearchStrategy.GreedyUngated, 1, 1.5, Granularity.Layer)]
    public void Log_OneProxyLinePerDriftProxy_WithTheGateDecision(SearchStrategy strategy, int width, double maxDrop, Granularity granularity)
    {
        var options = new SearchOptions { Strategy = strategy, BeamWidth = width, MaxDrop = maxDrop, Granularity = granularity, AuditGate = 2 };

        var (outcome, journal, log) = Run(Backend(), options);

        var proxies = log.Where(r => r.Record == CandidateRecord.ProxyKind).ToList();
        Assert.Equal(journal.ProxyEvaluations, proxies.Count);
        Assert.Equal(proxies.Count, proxies.Select(r => r.Bits.ToString()).Distinct().Count());
        Assert.All(proxies, r => Assert.Contains(r.Decision, new[] { "admitted", "gated-out", "estimate-only" }));
        Assert.All(proxies, r => Assert.NotNull(r.Drift));
        Assert.Equal(Enumerable.Range(1, log.Count), log.Select(r => r.Index));

        // An admitted proxy is followed by its full evaluation; a gated-out one by its "gated" line.
        for (int i = 0; i < log.Count; i++)
        {
            if (log[i] is { Record: CandidateRecord.ProxyKind, Decision: "admitted" or "gated-out" } proxy)
            {
                var next = log[i + 1];
                Assert.Equal(CandidateRecord.CandidateKind, next.Record);
                Assert.Equal(proxy.Bits, next.Bits);
                Assert.Equal(proxy.Decision == "admitted" ? "evaluated" : "gated", next.Decision);
                Assert.Equal(proxy.Drift, next.Drift);
            }
        }

        Assert.Contains(proxies, r => r.Decision == "admitted");
        if (strategy == SearchStrategy.GreedyUngated)
        {
            Assert.DoesNotContain(proxies, r => r.Decision == "gated-out");
        }
        else
        {
            Assert.Equal(outcome.GatedOut, log.Count(r => r.Decision is "gated" or "gated-estimate"));
        }

        // Every line names the groups of the search's granularity.
        var names = Backend().Groups(granularity).Select(g => g.Name).ToHashSet();
        Assert.All(log, r => Assert.True(names.SetEquals(r.Bits.Keys), string.Join(",", r.Bits.Keys)));
    }

    [Fact]
    public void Log_ProxyLines_SameWithJobs_AndReplayedOnResume()
    {
        using var dir = new TempDir();
        var options = new SearchOptions { Strategy = SearchStrategy.Beam, BeamWidth = 3 };
        var (_, serialJournal, serial) = Run(Backend(), options, jobs: 1, dir.File("state.json"));
        var (_, _, parallel) = Run(Backend(delayMs: 2), options, jobs: 3);
        Assert.Equal(serial.Select(r => JsonSerializer.Serialize(r)), parallel.Select(r => JsonSerializer.Serialize(r)));

        var (_, resumedJournal, resumed) = Run(Backend(), options, jobs: 1, dir.File("state.json"), resume: true);

        Assert.Equal(serialJournal.ProxyEvaluations, resumedJournal.ProxyEvaluations);
        Assert.Equal(serial.Select(r => (r.Record, r.Bits, r.Decision)), resumed.Select(r => (r.Record, r.Bits, r.Decision)));
        Assert.All(resumed.Where(r => r.Record == CandidateRecord.ProxyKind), r => Assert.True(r.Cached));
    }

    [Fact]
    public void Log_UpperBound_MarksEvaluationsThatStoppedEarly()
    {
        var (outcome, _, log) = Run(new EarlyStopping(Backend()), new SearchOptions { Strategy = SearchStrategy.Greedy, MaxDrop = 0.3 });

        var full = log.Where(r => r.Record == CandidateRecord.CandidateKind && r.Accuracy is not null).ToList();
        Assert.All(full, r => Assert.NotNull(r.UpperBound));
        Assert.Contains(full, r => r.UpperBound == true);
        Assert.Contains(full, r => r.UpperBound == false);
        Assert.All(full.Where(r => r.UpperBound == true), r => Assert.True(r.Passed == false && r.DropStandardError is null));
        var plotted = ParetoPlot.Classify(outcome.Frontier);
        Assert.Equal(full.Where(r => r.UpperBound == true).Select(r => r.Bits.ToString()).Distinct().Count(), plotted.UpperBounds.Count);
    }

    [Fact]
    public void GroupBits_SerialisesAsAnObjectByGroupName()
    {
        var backend = Backend();
        var setting = BitVector.AllFloat(8).With([0, 1], 4).With([2, 3], 8);

        var bits = GroupBits.Of(setting, backend.Groups(Granularity.Block));

        Assert.Equal("""{"block0":4,"block1":8,"block2":32,"block3":32}""", JsonSerializer.Serialize(bits));
        Assert.Equal(bits, JsonSerializer.Deserialize<GroupBits>(JsonSerializer.Serialize(bits)));
    }

    /// <summary>The synthetic backend, evaluated 100 images at a time and stopped as a real one stops: once no result on the
    /// rest could pass (accuracy then the upper bound: every unseen image right).</summary>
    private sealed class EarlyStopping(SyntheticBackend inner) : ISearchBackend
    {
        public IReadOnlyList<string> WeightNames => inner.WeightNames;

        public IReadOnlyList<long> WeightParams => inner.WeightParams;

        public IReadOnlyList<SearchGroup> Groups(Granularity granularity) => inner.Groups(granularity);

        public ProxyScore Proxy(BitVector setting, CancellationToken cancellation) => inner.Proxy(setting, cancellation);

        public void OrderSearch(IReadOnlyList<int> order) => inner.OrderSearch(order);

        public SplitScore SearchAccuracy(BitVector setting, Func<SplitScore, bool>? couldStillPass, CancellationToken cancellation)
        {
            var whole = inner.SearchAccuracy(setting, null, cancellation);
            int n = whole.Hits.Length;
            for (int seen = 100; couldStillPass is not null && seen < n; seen += 100)
            {
                int right = Enumerable.Range(0, seen).Count(i => whole.Hits[i]);
                var partial = new SplitScore((double)(right + n - seen) / n, whole.Hits, seen, whole.Margins);
                if (!couldStillPass(partial))
                {
                    return partial;
                }
            }

            return whole;
        }
    }
}
