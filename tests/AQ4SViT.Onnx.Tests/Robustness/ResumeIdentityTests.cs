using System.Text.Json;
using System.Text.Json.Nodes;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Tests.Cli;

namespace AQ4SViT.Onnx.Tests.Robustness;

/// <summary>
/// Issue 21, point 1: <c>--resume</c> cannot replay one search's results into another. state.json records SHA-256 of the
/// model (with its external data) and of the dataset, the split and every option that affects results; a difference is
/// refused in one line saying what differs (exit 3); options not typed again are taken from the checkpoint; an --out
/// that holds a search is refused without --resume or --force.
/// </summary>
[Collection("Console")]
public sealed class ResumeIdentityTests
{
    private static string SmallModel => Path.Combine(RepoPaths.Models, "tests", "spikformer-d64", "model.onnx");

    /// <summary>A quick search (eight images, network granularity, bits 2 and 8); <paramref name="more"/> adds or overrides options.</summary>
    private static string[] Search(string model, string data, string outDir, params string[] more) =>
        ["search", model, "--data", data, "--out", outDir, "--calib", "2", "--bits", "2,8", "--granularity", "network",
            "--search-limit", "4", "--test-limit", "4", "--threads", "1", "--json", .. more];

    private static CliResult Run(params string[] args) => CliRun.Run(TimeSpan.FromSeconds(120), args);

    private static JsonElement Report(CliResult r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(r.Stdout);
        return json.RootElement.Clone();
    }

