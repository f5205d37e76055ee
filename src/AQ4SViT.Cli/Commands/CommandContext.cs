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

    /// <summary>True when stderr is a terminal, so live progress can redraw; plain lines otherwise.</summary>
    public static bool Interactive => !Console.IsErrorRedirected;

    public void WriteJson(object value) => Output.WriteLine(JsonSerializer.Serialize(value, value.GetType(), s_json));

    public void Info(string line) => Messages.WriteLine(line);
}
