using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace AQ4SViT.Onnx.Tests.Architecture;

/// <summary>
/// The library's rooms (folder = namespace under <c>AQ4SViT.Onnx</c>) flow one way: a file may use the rooms of lower
/// tiers only, never a room of its own tier or above (docs/architecture.md). Reads the sources: <c>using</c> lines
/// (plain, static, alias, global) and namespace-qualified references such as <c>Simulate.Tensor</c>, crefs included.
/// </summary>
public sealed partial class LayeringTests(ITestOutputHelper output)
{
    /// <summary>The order, bottom first; rooms of one tier do not use each other.</summary>
    internal static readonly string[][] Layering =
    [
        ["Core"],                               // Tensor, ElementKind, TensorArena, BufferPool, FreedMemory, Throw, BadInputException, TopOne
        ["Files", "Import", "Models", "Data"],   // atomic writes; the ONNX file; model cards; datasets
        ["Graph"],                              // the IR (Node, SpikingGraph, LifLayer) and its rewrites, LIF recognition
        ["Simulate"],                           // kernels, GraphLoader (constant folding runs kernels), the simulator
        ["Quantize"],                           // settings, weight catalogue, fake-quant weights
        ["Search", "Emit", "Ort"],              // the search (strategies, backends, journal, report); QDQ / fake-quant ONNX; ONNX Runtime hosting (sessions, devices)
        ["Validate"],                           // classifiers (ORT, simulator), accuracy
        ["Runners"],                            // the pipelines the CLI verbs call: SearchRunner, the ONNX Runtime evaluators
    ];

    private static string Library => Path.Combine(RepoPaths.Root, "src", "AQ4SViT.Onnx");

    [Fact]
    public void Rooms_UseOnlyLowerTiers()
    {
        var sources = Sources();
        var edges = Edges(sources);
        var tier = Tiers();

        foreach (var group in edges.GroupBy(e => (e.From, e.To)).OrderBy(g => g.Key.From).ThenBy(g => g.Key.To))
        {
            output.WriteLine($"{group.Key.From} -> {group.Key.To}: {group.Select(e => e.File).Distinct().Count()} files");
        }

        var back = edges.Where(e => tier.ContainsKey(e.From) && tier.ContainsKey(e.To) && tier[e.To] >= tier[e.From])
            .Select(e => $"{e.File}: {e.From} -> {e.To} ({e.How}), " + (tier[e.To] == tier[e.From] ? "same tier" : "a higher tier"))
            .Distinct()
            .ToList();
        Assert.True(back.Count == 0, "back-edges against LayeringTests.Layering:\n" + string.Join("\n", back));
    }

    [Fact]
    public void Rooms_EveryFolderIsPlaced()
    {
        var folders = Directory.GetDirectories(Library)
            .Select(d => Path.GetFileName(d))
            .Where(d => d is not ("bin" or "obj") && Directory.EnumerateFiles(Path.Combine(Library, d), "*.cs", SearchOption.AllDirectories).Any())
            .ToHashSet();
        var placed = Layering.SelectMany(t => t).ToHashSet();

        Assert.Empty(folders.Except(placed));
        Assert.Empty(placed.Except(folders));
        Assert.Empty(Directory.GetFiles(Library, "*.cs")); // every file sits in a room
    }

