using System.Diagnostics;
using System.Text.Json;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Runners;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Tests.Cli;

namespace AQ4SViT.Onnx.Tests.Robustness;

/// <summary>
/// Ctrl-C during a search: the checkpoint is written, no final output appears (let alone half-written), the process
/// exits 130, and <c>--resume</c> ends in the same setting as a run that was never interrupted.
/// </summary>
[Collection("Console")]
public sealed class InterruptionTests
{
    private static readonly string[] s_finalOutputs = ["quantized.onnx", "quantized.fakequant.onnx", "setting.json", "report.json", "report.md", "pareto.png"];

    private static string SmallModel => Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx");

    private static SearchJob Job(string outDir) => new()
    {
        ModelPath = SmallModel,
        Data = SharedData.FashionMnist,
        OutDirectory = outDir,
        // Sensitivity fully evaluates every block group at every width: many checkpoints, each cheap on 10 images.
        Options = new SearchOptions { Strategy = SearchStrategy.Sensitivity, Granularity = Granularity.Block, Bits = [2, 8], CalibrationImages = 4, MaxDrop = 1.5 },
        SearchLimit = 10,
        TestLimit = 10,
        Threads = 2,
    };

    [Fact]
    public void Search_CancelledMidway_KeepsCheckpointOnly_ResumeEndsInSameSetting()
    {
        using var dir = new TempDir();
        string straight = dir.File("straight");
        string interrupted = dir.File("interrupted");
        var reference = SearchRunner.Run(Job(straight), CancellationToken.None);
        Assert.True(reference.FullEvaluations >= 8, $"the search must be long enough to interrupt ({reference.FullEvaluations} full evaluations)");

        // Cancel the way Ctrl-C does (CommandRunner cancels the token), after the fifth full evaluation.
        using var cancel = new CancellationTokenSource();
        var job = Job(interrupted) with { Progress = new Progress(p => { if (p.FullEvaluations >= 5) { cancel.Cancel(); } }) };
        Assert.ThrowsAny<OperationCanceledException>(() => SearchRunner.Run(job, cancel.Token));

        using (var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(interrupted, SearchRunner.StateFile))))
        {
            int saved = state.RootElement.GetProperty("full").GetArrayLength();
            Assert.InRange(saved, 5, reference.FullEvaluations - 1);
        }

        Assert.All(s_finalOutputs, f => Assert.False(File.Exists(Path.Combine(interrupted, f)), f + " written by an interrupted search"));
        Assert.Empty(Directory.GetFiles(interrupted, "*.tmp"));

        var resumed = SearchRunner.Run(Job(interrupted) with { Resume = true }, CancellationToken.None);

        Assert.True(resumed.Resumed);
        Assert.Equal(reference.Bits, resumed.Bits);
        Assert.Equal(reference.FullEvaluations, resumed.FullEvaluations);
        Assert.Equal(reference.QAccuracyTest, resumed.QAccuracyTest);
        Assert.Equal(File.ReadAllText(Path.Combine(straight, "setting.json")), File.ReadAllText(Path.Combine(interrupted, "setting.json")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "quantized.onnx")), File.ReadAllBytes(Path.Combine(interrupted, "quantized.onnx")));
        Assert.Empty(Directory.GetFiles(interrupted, "*.tmp"));
    }

    [Fact]
    public void Search_SigInt_ExitsWith130WithCheckpoint_ThenResumeFinishes()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return; // SIGINT is a POSIX signal.
        }

        using var dir = new TempDir();
        string outDir = dir.File("out");
        string[] args = ["search", SmallModel, "--data", RepoPaths.FashionMnist, "--out", outDir, "--calib", "8", "--bits", "2,4,8",
            "--search-limit", "300", "--test-limit", "50", "--threads", "1"];
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "aq4svit.dll"));
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        var stderr = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var firstRound = new ManualResetEventSlim();
        using var child = Process.Start(start)!;
        child.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                stderr.Enqueue(line);
                if (line.Contains(" round ", StringComparison.Ordinal))
                {
                    firstRound.Set();
                }
            }
        };
        child.BeginErrorReadLine();
        child.BeginOutputReadLine();
        try
        {
            Assert.True(firstRound.Wait(TimeSpan.FromSeconds(60)), "no search progress within 60 s: " + string.Join(" | ", stderr));
            using (var kill = Process.Start("kill", ["-INT", child.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                kill.WaitForExit();
            }

            Assert.True(child.WaitForExit(TimeSpan.FromSeconds(60)), "the search did not stop within 60 s of SIGINT");
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
            }
        }

        child.WaitForExit(); // drains the redirected streams
        string messages = string.Join("\n", stderr);
        Assert.True(child.ExitCode == 130, $"exit {child.ExitCode}: {messages}");
        Assert.Contains("progress saved in", messages, StringComparison.Ordinal);
        Assert.Contains("--resume", messages, StringComparison.Ordinal);
        Assert.DoesNotContain("internal error", messages, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(outDir, SearchRunner.StateFile)));
        Assert.All(s_finalOutputs, f => Assert.False(File.Exists(Path.Combine(outDir, f)), f + " written by an interrupted search"));

        var resumed = CliRun.Run(TimeSpan.FromSeconds(120), [.. args, "--resume", "--json"]);

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        using var report = JsonDocument.Parse(resumed.Stdout);
        Assert.True(report.RootElement.GetProperty("resumed").GetBoolean());
        Assert.True(File.Exists(Path.Combine(outDir, "quantized.onnx")));
    }

    private sealed class Progress(Action<SearchProgress> report) : IProgress<SearchProgress>
    {
        public void Report(SearchProgress value) => report(value);
    }
}
