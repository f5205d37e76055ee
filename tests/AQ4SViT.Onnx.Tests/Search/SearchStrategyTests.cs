using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;

namespace AQ4SViT.Onnx.Tests.Search;

public sealed class SearchStrategyTests
{
    private static SyntheticBackend Backend() => new(
        parameters: [200, 5000, 8000, 8000, 20000, 20000, 3000, 1000],
        sensitivity: [40, 20, 4, 4, 2, 3, 6, 30],
        slope: 0.01);

    private static (SearchOutcome Outcome, EvaluationJournal Journal) RunSearch(SyntheticBackend backend, SearchOptions options, string? state = null, bool resume = false, List<CandidateRecord>? log = null, bool wholePool = false)
    {
        var journal = new EvaluationJournal(backend, state, options.Fingerprint, resume);
        var context = new SearchContext(backend, journal, options, log is null ? null : log.Add, null, CancellationToken.None);
        var outcome = options.Strategy == SearchStrategy.Sensitivity ? new SensitivitySearch(context).Run() : new BeamSearch(context) { BuildWholePool = wholePool }.Run();
        return (outcome, journal);
    }

    [Theory]
    [InlineData(4, 1.5)]
    [InlineData(3, 0.5)]
    [InlineData(2, 3.0)]
    public void Beam_BuildingLargerStatesOnlyWhenReached_ChangesNothingButSavesProxies(int width, double maxDrop)
    {
        // The oracle: the same search with every state's candidates built (and their moves measured) as each round starts.
        // This backend's drift is additive, so a move's increment is the same from any state and must change nothing.
        var options = new SearchOptions { Strategy = SearchStrategy.Beam, BeamWidth = width, MaxDrop = maxDrop };
        var wholeLog = new List<CandidateRecord>();
        var (whole, wholeJournal) = RunSearch(Backend(), options, log: wholeLog, wholePool: true);
        var log = new List<CandidateRecord>();
        var (lazy, journal) = RunSearch(Backend(), options, log: log);

        Assert.Equal(whole.Best, lazy.Best);
        Assert.Equal(wholeLog.Select(r => System.Text.Json.JsonSerializer.Serialize(r)), log.Select(r => System.Text.Json.JsonSerializer.Serialize(r)));
        Assert.Equal(wholeJournal.FullEvaluations, journal.FullEvaluations);
        Assert.True(journal.ProxyEvaluations < wholeJournal.ProxyEvaluations, $"{journal.ProxyEvaluations} proxies, {wholeJournal.ProxyEvaluations} with the whole pool");
    }

    [Theory]
    [InlineData(SearchStrategy.Greedy, 1.5)]
    [InlineData(SearchStrategy.Beam, 1.5)]
    [InlineData(SearchStrategy.Sensitivity, 1.5)]
    [InlineData(SearchStrategy.GreedyUngated, 1.5)]
    [InlineData(SearchStrategy.Greedy, 0.3)]
    [InlineData(SearchStrategy.Beam, 0.0)]
    public void Search_AnyStrategy_NeverViolatesBudgetOnSearchSplit(SearchStrategy strategy, double maxDrop)
    {
        var backend = Backend();
        var (outcome, _) = RunSearch(backend, new SearchOptions { Strategy = strategy, MaxDrop = maxDrop });

        double drop = (outcome.FpSearchAccuracy - outcome.BestSearchAccuracy) * 100;
        Assert.True(drop <= maxDrop + 1e-9, $"{strategy}: drop {drop} > {maxDrop}");
        Assert.Equal(backend.SearchAccuracy(outcome.Best, null, default).Accuracy, outcome.BestSearchAccuracy, 12);
    }

    [Fact]
    public void Search_Greedy_QuantizesBelowEightBitsWhenBudgetAllows()
    {
        var (outcome, _) = RunSearch(Backend(), new SearchOptions { Strategy = SearchStrategy.Greedy });

        Assert.All(outcome.Best.Bits, b => Assert.True(b <= 8, $"weight left at {b} bits"));
        Assert.True(outcome.Best.Bits.Average() < 5, "greedy stopped early: " + outcome.Best);
    }

    [Theory]
    [InlineData(SearchStrategy.Greedy, 1, 1)]
    [InlineData(SearchStrategy.Greedy, 1, 2)]
    [InlineData(SearchStrategy.Beam, 3, 1)]
    [InlineData(SearchStrategy.GreedyUngated, 1, 1)]
    public void Search_Patience_EndsARoundAfterThatManyFailuresInARow(SearchStrategy strategy, int width, int patience)
    {
        var options = new SearchOptions { Strategy = strategy, BeamWidth = width, Patience = patience, MaxDrop = 0.3 };
        var log = new List<CandidateRecord>();
        var (outcome, _) = RunSearch(Backend(), options, log: log);
        var unlimitedLog = new List<CandidateRecord>();
        RunSearch(Backend(), options with { Patience = 1000 }, log: unlimitedLog);

        // Without patience some round fails longer than that (so the case tests something); with it, none does.
        Assert.True(LongestFailingRun(unlimitedLog) > patience * width, $"no round fails more than {patience * width} times in a row");
        Assert.InRange(LongestFailingRun(log), 0, patience * width);
        double drop = (outcome.FpSearchAccuracy - outcome.BestSearchAccuracy) * 100;
        Assert.True(drop <= 0.3 + 1e-9);
    }

    /// <summary>The most failed full evaluations in a row within one round after the network phase.</summary>
    private static int LongestFailingRun(List<CandidateRecord> log)
    {
        int longest = 0;
        foreach (var round in log.Where(r => r.Phase != "network").GroupBy(r => (r.Phase, r.Round)))
        {
            int run = 0;
            foreach (var r in round.Where(r => r.Decision == "evaluated"))
            {
                run = r.Passed == true ? 0 : run + 1;
                longest = Math.Max(longest, run);
            }
        }

        return longest;
    }