    [Fact]
    public void Files_NamespaceIsTheirFolder()
    {
        var wrong = Sources()
            .Where(s => s.Namespace != "AQ4SViT.Onnx." + Path.GetDirectoryName(s.File)!.Replace('/', '.'))
            .Select(s => $"{s.File}: namespace {s.Namespace}")
            .ToList();

        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void Edges_FoundInUsingsAndQualifiedReferences()
    {
        var sources = new List<Source>
        {
            new("Graph/A.cs", "Graph", "AQ4SViT.Onnx.Graph", """
                using System.Text;
                using AQ4SViT.Onnx.Search;
                using static AQ4SViT.Onnx.Validate.Accuracy;
                using Q = AQ4SViT.Onnx.Quantize.Setting;
                namespace AQ4SViT.Onnx.Graph;
                /// <see cref="Emit.ModelEmitter"/>
                record struct A { Simulate.Simulator? _s; AQ4SViT.Onnx.Ort.OrtSessions? _o; object _p = x.Simulate.Simulator; } // Data.ImageSet
                """),
            new("Search/B.cs", "Search", "AQ4SViT.Onnx.Search", "class Simulator {}"),
        };
        var declared = new Dictionary<string, HashSet<string>>
        {
            ["Simulate"] = ["Simulator"], ["Emit"] = ["ModelEmitter"], ["Ort"] = ["OrtSessions"], ["Data"] = ["ImageSet"],
        };

        var found = Edges(sources, declared).Select(e => e.To).Distinct().Order().ToArray();

        Assert.Equal(["Emit", "Ort", "Quantize", "Search", "Simulate", "Validate"], found);
    }

    private sealed record Source(string File, string Room, string Namespace, string Text);

    private sealed record Edge(string File, string From, string To, string How);

    private static Dictionary<string, int> Tiers() =>
        Layering.SelectMany((rooms, i) => rooms.Select(r => (r, i))).ToDictionary(p => p.r, p => p.i);

    private static List<Source> Sources()
    {
        var list = new List<Source>();
        foreach (string path in Directory.EnumerateFiles(Library, "*.cs", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(Library, path).Replace('\\', '/');
            if (rel.StartsWith("bin/", StringComparison.Ordinal) || rel.StartsWith("obj/", StringComparison.Ordinal))
            {
                continue;
            }

            string text = File.ReadAllText(path);
            string ns = FileNamespace().Match(text) is { Success: true } m ? m.Groups[1].Value : "";
            list.Add(new Source(rel, rel.Split('/')[0], ns, text));
        }

        return list;
    }

    private static List<Edge> Edges(List<Source> sources) =>
        Edges(sources, sources.GroupBy(s => s.Room).ToDictionary(g => g.Key, g => g.SelectMany(s => TypeDeclaration().Matches(s.Text).Select(m => m.Groups[1].Value)).ToHashSet()));

    /// <summary>Every use of another room: a using of its namespace, or a reference qualified by its name to a type it declares.</summary>
    private static List<Edge> Edges(List<Source> sources, Dictionary<string, HashSet<string>> declared)
    {
        var edges = new List<Edge>();
        foreach (var s in sources)
        {
            string code = LineComment().Replace(s.Text, "");
            foreach (Match m in UsingDirective().Matches(code))
            {
                edges.Add(new Edge(s.File, s.Room, m.Groups[1].Value, m.Value.Trim()));
            }

            foreach (Match m in QualifiedReference().Matches(code))
            {
                string room = m.Groups[1].Value;
                if (declared.TryGetValue(room, out var types) && types.Contains(m.Groups[2].Value))
                {
                    edges.Add(new Edge(s.File, s.Room, room, m.Value));
                }
            }
        }

        return edges.Where(e => e.To != e.From).ToList();
    }

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*[;{]", RegexOptions.Multiline)]
    private static partial Regex FileNamespace();

    [GeneratedRegex(@"^\s*(?:global\s+)?using\s+(?:static\s+)?(?:\w+\s*=\s*)?AQ4SViT\.Onnx\.(\w+)[\w.]*\s*;", RegexOptions.Multiline)]
    private static partial Regex UsingDirective();

    /// <summary><c>Room.Type</c> or <c>AQ4SViT.Onnx.Room.Type</c>, not a member access such as <c>x.Room.Type</c>.</summary>
    [GeneratedRegex(@"(?<![\w.])(?:AQ4SViT\.Onnx\.)?(\w+)\.(\w+)")]
    private static partial Regex QualifiedReference();

    [GeneratedRegex(@"\b(?:class|struct|interface|enum|record(?:\s+struct|\s+class)?|delegate\s+[\w<>\[\]?,. ]+?)\s+(\w+)")]
    private static partial Regex TypeDeclaration();

    /// <summary>A <c>//</c> comment to the end of the line; <c>///</c> doc comments stay (their crefs are references).</summary>
    [GeneratedRegex(@"(?<![/:])//(?!/).*$", RegexOptions.Multiline)]
    private static partial Regex LineComment();
}
