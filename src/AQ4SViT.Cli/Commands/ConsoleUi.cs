using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace AQ4SViT.Cli.Commands;

/// <summary>
/// Tables and progress. On a terminal: Spectre.Console's rounded tables and live progress bars with counts and ETA.
/// Redirected: Markdown tables (greppable, paste into a report) and plain progress lines, one every tenth of the work
/// or ten seconds. <c>--quiet</c> drops progress; <c>--json</c> never reaches here for stdout.
/// </summary>
internal static class ConsoleUi
{
    /// <summary>Width for tables when stdout is not a terminal (Spectre would assume 80 and wrap names).</summary>
    private const int RedirectedWidth = 200;

    public static IAnsiConsole For(TextWriter writer, bool terminal)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal)
        {
            console.Profile.Width = RedirectedWidth;
        }

        return console;
    }

    /// <summary>A table with the given columns (names ending in "&gt;" are right-aligned, the marker dropped).</summary>
    public static Table Table(params string[] columns)
    {
        var table = new Table();
        foreach (string c in columns)
        {
            bool right = c.EndsWith('>');
            var column = new TableColumn(Markup.Escape(right ? c[..^1] : c));
            table.AddColumn(right ? column.RightAligned() : column);
        }

        return table;
    }

    public static void AddCells(this Table table, params object?[] cells) =>
        table.AddRow(cells.Select(c => (IRenderable)new Text(c switch
        {
            null => "-",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => c.ToString() ?? "",
        })).ToArray());

    /// <summary>Writes <paramref name="table"/> to stdout: rounded on a terminal, Markdown when redirected.</summary>
    public static void Write(CommandContext context, Table table)
    {
        bool terminal = !Console.IsOutputRedirected && ReferenceEquals(context.Output, Console.Out);
        if (terminal)
        {
            table.Border = TableBorder.Rounded;
            For(context.Output, terminal: true).Write(table);
            return;
        }

        // Markdown, without the blank padding lines Spectre puts above and below it.
        table.Border = TableBorder.Markdown;
        var text = new StringWriter();
        For(text, terminal: false).Write(table);
        foreach (string line in text.ToString().Split('\n'))
        {
            if (!string.IsNullOrWhiteSpace(line))
            {
                context.Output.WriteLine(line.TrimEnd());
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/>, which reports images done out of <paramref name="total"/>: a live bar with count,
    /// rate and ETA on a terminal, plain lines when stderr is redirected, nothing when <paramref name="quiet"/>.
    /// </summary>
    public static T WithProgress<T>(CommandContext context, bool quiet, string label, int total, Func<IProgress<int>?, T> work)
    {
        if (quiet || total <= 0)
        {
            return work(null);
        }

        if (!CommandContext.Interactive)
        {
            var plain = new PlainProgress(context.Messages, label, total);
            return work(new SyncProgress<int>(plain.Report));
        }

        T result = default!;
        For(context.Messages, terminal: true).Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape($"{label} 0/{total}"), maxValue: total);
                result = work(new SyncProgress<int>(done =>
                {
                    task.Value = done;
                    task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"{label} {done:N0}/{total:N0}"));
                }));
            });
        return result;
    }

    /// <summary>"eval: 300/1,000 images (30 %), 45.1 images/s, ETA 0:16" at each tenth of the work or every ten seconds.</summary>
    internal sealed class PlainProgress(TextWriter messages, string label, int total)
    {
        private readonly Stopwatch _watch = Stopwatch.StartNew();
        private int _lastTenth;
        private TimeSpan _lastLine;

        public void Report(int done)
        {
            int tenth = (int)(10L * done / total);
            var now = _watch.Elapsed;
            if (done < total && tenth == _lastTenth && now - _lastLine < TimeSpan.FromSeconds(10))
            {
                return;
            }

            _lastTenth = tenth;
            _lastLine = now;
            double rate = done / Math.Max(now.TotalSeconds, 1e-9);
            string eta = done >= total ? "done" : "ETA " + FormatDuration(TimeSpan.FromSeconds((total - done) / Math.Max(rate, 1e-9)));
            messages.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label}: {done:N0}/{total:N0} images ({(double)done / total:P0}), {rate:F1} images/s, {eta}"));
        }
    }

    public static string FormatDuration(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}" : $"{t.Minutes}:{t.Seconds:00}";

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
