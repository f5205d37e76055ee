using System.Text.Json;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Tests.Cli;
using Google.Protobuf;
using Xunit.Abstractions;

namespace AQ4SViT.Onnx.Tests.Robustness;

/// <summary>
/// Seeded fuzzing of the real models through the command line (<c>inspect</c>, then <c>eval --limit 2</c>): every
/// mutant either runs or exits 3 with one line naming the problem — never an unhandled exception (exit 1), a hang
/// (each run has a time limit) or an allocation far beyond what the unmutated model needs.
/// Set AQ4SVIT_FUZZ_SCALE (default 1) to multiply the number of mutations, AQ4SVIT_FUZZ_SEED to change the seed,
/// AQ4SVIT_FUZZ_TRACE to a file to log each mutation before it runs.
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
        var fuzz = new Fuzzer(dir, output);
        string[] lifCases = Directory.GetFiles(Path.Combine(RepoPaths.Models, "tests", "lif-cases"), "*.onnx").Order(StringComparer.Ordinal).ToArray();
        var rng = new Random(s_seed);
        for (int i = 0; i < 160 * s_scale; i++)
        {
            string source = lifCases[rng.Next(lifCases.Length)];
            var bytes = File.ReadAllBytes(source);
            string what = ModelMutator.MutateBytes(rng, ref bytes);
            fuzz.Try($"{Path.GetFileName(source)}: {what}", bytes, data: null, eval: false, source);
        }

        foreach (string name in new[] { "spikformer-d64", "sdt-d64" })
        {
            string source = Path.Combine(RepoPaths.Models, "tests", name, "model.onnx");
            var original = File.ReadAllBytes(source);
            for (int i = 0; i < 50 * s_scale; i++)
            {
                var bytes = original;
                string what = ModelMutator.MutateBytes(rng, ref bytes);
                fuzz.Try($"{name}: {what}", bytes, data: null, eval: true, source);
            }
        }

        fuzz.AssertAllHeld();
    }

    [Fact]
    public void Fuzz_Structure_SmallModels_RunOrExitThree()
    {
        using var dir = new TempDir();
        var fuzz = new Fuzzer(dir, output);
        var rng = new Random(s_seed + 1);
        foreach (string name in new[] { "spikformer-d64", "sdt-d64" })
        {
            string source = Path.Combine(RepoPaths.Models, "tests", name, "model.onnx");
            var original = ModelProto.Parser.ParseFrom(File.ReadAllBytes(source));
            for (int i = 0; i < 120 * s_scale; i++)
            {
                var model = original.Clone();
                string what = ModelMutator.MutateStructure(rng, model, externalData: false);
                fuzz.Try($"{name}: {what}", model.ToByteArray(), data: null, eval: true, source);
            }
        }

        fuzz.AssertAllHeld();
    }

    [Fact]
    public void Fuzz_ExternalData_DynamoModels_RunOrExitThree()
    {
        using var dir = new TempDir();
        var fuzz = new Fuzzer(dir, output);
        var rng = new Random(s_seed + 2);
        foreach (var (name, count) in new[] { ("tests/spikformer-d64-dynamo", 80), ("spikformer-fmnist-dynamo", 10) })
        {
            string source = Path.Combine(RepoPaths.Models, name, "model.onnx");
            var original = ModelProto.Parser.ParseFrom(File.ReadAllBytes(source));
            var data = File.ReadAllBytes(source + ".data");
            for (int i = 0; i < count * s_scale; i++)
            {
                var model = original.Clone();
                var mutatedData = data;
                string what;
                switch (rng.Next(4))
                {
                    case 0:
                        what = "external data: " + ModelMutator.MutateStructure(rng, model, externalData: true);
                        break;
                    case 1:
                        int keep = rng.Next(data.Length);
                        mutatedData = data[..keep];
                        what = $"model.onnx.data cut to {keep} of {data.Length} bytes";
                        break;
                    case 2:
                        mutatedData = null;
                        what = "model.onnx.data missing";
                        break;
                    default:
                        what = ModelMutator.MutateStructure(rng, model, externalData: true);
                        break;
                }

                fuzz.Try($"{name}: {what}", model.ToByteArray(), mutatedData, eval: true, source);
            }
        }

        fuzz.AssertAllHeld();
    }

    [Fact]
    public void Fuzz_BundledModel_RunOrExitThree()
    {
        using var dir = new TempDir();
        var fuzz = new Fuzzer(dir, output);
        var rng = new Random(s_seed + 3);
        string source = RepoPaths.Model("spikformer-fmnist");
        var bytes = File.ReadAllBytes(source);
        var proto = ModelProto.Parser.ParseFrom(bytes);
        for (int i = 0; i < 10 * s_scale; i++)
        {
            var mutated = bytes;
            string what = ModelMutator.MutateBytes(rng, ref mutated);
            fuzz.Try($"spikformer-fmnist: {what}", mutated, data: null, eval: i % 3 == 0, source);
            var model = proto.Clone();
            what = ModelMutator.MutateStructure(rng, model, externalData: false);
            fuzz.Try($"spikformer-fmnist: {what}", model.ToByteArray(), data: null, eval: i % 3 == 0, source);
        }

        fuzz.AssertAllHeld();
    }

    /// <summary>Writes each mutant, runs the tool on it and collects every broken promise (all of them, not just the first).</summary>
    private sealed class Fuzzer(TempDir dir, ITestOutputHelper output)
    {
        private static int s_total;
        private readonly List<string> _failures = [];
        private readonly Dictionary<string, int> _outcomes = new(StringComparer.Ordinal);
        private readonly Dictionary<string, long> _baselines = new(StringComparer.Ordinal);
        private readonly string _data = TinyDataset.FashionMnist(Path.Combine(dir.Path, "data"), 2);
        private readonly System.Diagnostics.Stopwatch _watch = System.Diagnostics.Stopwatch.StartNew();
        private int _count;
        private int _ran;

        public void Try(string what, byte[] model, byte[]? data, bool eval, string source)
        {
            _count++;
            if (Environment.GetEnvironmentVariable("AQ4SVIT_FUZZ_TRACE") is { Length: > 0 } trace)
            {
                // Survives a crash of the test host: the last line is the mutant that took it down.
                File.AppendAllText(trace, $"{_count} {what}\n");
            }

            string folder = Path.Combine(dir.Path, $"m{_count}");
            Directory.CreateDirectory(folder);
            string path = Path.Combine(folder, "model.onnx");
            File.WriteAllBytes(path, model);
            if (data is not null)
            {
                File.WriteAllBytes(path + ".data", data);
            }

            long baseline = Baseline(source, eval);
            long budget = (4 * baseline) + (64L << 20);
            string[][] commands = eval
                ? [["inspect", path, "--json"], ["eval", path, "--data", _data, "--limit", "2", "--batch", "2", "--threads", "1", "--json"]]
                : [["inspect", path, "--json"]];
            foreach (var args in commands)
            {
                CliResult result;
                try
                {
                    result = CliRun.Run(s_limit, args);
                }
                catch (TimeoutException e)
                {
                    _failures.Add($"{what}: {e.Message}");
                    break;
                }

                string problem = Check(result, budget, folder);
                if (problem.Length > 0)
                {
                    _failures.Add($"{what}: {args[0]}: {problem}");
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
            output.WriteLine($"{_count} mutations tried in {_watch.Elapsed.TotalSeconds:F0} s ({s_total} in this test run so far); {_ran} command runs succeeded");
            foreach (var (outcome, n) in _outcomes.OrderByDescending(p => p.Value))
            {
                output.WriteLine($"{n,5}  {outcome}");
            }

            Assert.True(_failures.Count == 0, $"{_failures.Count} of {_count} mutations broke a promise:\n" + string.Join("\n", _failures.Take(40)));
        }

        private long Baseline(string source, bool eval)
        {
            string key = source + eval;
            if (!_baselines.TryGetValue(key, out long bytes))
            {
                var r = CliRun.Run(s_limit, "inspect", source, "--json");
                bytes = r.AllocatedBytes;
                if (eval)
                {
                    r = CliRun.Run(s_limit, "eval", source, "--data", _data, "--limit", "2", "--batch", "2", "--threads", "1", "--json");
                    bytes = Math.Max(bytes, r.AllocatedBytes);
                }

                Assert.True(r.ExitCode == 0, $"unmutated {source}: {r}");
                _baselines[key] = bytes;
            }

            return bytes;
        }

        private static string Check(CliResult result, long budget, string folder)
        {
            if (result.AllocatedBytes > budget)
            {
                return $"allocated {result.AllocatedBytes:N0} bytes, budget {budget:N0}; {result}";
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
