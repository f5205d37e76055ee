using AQ4SViT.Onnx.Import.Proto;
using Google.Protobuf;

namespace AQ4SViT.Onnx.Tests.Robustness;

/// <summary>
/// One mutant of the model fuzz tests: its 0-based position in its corpus, what was done, the bytes to write as
/// model.onnx (and model.onnx.data, when the corpus has external data), whether <c>eval</c> runs after <c>inspect</c>,
/// and the unmutated model it came from (whose own allocation is the budget's baseline).
/// </summary>
internal sealed record Mutant(int Index, string What, byte[] Model, byte[]? Data, bool Eval, string Source);

/// <summary>
/// The mutant streams of <see cref="ModelFuzzTests"/>, one per reader, as pure functions of a seed and a scale: a failure
/// seen with <c>AQ4SVIT_FUZZ_SEED=S</c> is replayed by taking the same index from the same stream (the regression tests
/// in <see cref="ModelFuzzRegressionTests"/> do). The order of random draws is the one the seeds 11, 23, 31 and 47 were
/// fixed against; change it and those seeds' mutants change.
/// </summary>
internal static class FuzzCorpus
{
    /// <summary>Byte damage: 160 × scale mutants of the LIF test cases (inspect only), then 50 × scale of spikformer-d64 and sdt-d64 (inspect and eval).</summary>
    public static IEnumerable<Mutant> RawBytes(int seed, int scale)
    {
        string[] lifCases = Directory.GetFiles(Path.Combine(RepoPaths.Models, "tests", "lif-cases"), "*.onnx").Order(StringComparer.Ordinal).ToArray();
        var rng = new Random(seed);
        int index = 0;
        for (int i = 0; i < 160 * scale; i++)
        {
            string source = lifCases[rng.Next(lifCases.Length)];
            var bytes = File.ReadAllBytes(source);
            string what = ModelMutator.MutateBytes(rng, ref bytes);
            yield return new Mutant(index++, $"{Path.GetFileName(source)}: {what}", bytes, null, Eval: false, source);
        }

        foreach (string name in new[] { "spikformer-d64", "sdt-d64" })
        {
            string source = Path.Combine(RepoPaths.Models, "tests", name, "model.onnx");
            var original = File.ReadAllBytes(source);
            for (int i = 0; i < 50 * scale; i++)
            {
                var bytes = original;
                string what = ModelMutator.MutateBytes(rng, ref bytes);
                yield return new Mutant(index++, $"{name}: {what}", bytes, null, Eval: true, source);
            }
        }
    }

    /// <summary>Structural damage through the protobuf classes: 120 × scale mutants each of spikformer-d64 and sdt-d64.</summary>
    public static IEnumerable<Mutant> Structure(int seed, int scale)
    {
        var rng = new Random(seed);
        int index = 0;
        foreach (string name in new[] { "spikformer-d64", "sdt-d64" })
        {
            string source = Path.Combine(RepoPaths.Models, "tests", name, "model.onnx");
            var original = ModelProto.Parser.ParseFrom(File.ReadAllBytes(source));
            for (int i = 0; i < 120 * scale; i++)
            {
                var model = original.Clone();
                string what = ModelMutator.MutateStructure(rng, model, externalData: false);
                yield return new Mutant(index++, $"{name}: {what}", model.ToByteArray(), null, Eval: true, source);
            }
        }
    }

    /// <summary>Models with external data (dynamo exports): 80 × scale mutants of spikformer-d64-dynamo, 10 × scale of spikformer-fmnist-dynamo.</summary>
    public static IEnumerable<Mutant> ExternalData(int seed, int scale)
    {
        var rng = new Random(seed);
        int index = 0;
        foreach (var (name, count) in new[] { ("tests/spikformer-d64-dynamo", 80), ("spikformer-fmnist-dynamo", 10) })
        {
            string source = Path.Combine(RepoPaths.Models, name, "model.onnx");
            var original = ModelProto.Parser.ParseFrom(File.ReadAllBytes(source));
            var data = File.ReadAllBytes(source + ".data");
            for (int i = 0; i < count * scale; i++)
            {
                var model = original.Clone();
                byte[]? mutatedData = data;
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

                yield return new Mutant(index++, $"{name}: {what}", model.ToByteArray(), mutatedData, Eval: true, source);
            }
        }
    }

    /// <summary>The bundled Spikformer: 10 × scale pairs of a byte mutant and a structural one, every third pair also evaluated.</summary>
    public static IEnumerable<Mutant> Bundled(int seed, int scale)
    {
        var rng = new Random(seed);
        string source = RepoPaths.Model("spikformer-fmnist");
        var bytes = File.ReadAllBytes(source);
        var proto = ModelProto.Parser.ParseFrom(bytes);
        int index = 0;
        for (int i = 0; i < 10 * scale; i++)
        {
            var mutated = bytes;
            string what = ModelMutator.MutateBytes(rng, ref mutated);
            yield return new Mutant(index++, $"spikformer-fmnist: {what}", mutated, null, Eval: i % 3 == 0, source);
            var model = proto.Clone();
            what = ModelMutator.MutateStructure(rng, model, externalData: false);
            yield return new Mutant(index++, $"spikformer-fmnist: {what}", model.ToByteArray(), null, Eval: i % 3 == 0, source);
        }
    }
}
