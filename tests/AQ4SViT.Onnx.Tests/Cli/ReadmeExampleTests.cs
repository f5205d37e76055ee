namespace AQ4SViT.Onnx.Tests.Cli;

/// <summary>
/// The README's example (the block under <c>## Example</c>) is what the tool prints: its first line is the command, run
/// here from the repository root; every other line must be the next line of the output, except <c>…</c>, which stands for
/// any number of lines left out.
/// </summary>
[Collection("Console")]
public sealed class ReadmeExampleTests
{
    [Fact]
    public void Readme_Example_IsWhatTheCommandPrints()
    {
        string[] block = ExampleBlock();
        Assert.StartsWith("$ aq4svit ", block[0], StringComparison.Ordinal);
        string[] args = block[0]["$ aq4svit ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string[] absolute = [.. args.Select(a => File.Exists(Path.Combine(RepoPaths.Root, a)) ? Path.Combine(RepoPaths.Root, a) : a)];

        var r = CliRun.Run(absolute);

        Assert.True(r.ExitCode == 0, r.ToString());
        string[] output = r.Stdout.Replace(RepoPaths.Root + Path.DirectorySeparatorChar, "", StringComparison.Ordinal)
            .TrimEnd('\n').Split('\n');
        AssertShown(block[1..], output);
    }

    /// <summary>Each line of <paramref name="shown"/> is the next line of <paramref name="output"/>; "…" skips up to the
    /// next shown line; without a final "…" the output ends where the shown lines do.</summary>
    private static void AssertShown(string[] shown, string[] output)
    {
        int at = 0;
        for (int i = 0; i < shown.Length; i++)
        {
            if (shown[i] == "…")
            {
                if (i + 1 == shown.Length)
                {
                    return;
                }

                while (at < output.Length && output[at] != shown[i + 1])
                {
                    at++;
                }

                Assert.True(at < output.Length, $"README example line {i + 3} ('{shown[i + 1]}') is not in the output after line {i + 2}:\n{string.Join('\n', output)}");
                continue;
            }

            Assert.True(at < output.Length, $"README example line {i + 2} ('{shown[i]}') is past the end of the output");
            Assert.Equal(shown[i], output[at]);
            at++;
        }

        Assert.Equal(output.Length, at);
    }

    private static string[] ExampleBlock()
    {
        string readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));
        int start = readme.IndexOf("\n## Example\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no '## Example' section");
        int fence = readme.IndexOf("```\n", start, StringComparison.Ordinal) + 4;
        int end = readme.IndexOf("\n```", fence, StringComparison.Ordinal);
        return readme[fence..end].Split('\n');
    }
}
