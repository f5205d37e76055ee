using System.Text;
using System.Text.Json;
using AQ4SViT.Onnx.Tests.Cli;
using Xunit.Abstractions;

namespace AQ4SViT.Onnx.Tests.Robustness;

/// <summary>
/// Seeded fuzzing of every file the tool reads, through the command line: model bytes and structure (<c>inspect</c>, then
/// <c>eval --limit 2</c>), external data, setting.json (<c>apply</c>) and state.json (<c>search --resume</c>). Every
/// mutant either runs or exits 3 with one line naming the problem — never an unhandled exception (exit 1), a hang
/// (each run has a time limit), or an allocation or heap peak far beyond what the unmutated input needs.
/// Set AQ4SVIT_FUZZ_SCALE (default 1) to multiply the number of mutations, AQ4SVIT_FUZZ_SEED to change the seed
/// (.ci/run draws one per run and prints it), AQ4SVIT_FUZZ_TRACE to a file to log each mutation before it runs,
/// AQ4SVIT_FUZZ_REPORT to a file to get one summary line per test (tools/fuzz-long.sh). A failure names the mutant's
/// corpus index: <see cref="FuzzCorpus"/> with the same seed and scale replays it.
/// </summary>
[Collection("Console")]
public sealed class ModelFuzzTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);
    private static readonly int s_scale = int.TryParse(Environment.GetEnvironmentVariable("AQ4SVIT_FUZZ_SCALE"), out int s) && s > 0 ? s : 1;
    private static readonly int s_seed = int.TryParse(Environment.GetEnvironmentVariable("AQ4SVIT_FUZZ_SEED"), out int s) ? s : 7;

    [Fact]
    public void Fuzz_RawBytes_SmallModels_RunOrExitThree()
    {
        using var dir = new TempDir();
        var fuzz = new Fuzzer(dir, output, "ONNX (raw bytes)", s_seed);
        foreach (var m in FuzzCorpus.RawBytes(s_seed, s_scale))
        {
            fuzz.Try(m);
        }

        fuzz.AssertAllHeld();
    }

    [Fact]
    public void Fuzz_Structure_SmallModels_RunOrExitThree()
    {
        using var dir = new TempDir();
        var fuzz = new Fuzzer(dir, output, "ONNX (structure)", s_seed + 1);
        foreach (var m in FuzzCorpus.Structure(s_seed + 1, s_scale))
        {
            fuzz.Try(m);
        }

        fuzz.AssertAllHeld();
    }

    [Fact]
    public void Fuzz_ExternalData_DynamoModels_RunOrExitThree()
    {
        using var dir = new TempDir();
        var fuzz = new Fuzzer(dir, output, "external data", s_seed + 2);
        foreach (var m in FuzzCorpus.ExternalData(s_seed + 2, s_scale))
        {
            fuzz.Try(m);
        }

        fuzz.AssertAllHeld();
    }

    [Fact]
    public void Fuzz_BundledModel_RunOrExitThree()
    {
        using var dir = new TempDir();
        var fuzz = new Fuzzer(dir, output, "ONNX (bundled model)", s_seed + 3);
        foreach (var m in FuzzCorpus.Bundled(s_seed + 3, s_scale))
        {
            fuzz.Try(m);
        }

        fuzz.AssertAllHeld();
    }

    /// <summary><c>apply</c> with a damaged setting.json (the one a search wrote for spikformer-d64): it applies, or exits 3 naming the file.</summary>
    [Fact]
    public void Fuzz_SettingJson_Apply_RunOrExitThree()
    {
        using var dir = new TempDir();
        var fuzz = new Fuzzer(dir, output, "setting.json", s_seed + 4);
        string model = Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx");
        string setting = File.ReadAllText(SearchOutput(dir, model, fuzz.Data, "setting.json"));
        var rng = new Random(s_seed + 4);
        for (int i = 0; i < 40 * s_scale; i++)
        {
            string text = JsonMutator.Mutate(rng, setting, out string what);
            fuzz.TryFiles(
                $"setting.json: {what}",
                [("setting.json", Encoding.UTF8.GetBytes(text))],
                folder => [["apply", model, "--setting", Path.Combine(folder, "setting.json"), "--out", Path.Combine(folder, "q.onnx"), "--json"]],
                "apply " + model,
                () => [["apply", model, "--setting", Path.Combine(dir.Path, "search", "setting.json"), "--out", dir.File("baseline.onnx"), "--json"]]);
        }

        fuzz.AssertAllHeld();
    }

    /// <summary><c>search --resume</c> from a damaged state.json: it resumes (or starts afresh), or exits 3 naming the file.</summary>
    [Fact]
    public void Fuzz_StateJson_Resume_RunOrExitThree()
    {
        using var dir = new TempDir();
        var fuzz = new Fuzzer(dir, output, "state.json", s_seed + 5);
        string model = Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx");
        string state = File.ReadAllText(SearchOutput(dir, model, fuzz.Data, "state.json"));
        var rng = new Random(s_seed + 5);
        for (int i = 0; i < 6 * s_scale; i++)
        {
            string text = JsonMutator.Mutate(rng, state, out string what);
            fuzz.TryFiles(
                $"state.json: {what}",
                [("state.json", Encoding.UTF8.GetBytes(text))],
                folder => [SearchArgs(model, fuzz.Data, folder, "--resume")],
                "search --resume " + model,
                () => [SearchArgs(model, fuzz.Data, Path.Combine(dir.Path, "search"), "--resume")]);
        }

        fuzz.AssertAllHeld();
    }

    /// <summary>
    /// <c>eval</c> reading damaged data, one file of one source at a time (truncations, flipped bits, garbage, insertions,
    /// header bytes): IDX plain and gzip, a CIFAR-10 batch, a PNG class-folder tree, a .npy pair, a .npz, and event-frame
    /// .npz files. It evaluates, or exits 3 with one line naming the file, within the allocation and heap budgets.
    /// </summary>
    [Fact]
    public void Fuzz_DataFiles_Eval_RunOrExitThree()
    {
        using var dir = new TempDir();
        var fuzz = new Fuzzer(dir, output, "data files", s_seed + 6);
        var sources = DataFuzzSources.All();
        var rng = new Random(s_seed + 6);
        for (int i = 0; i < 12 * sources.Length * s_scale; i++)
        {
            var source = sources[rng.Next(sources.Length)];
            int target = rng.Next(source.Files.Length);
            byte[] bytes = source.Files[target].Bytes;
            string how = ModelMutator.MutateBytes(rng, ref bytes);
            var files = source.Files.Select((f, k) => k == target ? (f.Name, (byte[]?)bytes) : (f.Name, (byte[]?)f.Bytes)).ToArray();
            string baseline = Path.Combine(dir.Path, "base-" + source.Name);
            if (!Directory.Exists(baseline))
            {
                DataFuzzSources.Write(baseline, source.Files);
            }

            fuzz.TryFiles(
                $"{source.Name}: {source.Files[target].Name}: {how}",
                files,
                folder => [source.Eval(Path.Combine(folder, source.Data))],
                source.Name,
                () => [source.Eval(Path.Combine(baseline, source.Data))]);
        }

        fuzz.AssertAllHeld();
    }

    /// <summary>The smallest search there is (two images a split, network granularity, bits 2 and 8).</summary>
    private static string[] SearchArgs(string model, string data, string outDir, params string[] more) =>
        ["search", model, "--data", data, "--out", outDir, "--calib", "2", "--bits", "2,8", "--granularity", "network",
            "--search-limit", "2", "--test-limit", "2", "--threads", "1", "--json", .. more];

    /// <summary>Runs <see cref="SearchArgs"/> once into <c>DIR/search</c> and returns the path of one of its outputs.</summary>
    private static string SearchOutput(TempDir dir, string model, string data, string file)
    {
        var r = CliRun.Run(TimeSpan.FromSeconds(120), SearchArgs(model, data, dir.File("search")));
        Assert.True(r.ExitCode == 0, $"search for the fuzz inputs: {r}");
        return Path.Combine(dir.Path, "search", file);
    }

    /// <summary>Writes each mutant, runs the tool on it and collects every broken promise (all of them, not just the first).</summary>
    private sealed class Fuzzer(TempDir dir, ITestOutputHelper output, string reader, int seed)
    {
        private static int s_total;
        private readonly List<string> _failures = [];
        private readonly Dictionary<string, int> _outcomes = new(StringComparer.Ordinal);
        private readonly Dictionary<string, long> _baselines = new(StringComparer.Ordinal);
        private readonly System.Diagnostics.Stopwatch _watch = System.Diagnostics.Stopwatch.StartNew();
        private int _count;
        private int _ran;

        /// <summary>Two Fashion-MNIST images: the data every <c>eval</c> (and <c>search</c>) of a mutant reads.</summary>
        public string Data { get; } = TinyDataset.FashionMnist(Path.Combine(dir.Path, "data"), 2);

        /// <summary>A model mutant: <c>inspect</c>, then (when it asks) <c>eval</c> of two images.</summary>
        public void Try(Mutant m) => TryFiles(
            m.What,
            [("model.onnx", m.Model), ("model.onnx.data", m.Data)],
            folder => Commands(Path.Combine(folder, "model.onnx"), m.Eval),
            m.Source + m.Eval,
            () => Commands(m.Source, m.Eval));

        /// <summary>
        /// Writes <paramref name="files"/> (null bytes: left out) into a fresh folder, runs <paramref name="commands"/> on it
        /// until one fails, and checks each run against the promises, with a budget from <paramref name="baseline"/>: the
        /// same commands on the unmutated inputs, run once per <paramref name="baselineKey"/>.
        /// </summary>
        public void TryFiles(string what, (string Name, byte[]? Bytes)[] files, Func<string, string[][]> commands, string baselineKey, Func<string[][]> baseline)
        {
            _count++;
            if (Environment.GetEnvironmentVariable("AQ4SVIT_FUZZ_TRACE") is { Length: > 0 } trace)
            {
                // Survives a crash of the test host: the last line is the mutant that took it down.
                File.AppendAllText(trace, $"{reader} seed {seed} #{_count - 1} {what}\n");
            }

            string folder = Path.Combine(dir.Path, $"m{_count}");
            Directory.CreateDirectory(folder);
            foreach (var (name, bytes) in files)
            {
                if (bytes is not null)
                {
                    string path = Path.Combine(folder, name);
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    File.WriteAllBytes(path, bytes);
                }
            }

            var budget = Budget(baselineKey, baseline);
            foreach (var args in commands(folder))
            {
                CliResult result;
                try
                {
                    result = CliRun.Run(s_limit, args);
                }
                catch (TimeoutException e)
                {
                    _failures.Add($"#{_count - 1} {what}: {e.Message}");
                    break;
                }

                string problem = Check(result, budget, folder);
                if (problem.Length > 0)
                {
                    _failures.Add($"#{_count - 1} {what}: {args[0]}: {problem}");
                }

                string outcome = result.ExitCode == 0 ? $"{args[0]}: ran" : $"{args[0]}: {Category(result.ErrorLines.FirstOrDefault() ?? "", folder)}";
                _outcomes[outcome] = _outcomes.GetValueOrDefault(outcome) + 1;
                if (result.ExitCode != 0)
                {
                    break;
                }

                _ran++;
            }

            Directory.Delete(folder, recursive: true);
        }

        public void AssertAllHeld()
        {
            Interlocked.Add(ref s_total, _count);
            output.WriteLine($"{reader}, seed {seed}, scale {s_scale}: {_count} mutations tried in {_watch.Elapsed.TotalSeconds:F0} s ({s_total} in this test run so far); {_ran} command runs succeeded; {_failures.Count} broke a promise");
            foreach (var (outcome, n) in _outcomes.OrderByDescending(p => p.Value))
            {
                output.WriteLine($"{n,5}  {outcome}");
            }

            if (Environment.GetEnvironmentVariable("AQ4SVIT_FUZZ_REPORT") is { Length: > 0 } report)
            {
                // One line per test: the long run's summary (tools/fuzz-long.sh turns them into benchmarks/fuzz.md).
                File.AppendAllText(report, $"{reader}\t{seed}\t{s_scale}\t{_count}\t{_ran}\t{_failures.Count}\t{_watch.Elapsed.TotalSeconds:F0}\t{string.Join(" | ", _failures.Take(5)).ReplaceLineEndings(" ")}\n");
            }

            Assert.True(_failures.Count == 0, $"{_failures.Count} of {_count} mutations broke a promise (seed {seed}, scale {s_scale}):\n" + string.Join("\n", _failures.Take(40)));
        }

        private string[][] Commands(string model, bool eval) => eval
            ? [["inspect", model, "--json"], ["eval", model, "--data", Data, "--limit", "2", "--batch", "2", "--threads", "1", "--json"]]
            : [["inspect", model, "--json"]];

        /// <summary>Allocation and heap-peak budgets: 4× what the unmutated inputs need (the larger of their runs) plus 64 MB.</summary>
        private (long Allocated, long Peak) Budget(string key, Func<string[][]> baseline)
        {
            if (!_baselines.TryGetValue(key, out long allocated) || !_baselines.TryGetValue(key + "peak", out long peak))
            {
                allocated = 0;
                peak = 0;
                foreach (var args in baseline())
                {
                    var r = CliRun.Run(s_limit, args);
                    Assert.True(r.ExitCode == 0, $"unmutated {key}: {string.Join(' ', args)}: {r}");
                    allocated = Math.Max(allocated, r.AllocatedBytes);
                    peak = Math.Max(peak, r.PeakHeapGrowthBytes);
                }

                _baselines[key] = allocated;
                _baselines[key + "peak"] = peak;
            }

            return ((4 * allocated) + (64L << 20), (4 * peak) + (64L << 20));
        }

        private static string Check(CliResult result, (long Allocated, long Peak) budget, string folder)
        {
            if (result.AllocatedBytes > budget.Allocated)
            {
                return $"allocated {result.AllocatedBytes:N0} bytes, budget {budget.Allocated:N0}; {result}";
            }

            if (result.PeakHeapGrowthBytes > budget.Peak)
            {
                return $"heap grew by {result.PeakHeapGrowthBytes:N0} bytes, budget {budget.Peak:N0}; {result}";
            }

            if (result.ExitCode == 0)
            {
                try
                {
                    using var json = JsonDocument.Parse(result.Stdout);
                }
                catch (JsonException)
                {
                    return $"exit 0 but stdout is not one JSON object: {result.Stdout[..Math.Min(200, result.Stdout.Length)]}";
                }

                return "";
            }

            if (result.ExitCode != 3)
            {
                return result.ToString();
            }

            var lines = result.ErrorLines;
            if (lines.Length != 1 || !lines[0].StartsWith("aq4svit: error: ", StringComparison.Ordinal))
            {
                return $"exit 3 without exactly one error line: {result.Stderr}";
            }

            // The message names the culprit: the file (path), or a node, op, tensor or value by name.
            string[] namers = [folder, "node '", "op '", "tensor '", "value '", "input '"];
            return namers.Any(n => lines[0].Contains(n, StringComparison.Ordinal)) ? "" : $"message names nothing: {lines[0]}";
        }

        /// <summary>An error line with paths, names and numbers blanked, to group outcomes in the test output.</summary>
        private static string Category(string line, string folder)
        {
            string s = line.Replace(folder, "DIR", StringComparison.Ordinal).Replace("aq4svit: error: ", "", StringComparison.Ordinal);
            s = System.Text.RegularExpressions.Regex.Replace(s, "'[^']*'", "'…'");
            s = System.Text.RegularExpressions.Regex.Replace(s, @"\(.*\)", "(…)");
            s = System.Text.RegularExpressions.Regex.Replace(s, @"-?\d+", "N");
            return s.Length > 110 ? s[..110] : s;
        }
    }
}