    [Fact]
    public void Resume_SameSizeRetrainedModel_RefusedNamingTheModelHash()
    {
        using var dir = new TempDir();
        string data = TinyDataset.FashionMnist(dir.File("data"), 8);
        string model = dir.File("model.onnx");
        File.Copy(SmallModel, model);
        Report(Run(Search(model, data, dir.File("out"))));

        // "Retrain": one byte of one weight changes, the file keeps its size (the old checkpoint keyed on name and size).
        byte[] bytes = File.ReadAllBytes(model);
        var weight = ModelProto.Parser.ParseFrom(bytes).Graph.Initializer.First(t => t.Dims.Count == 4 && t.RawData.Length > 256).RawData.ToByteArray();
        int at = bytes.AsSpan().IndexOf(weight.AsSpan(0, 64)) + 100;
        bytes[at] ^= 0x01;
        File.WriteAllBytes(model, bytes);
        Assert.Equal(new FileInfo(SmallModel).Length, new FileInfo(model).Length);

        var r = Run(Search(model, data, dir.File("out"), "--resume"));

        CliRun.AssertBadInput(r, "--resume: " + dir.File("out/state.json"), "was written for another model (sha256 ");
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void Resume_ChangedDataFile_RefusedNamingTheData()
    {
        using var dir = new TempDir();
        string data = TinyDataset.FashionMnist(dir.File("data"), 8);
        Report(Run(Search(SmallModel, data, dir.File("out"))));

        // One pixel of the first image (an uncompressed IDX file: a 16-byte header, then the pixels).
        string images = Path.Combine(data, IdxReader.TestImagesName);
        byte[] bytes = File.ReadAllBytes(images);
        bytes[16 + 300] ^= 0x10;
        File.WriteAllBytes(images, bytes);

        var r = Run(Search(SmallModel, data, dir.File("out"), "--resume"));

        CliRun.AssertBadInput(r, dir.File("out/state.json"), "was written for other data", "pixels and labels");
    }

    [Theory]
    [InlineData("--max-drop", "2", "--max-drop was 1.5, now 2")]
    [InlineData("--bits", "2,4,8", "--bits was 2,8, now 2,4,8")]
    [InlineData("--per-tensor", null, "--per-tensor was false, now true")]
    [InlineData("--split-seed", "3", "--split-seed was not given, now 3")]
    public void Resume_OptionTypedDifferently_RefusedNamingTheFlagAndBothValues(string flag, string? value, string message)
    {
        using var dir = new TempDir();
        string data = TinyDataset.FashionMnist(dir.File("data"), 8);
        Report(Run(Search(SmallModel, data, dir.File("out"))));

        string[] args = Search(SmallModel, data, dir.File("out"), "--resume");
        int given = Array.IndexOf(args, flag);
        var r = Run(given >= 0 ? [.. args[..(given + 1)], value!, .. args[(given + 2)..]] : value is null ? [.. args, flag] : [.. args, flag, value]);

        string line = CliRun.AssertBadInput(r, dir.File("out/state.json"), message);
        Assert.Equal($"aq4svit: error: --resume: {dir.File("out/state.json")}: {message}", line);
    }

    [Fact]
    public void Resume_NothingRetyped_TakesModelDataAndOptionsFromTheCheckpoint()
    {
        using var dir = new TempDir();
        string data = TinyDataset.FashionMnist(dir.File("data"), 8);
        var first = Report(Run(Search(SmallModel, data, dir.File("out"), "--max-drop", "3", "--strategy", "sensitivity")));

        var resumed = Report(Run("search", "--out", dir.File("out"), "--resume", "--threads", "1", "--json"));

        Assert.True(resumed.GetProperty("resumed").GetBoolean());
        Assert.Equal(3, resumed.GetProperty("max_drop").GetDouble());
        Assert.Equal("sensitivity", resumed.GetProperty("strategy").GetString());
        Assert.Equal(Path.GetFullPath(SmallModel), resumed.GetProperty("model").GetString());
        Assert.Equal(first.GetProperty("full_evaluations").GetInt32(), resumed.GetProperty("full_evaluations").GetInt32());
        Assert.Equal(first.GetProperty("bits").GetRawText(), resumed.GetProperty("bits").GetRawText());
    }

    [Fact]
    public void Resume_OptionRetypedTheSame_Resumes()
    {
        using var dir = new TempDir();
        string data = TinyDataset.FashionMnist(dir.File("data"), 8);
        Report(Run(Search(SmallModel, data, dir.File("out"), "--max-drop", "2.5")));

        var resumed = Report(Run(Search(SmallModel, data, dir.File("out"), "--max-drop", "2.50", "--resume")));

        Assert.True(resumed.GetProperty("resumed").GetBoolean());
    }

    [Fact]
    public void Resume_SameModelAndDataUnderOtherNames_Resumes()
    {
        using var dir = new TempDir();
        Report(Run(Search(SmallModel, TinyDataset.FashionMnist(dir.File("data"), 8), dir.File("out"))));
        Directory.CreateDirectory(dir.File("moved"));
        File.Copy(SmallModel, dir.File("moved/renamed.onnx"));

        var resumed = Report(Run(Search(dir.File("moved/renamed.onnx"), TinyDataset.FashionMnist(dir.File("data-copy"), 8), dir.File("out"), "--resume")));

        Assert.True(resumed.GetProperty("resumed").GetBoolean());
    }

    [Fact]
    public void Search_IntoAnOutThatHoldsASearch_RefusedWithoutResumeOrForce_ForceStartsOver()
    {
        using var dir = new TempDir();
        string data = TinyDataset.FashionMnist(dir.File("data"), 8);
        string outDir = dir.File("out");
        Report(Run(Search(SmallModel, data, outDir)));
        string setting = File.ReadAllText(Path.Combine(outDir, "setting.json"));

        var again = Run(Search(SmallModel, data, outDir, "--max-drop", "3"));
        string line = CliRun.AssertBadInput(again, $"--out {outDir} already holds a search", "--resume", "--force");
        Assert.Contains("state.json", line, StringComparison.Ordinal);
        Assert.Equal(setting, File.ReadAllText(Path.Combine(outDir, "setting.json"))); // untouched

        var forced = Report(Run(Search(SmallModel, data, outDir, "--max-drop", "3", "--force")));
        Assert.False(forced.GetProperty("resumed").GetBoolean());
        Assert.Equal(3, forced.GetProperty("max_drop").GetDouble());
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "state.json")));
        Assert.Equal("3", state.RootElement.GetProperty("identity").GetProperty("options").GetProperty("--max-drop").GetString());

        // Only a report left (the checkpoint deleted by hand) is a search too.
        File.Delete(Path.Combine(outDir, "state.json"));
        CliRun.AssertBadInput(Run(Search(SmallModel, data, outDir)), "report.json", "--force");

        CliRun.AssertBadInput(Run(Search(SmallModel, data, outDir, "--resume", "--force")), "--resume and --force");
    }

    [Fact]
    public void Resume_CheckpointWithoutIdentity_RefusedNamingTheFile()
    {
        using var dir = new TempDir();
        string data = TinyDataset.FashionMnist(dir.File("data"), 8);
        Report(Run(Search(SmallModel, data, dir.File("out"))));
        string state = dir.File("out/state.json");
        var json = JsonNode.Parse(File.ReadAllText(state))!.AsObject();
        json.Remove("identity");
        File.WriteAllText(state, json.ToJsonString());

        var r = Run(Search(SmallModel, data, dir.File("out"), "--resume"));

        CliRun.AssertBadInput(r, state, "no content hashes", "--force");
    }

    [Fact]
    public void Resume_OptionTakenFromCheckpointIsInvalid_BadInputNamingTheFile()
    {
        using var dir = new TempDir();
        string data = TinyDataset.FashionMnist(dir.File("data"), 8);
        Report(Run(Search(SmallModel, data, dir.File("out"))));
        string state = dir.File("out/state.json");
        var json = JsonNode.Parse(File.ReadAllText(state))!;
        json["identity"]!["options"]!["--strategy"] = "sideways";
        json["identity"]!["options"]!["--patience"] = "many";
        File.WriteAllText(state, json.ToJsonString());

        var strategy = Run(Search(SmallModel, data, dir.File("out"), "--resume", "--patience", "2"));
        json["identity"]!["options"]!["--strategy"] = "greedy";
        File.WriteAllText(state, json.ToJsonString());
        var patience = Run(Search(SmallModel, data, dir.File("out"), "--resume"));

        CliRun.AssertBadInput(strategy, state, "--strategy", "sideways");
        CliRun.AssertBadInput(patience, state, "--patience", "many");
    }

    /// <summary>
    /// kill -9 at three points of a search (after 2, 9 and 17 of its progress lines): state.json is never torn
    /// (it is written beside and renamed), and --resume from it finishes with the setting of an uninterrupted run.
    /// </summary>
    [Fact]
    public void Resume_AfterKillMinus9_CheckpointWhole_EndsInSameSetting()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        using var dir = new TempDir();
        // Sensitivity: a full evaluation (and a checkpoint) per progress line, about 25 of them.
        string[] args = ["search", SmallModel, "--data", RepoPaths.FashionMnist, "--calib", "8", "--bits", "2,4,8", "--granularity", "block",
            "--strategy", "sensitivity", "--max-drop", "5", "--search-limit", "40", "--test-limit", "20", "--threads", "1"];
        var straight = Report(Run([.. args, "--out", dir.File("straight"), "--json"]));
        int killed = 0;
        foreach (int lines in new[] { 2, 9, 17 })
        {
            string outDir = dir.File($"killed-{lines}");
            var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "aq4svit.dll"));
            foreach (string a in (string[])[.. args, "--out", outDir])
            {
                start.ArgumentList.Add(a);
            }

            int seen = 0;
            using var enough = new ManualResetEventSlim();
            using (var child = System.Diagnostics.Process.Start(start)!)
            {
                child.ErrorDataReceived += (_, e) =>
                {
                    if (e.Data is { } line && line.Contains(" round ", StringComparison.Ordinal) && Interlocked.Increment(ref seen) >= lines)
                    {
                        enough.Set();
                    }
                };
                child.BeginErrorReadLine();
                child.BeginOutputReadLine();
                bool reached = enough.Wait(TimeSpan.FromSeconds(90));
                child.Kill(entireProcessTree: true); // SIGKILL: no handler runs, no checkpoint is finished on the way out
                child.WaitForExit();
                if (!reached)
                {
                    continue; // the search ended before that many lines: nothing to test at this point
                }
            }

            killed++;
            string state = Path.Combine(outDir, "state.json");
            bool checkpointed = File.Exists(state);
            if (checkpointed)
            {
                using var json = JsonDocument.Parse(File.ReadAllText(state)); // whole, never torn
                Assert.Equal(4, json.RootElement.GetProperty("version").GetInt32());
            }

            var resumed = Report(Run([.. args, "--out", outDir, "--resume", "--json"]));
            Assert.Equal(checkpointed, resumed.GetProperty("resumed").GetBoolean());
            Assert.Equal(straight.GetProperty("bits").GetRawText(), resumed.GetProperty("bits").GetRawText());
            Assert.Equal(straight.GetProperty("full_evaluations").GetInt32(), resumed.GetProperty("full_evaluations").GetInt32());
        }

        Assert.True(killed >= 2, $"only {killed} of the three kills landed mid-search");
    }

    [Fact]
    public void HashModel_SeesTheExternalDataFile()
    {
        using var dir = new TempDir();
        string source = Path.Combine(RepoPaths.Models, "tests", "spikformer-d64-dynamo");
        foreach (string f in new[] { "model.onnx", "model.onnx.data" })
        {
            File.Copy(Path.Combine(source, f), dir.File(f));
        }

        string before = SearchIdentity.HashModel(OnnxModelFile.Load(dir.File("model.onnx")));
        byte[] weights = File.ReadAllBytes(dir.File("model.onnx.data"));
        weights[weights.Length / 2] ^= 0x01;
        File.WriteAllBytes(dir.File("model.onnx.data"), weights);
        string after = SearchIdentity.HashModel(OnnxModelFile.Load(dir.File("model.onnx")));

        Assert.Equal(64, before.Length);
        Assert.NotEqual(before, after);
        Assert.Equal(after, SearchIdentity.HashModel(OnnxModelFile.Load(dir.File("model.onnx"))));
    }

    [Fact]
    public void HashData_OnePixelOrOneLabel_ChangesTheHash()
    {
        var set = SharedData.FashionMnist.Slice(0, 20);
        var pixels = (byte[])set.Pixels.Clone();
        pixels[^1] ^= 1;
        var labels = (int[])set.Labels.Clone();
        labels[3] = (labels[3] + 1) % 10;

        string hash = SearchIdentity.HashData(set).Sha256;

        Assert.Equal(hash, SearchIdentity.HashData(new ImageSet((byte[])set.Pixels.Clone(), set.Labels, 1, set.Rows, set.Cols, "copy")).Sha256);
        Assert.NotEqual(hash, SearchIdentity.HashData(new ImageSet(pixels, set.Labels, 1, set.Rows, set.Cols, "x")).Sha256);
        Assert.NotEqual(hash, SearchIdentity.HashData(new ImageSet(set.Pixels, labels, 1, set.Rows, set.Cols, "x")).Sha256);
        Assert.Equal(SearchIdentity.HashOfPixels, SearchIdentity.HashData(set).HashOf);
    }

    /// <summary>An event-frame set is hashed by its float values (it has no pixel bytes): one changed count changes it.</summary>
    [Fact]
    public void HashData_FrameSet_OneCountChangesTheHash()
    {
        var frames = Enumerable.Range(0, 3 * 4 * 2 * 2 * 2).Select(i => (float)(i % 5)).ToArray();
        int[] labels = [0, 1, 2];
        var set = ImageSet.FromFrames(frames, labels, 4, 2, 2, 2, "frames");
        var changed = (float[])frames.Clone();
        changed[^1] += 1;

        string hash = SearchIdentity.HashData(set).Sha256;

        Assert.Equal(hash, SearchIdentity.HashData(ImageSet.FromFrames((float[])frames.Clone(), labels, 4, 2, 2, 2, "copy")).Sha256);
        Assert.NotEqual(hash, SearchIdentity.HashData(ImageSet.FromFrames(changed, labels, 4, 2, 2, 2, "x")).Sha256);
        Assert.NotEqual(hash, SearchIdentity.HashData(ImageSet.FromFrames(frames, labels, 2, 4, 2, 2, "x")).Sha256); // T and C swapped
    }
}