    [Fact]
    public void Search_BeamWidthOne_EqualsGreedy()
    {
        var (greedy, gj) = RunSearch(Backend(), new SearchOptions { Strategy = SearchStrategy.Greedy });
        var (beam1, bj) = RunSearch(Backend(), new SearchOptions { Strategy = SearchStrategy.Beam, BeamWidth = 1 });

        Assert.Equal(greedy.Best, beam1.Best);
        Assert.Equal(gj.FullEvaluations, bj.FullEvaluations);
        Assert.Equal(gj.ProxyEvaluations, bj.ProxyEvaluations);
    }

    [Fact]
    public void Search_Beam_FindsNoLargerModelThanGreedy()
    {
        var backend = Backend();
        var (greedy, _) = RunSearch(Backend(), new SearchOptions { Strategy = SearchStrategy.Greedy });
        var (beam, _) = RunSearch(Backend(), new SearchOptions { Strategy = SearchStrategy.Beam, BeamWidth = 4 });

        Assert.True(beam.Best.TotalBits(backend.WeightParams) <= greedy.Best.TotalBits(backend.WeightParams), $"beam {beam.Best} ({beam.BestSearchAccuracy}) vs greedy {greedy.Best} ({greedy.BestSearchAccuracy})");
    }

    [Fact]
    public void Gate_WhenDriftOrdersDropExactly_RejectsOnlyFailuresAndSavesEvaluations()
    {
        // Drift is the truth here, so every gated-out candidate must fail the budget, and the gated search
        // must reach the same setting as the ungated one with fewer full evaluations.
        var gatedBackend = Backend();
        var (gated, gatedJournal) = RunSearch(gatedBackend, new SearchOptions { Strategy = SearchStrategy.Greedy, AuditGate = 1000 });
        var (ungated, ungatedJournal) = RunSearch(Backend(), new SearchOptions { Strategy = SearchStrategy.GreedyUngated });

        Assert.True(gated.GatedOut > 0, "the gate never closed");
        Assert.Equal(gated.GatedOut, gated.AuditedCandidates);
        Assert.Equal(0, gated.AuditedWouldPass);
        Assert.Equal(ungated.Best, gated.Best);
        Assert.True(gatedJournal.FullEvaluations - gated.AuditedCandidates < ungatedJournal.FullEvaluations);
        Assert.Equal(1.0, Statistics.Spearman(gated.Evaluated.Select(e => e.Drift).ToList(), gated.Evaluated.Select(e => e.Drop).ToList()), 6);
    }

    [Fact]
    public void Sensitivity_CostsOneEvaluationPerGroupAndWidthPlusCombinations()
    {
        var backend = Backend();
        var (outcome, journal) = RunSearch(backend, new SearchOptions { Strategy = SearchStrategy.Sensitivity });

        // 1 float + 8 groups × 6 widths + at least one combination.
        Assert.True(journal.FullEvaluations >= 1 + (8 * 6) + 1);
        Assert.Equal(outcome.Rounds, journal.FullEvaluations - 1 - (8 * 6));
    }

    [Fact]
    public void Resume_AfterInterruption_EndsInSameSettingAsUninterruptedRun()
    {
        using var dir = new TempDir();
        var options = new SearchOptions { Strategy = SearchStrategy.Beam, BeamWidth = 2 };
        var (reference, referenceJournal) = RunSearch(Backend(), options);

        var interrupted = Backend();
        interrupted.CancelAfterFull = 5;
        string state = dir.File("state.json");
        Assert.Throws<OperationCanceledException>(() => RunSearch(interrupted, options, state));
        Assert.True(File.Exists(state));

        var resumedBackend = Backend();
        var (resumed, resumedJournal) = RunSearch(resumedBackend, options, state, resume: true);

        Assert.Equal(reference.Best, resumed.Best);
        Assert.Equal(referenceJournal.FullEvaluations, resumedJournal.FullEvaluations);
        Assert.Equal(referenceJournal.FullEvaluations - 5, resumedBackend.FullCalls);
    }

    [Fact]
    public void Resume_WithDifferentOptions_IsRefused()
    {
        using var dir = new TempDir();
        string state = dir.File("state.json");
        RunSearch(Backend(), new SearchOptions { Strategy = SearchStrategy.Greedy }, state);

        var e = Assert.Throws<Core.BadInputException>(() =>
            RunSearch(Backend(), new SearchOptions { Strategy = SearchStrategy.Greedy, MaxDrop = 0.5 }, state, resume: true));
        Assert.Contains("state.json", e.Message);
    }

    [Fact]
    public void Log_HasOneLinePerCandidateWithDecision()
    {
        var log = new List<CandidateRecord>();
        var (outcome, journal) = RunSearch(Backend(), new SearchOptions { Strategy = SearchStrategy.Greedy }, log: log);

        Assert.Equal(journal.FullEvaluations - 1, log.Count(r => r.Decision == "evaluated"));
        Assert.Equal(outcome.GatedOut, log.Count(r => r.Decision is "gated" or "gated-estimate"));
        Assert.All(log.Where(r => r.Decision is "gated" or "gated-estimate"), r => Assert.True(r.Drift >= r.GateThreshold));
    }

    [Fact]
    public void Phases_LayerGranularity_GoNetworkBlockLayer()
    {
        Assert.Equal([Granularity.Network, Granularity.Block, Granularity.Layer], BeamSearch.Phases(Granularity.Layer));
        Assert.Equal([Granularity.Network], BeamSearch.Phases(Granularity.Network));
    }
}
