using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AQ4SViT.Onnx.Search;

/// <summary><c>report.json</c>: the chosen setting, its accuracy on both splits, its memory, and what the search cost.</summary>
public sealed record SearchReport
{
    public string Model { get; init; } = "";
    public string Strategy { get; init; } = "";
    public int BeamWidth { get; init; }
    /// <summary>The budget in points on the search split (a relative one converted with the float accuracy).</summary>
    public double MaxDrop { get; init; }

    /// <summary>The budget as a percentage of the float accuracy when given so (<c>--max-drop 1%</c>), else null.</summary>
    public double? MaxDropPercent { get; init; }

    /// <summary>The search stopped at a limit before its end (<see cref="StopReason"/>) and kept the best passing setting so far.</summary>
    public bool StoppedEarly { get; init; }
    public string? StopReason { get; init; }
    public int? MaxEvaluations { get; init; }
    public double? TimeLimitSeconds { get; init; }

    /// <summary>The <c>--keep</c> and <c>--pin</c> patterns as given, and the groups they fixed.</summary>
    public IReadOnlyList<string> Keep { get; init; } = [];
    public IReadOnlyDictionary<string, int> Pin { get; init; } = new Dictionary<string, int>();
    public IReadOnlyList<FixedGroup> FixedGroups { get; init; } = [];

    /// <summary>False when the pinned widths alone failed the budget and the float model was kept instead.</summary>
    public bool FixedGroupsApplied { get; init; } = true;

    /// <summary>Synaptic operations and energy per image of the float ANN, the float SNN and the chosen model (<see cref="Simulate.EnergyEstimate"/>).</summary>
    public Simulate.EnergyEstimate? Energy { get; init; }

    /// <summary>Standard errors added to a candidate's drop before the budget test (<c>--guard</c>).</summary>
    public double Guard { get; init; }

    /// <summary>Standard errors added to the pooled drop before the confirmation's budget test (<c>--confirm-guard</c>).</summary>
    public double ConfirmGuard { get; init; }
    public string Granularity { get; init; } = "";
    public IReadOnlyList<int> BitChoices { get; init; } = [];
    public int CalibrationImages { get; init; }
    public int SearchImages { get; init; }
    public int TestImages { get; init; }

    /// <summary>Held-out search-split images the choice was confirmed on (0: no confirmation), and settings tried there.</summary>
    public int ConfirmImages { get; init; }
    public int ConfirmAttempts { get; init; }

    /// <summary>Seconds the confirmation took; part of <see cref="SearchSeconds"/>.</summary>
    public double ConfirmSeconds { get; init; }

    /// <summary>The chosen setting's drop and its standard error pooled over the search and held-out images; null when
    /// no setting was confirmed (or none tried).</summary>
    public double? AccuracyDropConfirm { get; init; }
    public double? DropStandardErrorConfirm { get; init; }
    public double FpAccuracySearch { get; init; }
    public double FpAccuracyTest { get; init; }
    public double QAccuracySearch { get; init; }
    public double QAccuracyTest { get; init; }
    public double AccuracyDropSearch { get; init; }
    public double AccuracyDropTest { get; init; }

    /// <summary>Standard error of <see cref="AccuracyDropSearch"/>, from the images the chosen and the float model disagree on.</summary>
    public double DropStandardErrorSearch { get; init; }

    /// <summary>Standard error of <see cref="AccuracyDropTest"/>, paired with the float model on the test images.</summary>
    public double DropStandardErrorTest { get; init; }
    public long WeightParams { get; init; }
    public long Fp32WeightBytes { get; init; }
    public long QuantizedWeightBytes { get; init; }
    public long ScaleOverheadBytes { get; init; }
    public double MemorySaving { get; init; }
    public long Fp32FileBytes { get; init; }
    public long OnnxFileBytes { get; init; }
    public long FakequantFileBytes { get; init; }
    public string NotQuantized { get; init; } = "biases, BatchNorm parameters and all other initializers stay float32";
    public IReadOnlyDictionary<string, int> Bits { get; init; } = new Dictionary<string, int>();
    public IReadOnlyList<GroupRow> Groups { get; init; } = [];
    public double SearchSeconds { get; init; }
    public int FullEvaluations { get; init; }
    public int ProxyEvaluations { get; init; }
    public int GatedOut { get; init; }

