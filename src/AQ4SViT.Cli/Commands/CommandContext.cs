using System.Text.Json;

namespace AQ4SViT.Cli.Commands;

/// <summary>Where a command writes: results to stdout, messages to stderr; Ctrl-C arrives as <see cref="Cancellation"/>.</summary>
internal sealed class CommandContext(TextWriter output, TextWriter messages, CancellationToken cancellation)
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // A model may hold NaN or ±∞ (e.g. a LIF threshold): print them as "NaN"/"Infinity" instead of failing.
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public TextWriter Output { get; } = output;
    public TextWriter Messages { get; } = messages;
    public CancellationToken Cancellation { get; } = cancellation;

    /// <summary>The command line as typed (after the program name), to tell an option given from one left at its default.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>True when <paramref name="longName"/> (e.g. <c>--max-drop</c>) was typed, as <c>--name value</c> or <c>--name=value</c>.</summary>
    public bool Typed(string longName) =>
        Arguments.Any(a => a == longName || a.StartsWith(longName + "=", StringComparison.Ordinal));

    /// <summary>True when stderr is a terminal, so live progress can redraw; plain lines otherwise.</summary>
    public static bool Interactive => !Console.IsErrorRedirected;

    public void WriteJson(object value) => Output.WriteLine(JsonSerializer.Serialize(value, value.GetType(), s_json));

    public void Info(string line) => Messages.WriteLine(line);
}
