using AQ4SViT.Onnx.Search;

namespace AQ4SViT.Onnx.Tests.Search;

public sealed class EvaluationJournalTests
{
    [Fact]
    public void StopClock_FixesTheSearchTime()
    {
        // The runner adds the confirmation's own seconds to this figure: a clock still running then counted them twice.
        var journal = new EvaluationJournal(new SyntheticBackend(parameters: [100], sensitivity: [1], slope: 0.01), null, "x", resume: false);
        Thread.Sleep(30);
        journal.StopClock();
        double stopped = journal.ElapsedSeconds;
        Thread.Sleep(30);

        Assert.True(stopped >= 0.025, $"{stopped} s");
        Assert.Equal(stopped, journal.ElapsedSeconds);
    }
}
