using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Runners;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Tests.Emit;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>
/// A regression pin (issue 22, point 5: "a test pins the main job's setting on a small slice"): the README's main job —
/// greedy, layer granularity, budget 1.5 points, every other option at its default — on the bundled Spikformer, on a
/// small slice of the search and test splits, must choose the very setting it chose when the expected file was made.
/// <para>
/// A pinned expected file is legitimate here because it is not the oracle of any correctness claim: it records what the
/// code did at one commit so that a refactoring that should change nothing (rooms, tables, renames) shows when it does.
/// Whether the search is right is checked elsewhere against independent oracles (ONNX Runtime for the kernels and the
/// emitted files, scalar references, the budget on held-out data in <see cref="SearchRunnerTests"/>). When a change is
/// meant to alter the search, regenerate the file and say so in the commit.
/// </para>
/// </summary>
public sealed class MainJobPinTests
{
    /// <summary>The environment variable that makes the test write the expected file instead of comparing.</summary>
    private const string RegenerateVariable = "AQ4SVIT_REGENERATE_PINS";

    private static readonly string s_expected = TestModels.Fixture("main-job-pin.setting.json");

    [Fact]
    public void Search_MainJobOnSmallSlice_ChoosesThePinnedSetting()
    {
        using var dir = new TempDir();
        var job = new SearchJob
        {
            ModelPath = RepoPaths.Model("spikformer-fmnist"),
            Data = SharedData.FashionMnist,
            OutDirectory = dir.Path,
            // The main job's options (the CLI's defaults), with a smaller calibration batch.
            Options = new SearchOptions
            {
                Strategy = SearchStrategy.Greedy,
                Granularity = Granularity.Layer,
                MaxDrop = 1.5,
                Bits = [2, 3, 4, 5, 6, 8],
                CalibrationImages = 32,
            },
            SearchLimit = 100,
            ConfirmLimit = 100,
            TestLimit = 100,
            Threads = 2,
        };

        SearchRunner.Run(job, CancellationToken.None);
        string actual = File.ReadAllText(dir.File("setting.json"));

        if (Environment.GetEnvironmentVariable(RegenerateVariable) == "1")
        {
            File.WriteAllText(s_expected, actual);
            return;
        }

        Assert.True(File.Exists(s_expected), $"{s_expected} is missing; make it with: {RegenerateCommand}");
        string expected = File.ReadAllText(s_expected);
        Assert.True(expected == actual,
            $"""
             The main job's setting on a small slice changed: the search now behaves differently from when
             {s_expected} was made. If that change of behaviour is intended, regenerate the file with
               {RegenerateCommand}
             and say so in the commit; if not, a refactoring changed what the search does.
             Expected:
             {expected}
             Actual:
             {actual}
             """);
    }

    private static string RegenerateCommand =>
        $"{RegenerateVariable}=1 dotnet test tests/AQ4SViT.Onnx.Tests -c Release --filter FullyQualifiedName~{nameof(MainJobPinTests)}";
}
