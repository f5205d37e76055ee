using System.Text.Json;
using AQ4SViT.Onnx.Search;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>
/// <c>--jobs N</c>: candidates are evaluated concurrently, yet the search takes the serial path. The oracle is the serial run
/// itself: same chosen setting, same log line by line, same checkpoint (state.json) entry by entry.
/// </summary>
public sealed class ParallelSearchTests
{
    static ParallelSearchTests()
    {
        // xUnit's parallel test collections can hold every pool thread of a 2-core machine; Parallel.ForEach's extra
        // workers then start only when the pool injects a thread (about every half second), and the 15 ms evaluations
        // below all finish on the calling thread. Enough idle threads make the concurrency check independent of that.
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), io);
    }

    private static SyntheticBackend Backend(int delayMs = 0) => new(
        parameters: [200, 5000, 8000, 8000, 20000, 20000, 3000, 1000],
        sensitivity: [40, 20, 4, 4, 2, 3, 6, 30],
        slope: 0.01)
    { DelayMs = delayMs };

    private static (SearchOutcome Outcome, EvaluationJournal Journal, List<CandidateRecord> Log) Run(SyntheticBackend backend, SearchOptions options, int jobs, string? state = null, bool resume = false)
    {
        var log = new List<CandidateRecord>();
        var journal = new EvaluationJournal(backend, state, options.Fingerprint, resume) { Jobs = jobs };
        var context = new SearchContext(backend, journal, options, log.Add, null, CancellationToken.None);
        var outcome = options.Strategy == SearchStrategy.Sensitivity ? new SensitivitySearch(context).Run() : new BeamSearch(context).Run();
        journal.Checkpoint();
        return (outcome, journal, log);
    }

    private static string Line(CandidateRecord r) => JsonSerializer.Serialize(r);

    /// <summary>state.json without the wall-clock field.</summary>
    private static string Checkpoint(string path)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        node.Remove("elapsed_seconds");
        return node.ToJsonString();
    }

    [Theory]
    [InlineData(SearchStrategy.Greedy, 1, 3)]
    [InlineData(SearchStrategy.Beam, 3, 2)]
    [InlineData(SearchStrategy.Beam, 4, 4)]
    [InlineData(SearchStrategy.Sensitivity, 1, 3)]
    [InlineData(SearchStrategy.GreedyUngated, 1, 2)]
    public void Search_ParallelJobs_SameSettingLogAndCheckpointAsSerial(SearchStrategy strategy, int beamWidth, int jobs)
    {
        using var dir = new TempDir();
        var options = new SearchOptions { Strategy = strategy, BeamWidth = beamWidth, AuditGate = 3 };

        var (serial, serialJournal, serialLog) = Run(Backend(), options, jobs: 1, dir.File("serial.json"));
        // Long enough that a busy two-core machine still starts the second job while the first sleeps.
        var parallelBackend = Backend(delayMs: 15);
        var (parallel, parallelJournal, parallelLog) = Run(parallelBackend, options, jobs, dir.File("parallel.json"));

        Assert.Equal(serial.Best, parallel.Best);
        Assert.Equal(serial.BestSearchAccuracy, parallel.BestSearchAccuracy);
        Assert.Equal(serialLog.Select(Line), parallelLog.Select(Line));
        Assert.Equal(serialJournal.FullEvaluations, parallelJournal.FullEvaluations);
        Assert.Equal(serialJournal.ProxyEvaluations, parallelJournal.ProxyEvaluations);
        Assert.Equal(Checkpoint(dir.File("serial.json")), Checkpoint(dir.File("parallel.json")));
        Assert.True(parallelBackend.MaxConcurrent >= 2, $"never more than {parallelBackend.MaxConcurrent} evaluation at once");
        Assert.Equal(parallelBackend.FullCalls, parallelJournal.FreshFullEvaluations + parallelJournal.UnusedSpeculative);
    }

    [Fact]
    public void Search_JobsOne_ComputesNothingAhead()
    {
        var backend = Backend(delayMs: 1);
        var (_, journal, _) = Run(backend, new SearchOptions { Strategy = SearchStrategy.Beam, BeamWidth = 3 }, jobs: 1);

        Assert.Equal(1, backend.MaxConcurrent);
        Assert.Equal(0, journal.SpeculativeFullEvaluations);
        Assert.Equal(journal.FullEvaluations, backend.FullCalls);
    }

    [Fact]
    public void Resume_ParallelRunInterrupted_EndsInSameSettingAsSerialRun()
    {
        using var dir = new TempDir();
        var options = new SearchOptions { Strategy = SearchStrategy.Beam, BeamWidth = 2 };
        var (reference, referenceJournal, referenceLog) = Run(Backend(), options, jobs: 1);

        var interrupted = Backend(delayMs: 1);
        interrupted.CancelAfterFull = 7;
        string state = dir.File("state.json");
        Assert.Throws<OperationCanceledException>(() => Run(interrupted, options, jobs: 3, state));

        var (resumed, resumedJournal, resumedLog) = Run(Backend(delayMs: 1), options, jobs: 3, state, resume: true);

        Assert.Equal(reference.Best, resumed.Best);
        Assert.Equal(referenceJournal.FullEvaluations, resumedJournal.FullEvaluations);
        Assert.Equal(referenceLog.Select(r => (r.Bits, r.Decision, r.Accuracy)), resumedLog.Select(r => (r.Bits, r.Decision, r.Accuracy)));
    }

    [Fact]
    public void Journal_JobsBelowOne_IsBadInput()
    {
        var e = Assert.Throws<Core.BadInputException>(() => new EvaluationJournal(Backend(), null, "x", false) { Jobs = 0 });
        Assert.Contains("--jobs", e.Message);
    }
}