    /// <summary>Mean seconds of one drift proxy and of one full evaluation (those computed in this process), and their ratio.</summary>
    public double? ProxySecondsMean { get; init; }
    public double? FullSecondsMean { get; init; }
    public double? ProxyCostRatio => ProxySecondsMean / FullSecondsMean;
    public int Rounds { get; init; }
    public double? ProxySpearman { get; init; }
    public string DriftKind { get; init; } = "membrane";
    public int AuditedCandidates { get; init; }
    public int AuditedWouldPass { get; init; }
    public bool Resumed { get; init; }

    /// <summary>Evaluations run at once (<c>--jobs</c>); the outcome is the same for any value.</summary>
    public int Jobs { get; init; } = 1;

    /// <summary>Where full evaluations ran: "sim" (our simulator, CPU) or "ort:cuda:N" / "ort:cpu" (ONNX Runtime).</summary>
    public string FullEvaluationEngine { get; init; } = "sim";

    /// <summary>Where drift proxies ran: "sim" (our simulator, CPU) or "ort:cuda:N" / "ort:cpu" (ONNX Runtime, <c>OrtDriftProxy</c>).</summary>
    public string ProxyEngine { get; init; } = "sim";

    /// <summary>Full evaluations computed ahead with --jobs that the serial order never used.</summary>
    public int SpeculativeUnused { get; init; }

    /// <summary>The dataset the splits were made from (file or folder).</summary>
    public string Data { get; init; } = "";

    /// <summary>The separate calibration set (<c>--calib-data</c>); null: calibration images came from the search split.</summary>
    public string? CalibrationData { get; init; }

    /// <summary>How the search/test halves were made: <c>first-half</c> (the file's order) or <c>stratified</c> (seeded, per class).</summary>
    public string SplitMethod { get; init; } = "first-half";

    /// <summary>The <c>--split-seed</c> that reproduces a stratified split; null for first-half.</summary>
    public int? SplitSeed { get; init; }

    /// <summary>Sizes of the whole search and test halves (before --search-limit / --test-limit).</summary>
    public int SplitSearchImages { get; init; }
    public int SplitTestImages { get; init; }

    /// <summary>Settings drawn in <c>pareto.png</c> (each fully evaluated setting once; the float model apart).</summary>
    public int PlottedSettings { get; init; }

    /// <summary>Of <see cref="PlottedSettings"/>, those whose evaluation stopped early: their accuracy is an upper bound.</summary>
    public int PlottedUpperBounds { get; init; }

    /// <summary>Lines of <c>search.log.jsonl</c> whose accuracy is an upper bound (<c>upper_bound: true</c>; repeats and
    /// confirmation lines included).</summary>
    public int LoggedUpperBounds { get; init; }

    /// <summary>Settings on the Pareto front of the measured passing ones (drawn as a step line in <c>pareto.png</c>).</summary>
    public int ParetoFront { get; init; }

    /// <summary>The drop's standard error expected at the float model's search accuracy and the search split's size, in
    /// points (<see cref="SampleSizeCheck"/>: 100·√(2p(1−p)/n)).</summary>
    public double? ExpectedDropStandardError { get; init; }

    /// <summary>The fewest search images for which guard · <see cref="ExpectedDropStandardError"/> is below max-drop; null: none.</summary>
    public int? SearchImagesForBudget { get; init; }

    /// <summary>The warning given before the search when the search split is too small for the budget; null: none.</summary>
    public string? SampleWarning { get; init; }

    public sealed record GroupRow(string Name, long Params, int Bits);

