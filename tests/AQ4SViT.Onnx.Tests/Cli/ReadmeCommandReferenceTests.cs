using System.Reflection;
using System.Text.RegularExpressions;
using AQ4SViT.Cli;
using CommandLine;

namespace AQ4SViT.Onnx.Tests.Cli;

/// <summary>
/// The README's command reference (the <c>## Commands</c> block) names exactly the options each verb's parser takes: a
/// flag added to the code and not to the README, or one the README shows that the code lacks, fails here.
/// </summary>
public sealed partial class ReadmeCommandReferenceTests
{
    private static readonly Type[] s_verbs = [.. typeof(Program).Assembly.GetTypes().Where(t => t.GetCustomAttribute<VerbAttribute>() is not null)];

    public static TheoryData<string> Verbs => new(s_verbs.Select(VerbName));

    [Theory]
    [MemberData(nameof(Verbs))]
    public void Readme_CommandReference_ListsEveryOptionOfTheVerbAndNoOther(string verb)
    {
        var type = s_verbs.Single(t => VerbName(t) == verb);
        var parsed = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.GetCustomAttribute<OptionAttribute>()?.LongName)
            .OfType<string>()
            .Where(n => n.Length > 0)
            .Order(StringComparer.Ordinal)
            .ToArray();

        var documented = ReadmeOptions(verb).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(parsed, documented);
    }

    private static string VerbName(Type t) => t.GetCustomAttribute<VerbAttribute>()!.Name;

    /// <summary>
    /// Options the README gives a verb: the <c>--name</c>s on its synopsis lines (the <c>aq4svit VERB</c> line and the
    /// indented lines after it), the DATA block's when the synopsis says <c>[DATA]</c> (less what the DATA block says
    /// the verb does not take), and <c>--quiet</c> where the sentence after the block names the verb.
    /// </summary>
    private static HashSet<string> ReadmeOptions(string verb)
    {
        string readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));
        int start = readme.IndexOf("\n## Commands", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no '## Commands' section");
        string section = readme[start..];
        int fence = section.IndexOf("```", StringComparison.Ordinal);
        int end = section.IndexOf("```", fence + 3, StringComparison.Ordinal);
        string[] lines = section[(fence + 3)..end].Split('\n');
        string after = section[(end + 3)..].Split("\n\n")[0];

        var synopsis = new List<string>();
        var data = new List<string>();
        List<string>? current = null;
        foreach (string line in lines)
        {
            if (line.StartsWith("aq4svit ", StringComparison.Ordinal))
            {
                current = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] == verb ? synopsis : null;
            }
            else if (line.StartsWith("DATA:", StringComparison.Ordinal))
            {
                current = data;
            }
            else if (line.Trim().Length == 0)
            {
                current = null;
            }

            current?.Add(line);
        }

        Assert.True(synopsis.Count > 0, $"README.md's command reference has no 'aq4svit {verb}' line");
        var options = Options(string.Join(' ', synopsis));
        if (synopsis[0].Contains("[DATA]", StringComparison.Ordinal))
        {
            string dataText = string.Join(' ', data);
            var excluded = Regex.Match(dataText, $@"\({verb}: no ([^)]*)\)") is { Success: true } m ? Options(m.Groups[1].Value) : [];
            options.UnionWith(Options(Regex.Replace(dataText, @"\([a-z]+: no [^)]*\)", "")).Except(excluded));
        }

        string? quietSentence = after.Split('\n').FirstOrDefault(l => l.Contains("also take `--quiet`", StringComparison.Ordinal));
        if (quietSentence?.Contains($"`{verb}`", StringComparison.Ordinal) == true)
        {
            options.Add("quiet");
        }

        return options;
    }

    private static HashSet<string> Options(string text) => [.. OptionName().Matches(text).Select(m => m.Groups[1].Value)];

    [GeneratedRegex(@"--([a-z][a-z0-9-]*)")]
    private static partial Regex OptionName();
}
