using AQ4SViT.Cli;

namespace AQ4SViT.Onnx.Tests.Cli;

/// <summary>One in-process run of <c>aq4svit</c>: exit code, what it printed, how long it took and how much it allocated.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed, long AllocatedBytes)
{
    /// <summary>Stderr's non-empty lines.</summary>
    public string[] ErrorLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:F1} s, {AllocatedBytes:N0} B allocated; stderr: {Stderr.Trim()}";
}

/// <summary>
/// Runs <see cref="Program.Main"/> with stdout and stderr captured, on its own thread with a time limit, so a hang
/// fails the test instead of the test run. Tests using it belong to the "Console" collection.
/// </summary>
internal static class CliRun
{
    private static readonly object s_gate = new();

    public static CliResult Run(TimeSpan timeout, params string[] args)
    {
        lock (s_gate)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var oldOut = Console.Out;
            var oldErr = Console.Error;
            Console.SetOut(stdout);
            Console.SetError(stderr);
            try
            {
                long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
                var watch = System.Diagnostics.Stopwatch.StartNew();
                var task = Task.Factory.StartNew(() => Program.Main(args), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                if (!task.Wait(timeout))
                {
                    throw new TimeoutException($"aq4svit {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:F0} s");
                }

                watch.Stop();
                long allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
                return new CliResult(task.Result, stdout.ToString(), stderr.ToString(), watch.Elapsed, allocated);
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }

    public static CliResult Run(params string[] args) => Run(TimeSpan.FromSeconds(60), args);

    /// <summary>Asserts exit code 3 with exactly one stderr line, an error naming <paramref name="culprit"/>; returns that line.</summary>
    public static string AssertBadInput(CliResult result, params string[] culprit)
    {
        Assert.True(result.ExitCode == 3, $"expected exit 3, got {result}");
        var lines = result.ErrorLines;
        Assert.True(lines.Length == 1, $"expected one line on stderr, got {lines.Length}: {result.Stderr}");
        Assert.StartsWith("aq4svit: error: ", lines[0], StringComparison.Ordinal);
        foreach (string c in culprit)
        {
            Assert.Contains(c, lines[0], StringComparison.Ordinal);
        }

        return lines[0];
    }
}