    /// <param name="Kind">"keep" or "pin".</param>
    /// <param name="WholeGroup">The pattern matched only some of the group's weights; the whole group follows it.</param>
    public sealed record FixedGroup(string Group, string Kind, int Bits, string Pattern, bool WholeGroup);

    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    public static SearchReport FromJson(string json) => JsonSerializer.Deserialize<SearchReport>(json, s_json)!;

    /// <summary>A human-readable summary: per-group bits and params, accuracy, memory, search cost.</summary>
    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine(c, $"# AQ4SViT search report: {Path.GetFileName(Path.GetDirectoryName(Model))}");
        md.AppendLine();
        md.AppendLine(c, $"Strategy **{Strategy}**{(Strategy == "beam" ? $" (width {BeamWidth})" : "")}, budget {MaxDrop:0.##} points{(MaxDropPercent is { } percent ? $" ({percent:0.##}% of the float accuracy {FpAccuracySearch:P2})" : "")} on the search split, granularity {Granularity}, bits {{{string.Join(", ", BitChoices)}}}.");
        md.AppendLine();
        if (StoppedEarly)
        {
            md.AppendLine(c, $"**Stopped early** ({StopReason}): the best passing setting found by then is reported{(Groups.All(g => g.Bits == BitVector.Fp32) ? " (none passed: the float model)" : "")}.");
            md.AppendLine();
        }

        if (FixedGroups.Count > 0)
        {
            md.AppendLine(c, $"Kept and pinned groups (never moved by the search){(FixedGroupsApplied ? "" : "; the pinned widths alone failed the budget, so the float model is kept and the pins are not applied")}:");
            foreach (var f in FixedGroups)
            {
                md.AppendLine(c, $"- {f.Group}: {(f.Kind == "keep" ? "FP32" : $"{f.Bits} bits")} (--{f.Kind} {f.Pattern}{(f.WholeGroup ? $"; the pattern matches part of this {Granularity} group, so the whole group follows it" : "")})");
            }

            md.AppendLine();
        }
        md.AppendLine("| | float | quantized | drop (points) |");
        md.AppendLine("| --- | ---: | ---: | ---: |");
        md.AppendLine(c, $"| search split ({SearchImages} images) | {FpAccuracySearch:P2} | {QAccuracySearch:P2} | {AccuracyDropSearch:0.00} ± {DropStandardErrorSearch:0.00} |");
        if (AccuracyDropConfirm is { } pooled)
        {
            md.AppendLine(c, $"| search + held-out ({SearchImages + ConfirmImages} images, confirmation) | | | {pooled:0.00} ± {DropStandardErrorConfirm:0.00} |");
        }

        md.AppendLine(c, $"| test split ({TestImages} images) | {FpAccuracyTest:P2} | {QAccuracyTest:P2} | {AccuracyDropTest:0.00} ± {DropStandardErrorTest:0.00} |");
        md.AppendLine();
        md.AppendLine(c, $"Splits of {Data}: {SplitMethod}{(SplitSeed is { } seed ? $" (--split-seed {seed})" : "")}, {SplitSearchImages} search / {SplitTestImages} test images.");
        md.AppendLine();
        if (SampleWarning is not null)
        {
            md.AppendLine(c, $"**Warning:** {SampleWarning}.");
            md.AppendLine();
        }

        md.AppendLine(c, $"Upper bounds: {PlottedUpperBounds} of the {PlottedSettings} settings in pareto.png (and {LoggedUpperBounds} lines of search.log.jsonl, `upper_bound: true`) stopped early once they could no longer pass: their accuracy is an upper bound and their drop a lower one; the others are measured on every search image. Pareto front of the measured passing settings: {ParetoFront}.");
        md.AppendLine();
        md.AppendLine("| memory | bytes |");
        md.AppendLine("| --- | ---: |");
        md.AppendLine(c, $"| float32 weights ({WeightParams:N0} params) | {Fp32WeightBytes:N0} |");
        md.AppendLine(c, $"| quantized weights (Σ params·bits/8) | {QuantizedWeightBytes:N0} |");
        md.AppendLine(c, $"| scale / zero-point overhead | {ScaleOverheadBytes:N0} |");
        md.AppendLine(c, $"| **memory saving** | **{MemorySaving:P1}** |");
        md.AppendLine(c, $"| float model file | {Fp32FileBytes:N0} |");
        md.AppendLine(c, $"| quantized.onnx (QDQ) | {OnnxFileBytes:N0} |");
        md.AppendLine(c, $"| quantized.fakequant.onnx | {FakequantFileBytes:N0} |");
        md.AppendLine();
        md.AppendLine(c, $"Not quantized: {NotQuantized}.");
        md.AppendLine();
        md.AppendLine(c, $"Search cost: {SearchSeconds:0.0} s, {FullEvaluations} full evaluations, {ProxyEvaluations} drift proxies ({CalibrationImages} calibration images), {GatedOut} candidates gated out, {Rounds} rounds; one proxy {(ProxyCostRatio is { } q ? q.ToString("0.0%", c) : "n/a")} of a full evaluation's time.");
        md.AppendLine(c, $"Where evaluations ran: drift proxies in {EngineName(ProxyEngine)} ({(ProxySecondsMean is { } proxy ? proxy.ToString("0.###", c) + " s" : "n/a")} each), full evaluations in {EngineName(FullEvaluationEngine)} ({(FullSecondsMean is { } full ? full.ToString("0.###", c) + " s" : "n/a")} each).");
        if (ConfirmImages > 0)
        {
            md.AppendLine(c, $"Confirmation on {ConfirmImages} held-out search-split images, pooled with the search images, guard {ConfirmGuard:0.##} SE: {ConfirmAttempts} setting(s) tried in {ConfirmSeconds:0.0} s{(AccuracyDropConfirm is null && ConfirmAttempts > 0 ? ", none confirmed: the float model is kept" : "")}.");
        }

        md.AppendLine(c, $"Spearman correlation of drift ({DriftKind}) with accuracy drop over fully evaluated candidates: {(ProxySpearman is { } r ? r.ToString("0.000", c) : "n/a")}.");
        if (AuditedCandidates > 0)
        {
            md.AppendLine(c, $"Gate audit: {AuditedWouldPass} of {AuditedCandidates} gated-out candidates would have passed.");
        }

        if (Energy is { } e)
        {
            md.AppendLine();
            md.AppendLine(c, $"Energy per image (45 nm: E_AC {Simulate.EnergyEstimate.EacPicojoules} pJ, E_MAC {Simulate.EnergyEstimate.EmacPicojoules} pJ; firing rates on {e.Images} calibration images, T = {e.TimeSteps}; docs/search.md gives the arithmetic):");
            md.AppendLine();
            md.AppendLine("| model | MACs | SOPs | energy (µJ) |");
            md.AppendLine("| --- | ---: | ---: | ---: |");
            md.AppendLine(c, $"| float ANN (same layers, dense, once) | {e.AnnMacs:N0} | | {e.AnnMicrojoules:0.###} |");
            md.AppendLine(c, $"| float SNN | {e.SnnMacs:N0} | {e.SopsFloat:N0} | {e.SnnFloatMicrojoules:0.###} |");
            md.AppendLine(c, $"| quantized SNN (chosen) | {e.SnnMacs:N0} | {e.SopsQuantized:N0} | {e.SnnQuantizedMicrojoules:0.###} |");
        }

        md.AppendLine();
        md.AppendLine("| group | params | bits |");
        md.AppendLine("| --- | ---: | ---: |");
        foreach (var g in Groups)
        {
            md.AppendLine(c, $"| {g.Name} | {g.Params:N0} | {(g.Bits == BitVector.Fp32 ? "FP32" : g.Bits.ToString(c))} |");
        }

        return md.ToString();
    }

    /// <summary>"the simulator (CPU)" or "ONNX Runtime on cuda:0,cuda:1" for an engine field.</summary>
    private static string EngineName(string engine) => engine.StartsWith("ort:", StringComparison.Ordinal) ? $"ONNX Runtime on {engine[4..]}" : "the simulator (CPU)";
}
