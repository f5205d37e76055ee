using System.Reflection;
using CommandLine;
using CommandLine.Text;

namespace AQ4SViT.Cli.Commands;

/// <summary>
/// What the parser could not run: <c>--help</c> and <c>--version</c> print to stdout with exit 0; a mistyped option is one
/// line with the closest option of the verb; any other usage error prints the help to stderr with exit 2.
/// </summary>
internal static class Usage
{
    public static int Report(ParserResult<object> result, IEnumerable<Error> errors, TextWriter stdout, TextWriter stderr)
    {
        var list = errors.ToList();
        if (list.All(e => e.Tag is ErrorType.HelpRequestedError or ErrorType.HelpVerbRequestedError or ErrorType.VersionRequestedError))
        {
            stdout.WriteLine(list.Any(e => e.Tag == ErrorType.VersionRequestedError) ? Version : HelpText.AutoBuild(result).ToString());
            return ExitCodes.Success;
        }

        if (list.OfType<UnknownOptionError>().FirstOrDefault() is { } unknown)
        {
            string typed = (unknown.Token.Length == 1 ? "-" : "--") + unknown.Token;
            string verb = result.TypeInfo.Current.GetCustomAttribute<VerbAttribute>() is { } v ? $"aq4svit {v.Name}" : "aq4svit";
            string hint = Closest(unknown.Token, LongOptions(result.TypeInfo.Current)) is { } near
                ? $"did you mean '--{near}'?"
                : $"see '{verb} --help' for its options";
            stderr.WriteLine($"aq4svit: error: unknown option '{typed}'; {hint}");
            return ExitCodes.Usage;
        }

        stderr.WriteLine(HelpText.AutoBuild(result).ToString());
        return ExitCodes.Usage;
    }

    /// <summary>"aq4svit" and this tool's version (the assembly's, whoever hosts it).</summary>
    public static string Version =>
        "aq4svit " + (typeof(Usage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(Usage).Assembly.GetName().Version?.ToString() ?? "?");

    /// <summary>The long names of a verb's options (base classes included), plus help and version.</summary>
    internal static IEnumerable<string> LongOptions(Type verb) =>
        verb.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.GetCustomAttribute<OptionAttribute>()?.LongName)
            .OfType<string>()
            .Where(n => n.Length > 0)
            .Append("help")
            .Append("version");

    /// <summary>
    /// The candidate nearest to <paramref name="typed"/> by edit distance (insertions, deletions, substitutions and swaps of
    /// two neighbours), when it is close: at most one edit for names up to four letters, two beyond; ties go to the first.
    /// </summary>
    internal static string? Closest(string typed, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string c in candidates)
        {
            int d = EditDistance(typed, c);
            if (d < bestDistance)
            {
                best = c;
                bestDistance = d;
            }
        }

        int allowed = typed.Length <= 4 ? 1 : 2;
        return bestDistance <= allowed ? best : null;
    }

    /// <summary>Optimal string alignment distance (Levenshtein with adjacent transpositions).</summary>
    internal static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (int j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }

    /// <summary>A usage example that shows only the options it sets away from their defaults.</summary>
    public static Example Example(string text, object sample) => new(text, new UnParserSettings { SkipDefault = true }, sample);
}
