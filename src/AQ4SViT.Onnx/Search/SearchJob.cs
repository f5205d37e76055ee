using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Quantize;

namespace AQ4SViT.Onnx.Search;

/// <summary>Everything a search run needs but the compute devices (the runner's, not the search's); the CLI fills it from options.</summary>
public sealed record SearchJob
{
    public required string ModelPath { get; init; }
    public required ImageSet Data { get; init; }

    /// <summary>A separate calibration set for the drift proxy (<c>--calib-data</c>); null: the first images of the search split.</summary>
    public ImageSet? CalibrationData { get; init; }
    public required string OutDirectory { get; init; }
    public InputScaling Scaling { get; init; } = InputScaling.PixelOver255;
    public SearchOptions Options { get; init; } = new();
    public QuantizationOptions Quantization { get; init; } = QuantizationOptions.Default;
    public int? SearchLimit { get; init; }
    public int? TestLimit { get; init; }

    /// <summary>
    /// Held-out search-split images that confirm the choice (<see cref="Confirmation"/>); 0: none. Null:
    /// <see cref="DefaultConfirmPerSearchImage"/> per search image, at most the rest of the search split, for every
    /// strategy. A choice is the smallest of many candidates that passed on the same images, so it did better there than
    /// it will elsewhere; pooled with four times as many unseen images, that bias is a fifth, and the pooled standard
    /// error small enough for the guard to see a setting's real drop (benchmarks/promise.md).
    /// </summary>
    public int? ConfirmLimit { get; init; }

    /// <summary>Held-out images per search image that confirm the choice when <see cref="ConfirmLimit"/> is not given.</summary>
    public const int DefaultConfirmPerSearchImage = 4;
    public bool Resume { get; init; }

    /// <summary>Start over in an <see cref="OutDirectory"/> that holds a search's results (otherwise refused without <see cref="Resume"/>).</summary>
    public bool Force { get; init; }

    /// <summary>Options that affect results which only the caller sees (how the data is read and scaled), by flag, as given; "" for one not given.</summary>
    public IReadOnlyDictionary<string, string>? ExtraOptions { get; init; }

    /// <summary>The model and data paths by flag (<c>model</c>, <c>--data</c>, …), kept in state.json for <c>--resume</c> to reuse.</summary>
    public IReadOnlyDictionary<string, string>? Inputs { get; init; }
    public int Threads { get; init; }
    public int Batch { get; init; } = 100;

    /// <summary>Candidates evaluated at once (beam candidates, drift proxies, sensitivity sweeps); results as with 1.</summary>
    public int Jobs { get; init; } = 1;

    /// <summary>Where drift proxies run (<c>--proxy-engine</c>); <see cref="Search.ProxyEngine.Auto"/>: ONNX Runtime on a CUDA device, else the simulator.
    /// The devices themselves are not part of the job: the runner is given them (where a search runs does not change what it computes).</summary>
    public ProxyEngine ProxyEngine { get; init; } = ProxyEngine.Auto;

    public Action<CandidateRecord>? OnCandidate { get; init; }
    public IProgress<SearchProgress>? Progress { get; init; }

    /// <summary>Stop the search once this much time has passed (<c>--time-limit</c>), ending with the best passing setting so
    /// far. Not part of the search's identity: where it stops depends on the machine.</summary>
    public TimeSpan? TimeLimit { get; init; }

    /// <summary>One-line status messages (loading, evaluating the test split, writing files).</summary>
    public Action<string>? Info { get; init; }

    /// <summary>One-line messages the user must see even with --json or --quiet (e.g. CUDA unavailable).</summary>
    public Action<string>? Warn { get; init; }

    /// <summary>
    /// One-line warnings about how far the results can be trusted that the report keeps too (a search split too small
    /// for the budget: <see cref="SampleSizeCheck"/>), so a caller may drop them (the CLI with --quiet). Null: they go to
    /// <see cref="Warn"/>.
    /// </summary>
    public Action<string>? Caution { get; init; }

    /// <summary>
    /// Checks the limits as given on the command line, before anything is loaded: image counts (<c>--search-limit</c>,
    /// <c>--test-limit</c>, <c>--confirm</c> when given; 0 means none or all) ≥ 0, <c>--batch</c> and <c>--jobs</c> ≥ 1.
    /// </summary>
    public static void CheckLimits(int searchLimit, int testLimit, int? confirm, int batch, int jobs)
    {
        if (searchLimit < 0 || testLimit < 0 || confirm < 0 || batch < 1)
        {
            Throw.BadInput($"--search-limit, --test-limit and --confirm must be ≥ 0 and --batch ≥ 1 (got {searchLimit}, {testLimit}, {confirm}, {batch})");
        }

        if (jobs < 1)
        {
            Throw.BadInput($"--jobs must be at least 1, got {jobs}");
        }
    }
}
