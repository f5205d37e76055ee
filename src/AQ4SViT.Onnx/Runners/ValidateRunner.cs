using System.Runtime.CompilerServices;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Models;
using AQ4SViT.Onnx.Ort;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Validate;

namespace AQ4SViT.Onnx.Runners;

/// <summary>What <c>validate</c> reads from the emitted model (and its reference) before any data is loaded.</summary>
/// <param name="Card">The model card the emitted file records, if any.</param>
/// <param name="Setting">The setting the emitted file records (metadata <see cref="ModelEmitter.SettingMetadataKey"/>), if any.</param>
/// <param name="FileBytes">The emitted model file plus its external data file(s).</param>
/// <param name="ReferenceFileBytes">The same for the reference model; 0 without one.</param>
public sealed record EmittedModelInfo(ModelCard? Card, Setting? Setting, long FileBytes, long ReferenceFileBytes)
{
    /// <summary>
    /// The reference as <see cref="ValidateRunner.ReadEmitted(string, string?)"/> parsed it, kept for the simulator phase
    /// (<see cref="ValidateRequest.Reference"/>) when the emitted model records a setting; null otherwise.
    /// </summary>
    public OnnxModelFile? Reference { get; init; }
}

/// <summary>Everything a <c>validate</c> run needs; the CLI fills it from options.</summary>
public sealed record ValidateRequest
{
    /// <summary>The emitted (quantized) model, QDQ or fake-quant.</summary>
    public required string ModelPath { get; init; }

    /// <summary>The float model it was made from (<c>--reference</c>); null: the quantized model alone.</summary>
    public string? ReferencePath { get; init; }

    /// <summary>
    /// <see cref="ReferencePath"/> as already parsed (<see cref="EmittedModelInfo.Reference"/>), so the simulator phase
    /// does not parse it again; null: parsed from <see cref="ReferencePath"/> when the simulator runs.
    /// </summary>
    public OnnxModelFile? Reference { get; init; }

    /// <summary>The images to evaluate (the test split).</summary>
    public required ImageSet Images { get; init; }

    /// <summary>How pixels become the model's input.</summary>
    public InputScaling Scaling { get; init; } = InputScaling.PixelOver255;

    /// <summary>The setting the emitted model records (<see cref="EmittedModelInfo.Setting"/>); the simulator runs the reference with it.</summary>
    public Setting? Setting { get; init; }

    /// <summary><c>--device</c> as given: cpu or cuda[:N] (falls back to the CPU with a message).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Threads (0: all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Images per batch.</summary>
    public int Batch { get; init; } = 100;

    /// <summary>Run the quantized model with ONNX Runtime's stock QDQ fusions instead of exact dequantization.</summary>
    public bool OrtFused { get; init; }

    /// <summary>
    /// Runs the reference in our simulator with the emitted model's setting fake-quantized: the weights are exactly those
    /// DequantizeLinear yields from the QDQ file. Replaceable (tests, other engines); when null, a reference run reports
    /// only ONNX Runtime numbers (no <see cref="ValidateResult.Simulated"/>).
    /// </summary>
    public QuantizedSimulatorFactory? SimulatorFactory { get; init; } = QuantizedSimulator.Create;

    /// <summary>One-line messages (a missing setting, CUDA unavailable).</summary>
    public Action<string>? Info { get; init; }

    /// <summary>How each evaluation is run and shown; null: <see cref="EvaluationPhases.Direct"/>.</summary>
    public EvaluationPhase? Phase { get; init; }
}

/// <summary>What <c>validate</c> measured.</summary>
/// <param name="Quantized">The emitted model in ONNX Runtime.</param>
/// <param name="Device">Where ONNX Runtime ran it (after any fallback).</param>
/// <param name="Float">The reference in ONNX Runtime; null without a reference.</param>
/// <param name="FloatComparison">Quantized against <paramref name="Float"/>.</param>
/// <param name="Simulated">The reference in our simulator with the emitted setting; null when not run.</param>
/// <param name="SimComparison">Quantized against <paramref name="Simulated"/>.</param>
public sealed record ValidateResult(EvalResult Quantized, string Device, EvalResult? Float, LogitComparison? FloatComparison, EvalResult? Simulated, LogitComparison? SimComparison);

/// <summary>
/// The <c>validate</c> pipeline: runs an emitted model in ONNX Runtime; with a reference, also runs the reference in
/// ONNX Runtime and in our simulator with the emitted setting, and compares. Each engine in turn, memory freed between.
/// </summary>
public static class ValidateRunner
{
    /// <summary>Checks <c>--batch</c> as given, before anything is loaded.</summary>
    public static void CheckBatch(int batch)
    {
        if (batch < 1)
        {
            Throw.BadInput($"--batch must be at least 1, got {batch}");
        }
    }

    /// <summary>
    /// Everything needed from the emitted file's protobuf, read once and let go before any session opens, and the
    /// reference parsed once: its size on disk, and the parsed model itself when the simulator phase will run it (the
    /// emitted model records a setting). Held from here to that phase, it costs no more at the peak than parsing it
    /// there: the images are held by then as well.
    /// </summary>
    public static EmittedModelInfo ReadEmitted(string modelPath, string? referencePath)
    {
        var (embeddedCard, embeddedSetting, fileBytes) = ReadEmitted(modelPath);
        var reference = referencePath is null ? null : OnnxModelFile.Load(referencePath);
        long referenceBytes = reference?.FileBytes() ?? 0;
        if (embeddedSetting is null)
        {
            reference = null;
        }

        FreedMemory.Release();
        return new EmittedModelInfo(embeddedCard, embeddedSetting, fileBytes, referenceBytes) { Reference = reference };
    }

    /// <summary>
    /// The card that says how to read the data, and the model it belongs to (data paths are relative to it): the emitted
    /// model's own (beside it, else <paramref name="embeddedCard"/>), else the reference's. An emitted model records its
    /// dataset and scaling, not the preprocessing: that stays on the reference's card.
    /// </summary>
    public static (ModelCard? Card, string Owner) ResolveCard(string modelPath, string? referencePath, ModelCard? embeddedCard)
    {
        // The emitted model usually has no card: use the dataset it records, else the reference's card.
        var card = ModelCard.TryLoadBeside(modelPath) ?? embeddedCard;
        string cardOwner = modelPath;
        if (card is null && referencePath is not null)
        {
            card = ModelCard.TryLoadBeside(referencePath);
            cardOwner = referencePath;
        }

        // An emitted model records its dataset and scaling, not the preprocessing: that stays on the reference's card.
        if (card is not null && card.Preprocess is null && referencePath is not null && ModelCard.TryLoadBeside(referencePath)?.Preprocess is { } preprocess)
        {
            card = card with { Preprocess = preprocess };
        }

        return (card, cardOwner);
    }

    /// <summary>Runs <paramref name="request"/>; stops between batches when <paramref name="cancellation"/> fires.</summary>
    public static ValidateResult Run(ValidateRequest request, CancellationToken cancellation = default)
    {
        string model = request.ModelPath;
        string? reference = request.ReferencePath;
        var scaling = request.Scaling;
        void Message(string line) => request.Info?.Invoke(line);

        // Our simulator with the same bits first, before ONNX Runtime's library and threads are in the process, which
        // otherwise sat under its phase (spikformer-8-768: peak 2.47x the weights with the simulator last, 2.36x first).
        EvalResult? simResult = null;
        if (reference is not null)
        {
            if (request.SimulatorFactory is null)
            {
                Message("simulator comparison is not connected yet; reporting ONNX Runtime numbers only");
            }
            else if (request.Setting is null)
            {
                Message($"{model} records no setting (metadata '{ModelEmitter.SettingMetadataKey}'); cannot run the simulator with the same bits");
            }
            else
            {
                simResult = Simulated(request, request.SimulatorFactory, reference, request.Setting, cancellation);
                FreedMemory.Release();
            }
        }

        // Resolved once, so a missing CUDA is reported in one line for both sessions.
        var requested = OrtSessions.Resolve(ComputeDevice.Parse(request.Device), Message);
        EvalResult quantized;
        string device;
        using (var ort = request.OrtFused
            ? new OrtClassifier(model, scaling, request.Threads, requested, Message, OrtQdq.Fused)
            : OrtQdq.OpenExact(model, scaling, request.Threads, requested, Message))
        {
            quantized = Evaluate(request, "quantized [ort]", ort, cancellation);
            device = ort.ActualDevice.ToString();
        }

        FreedMemory.Release(); // each engine in turn: a large model's phases must not stack up

        EvalResult? floatResult = null;
        LogitComparison? simComparison = null;
        LogitComparison? floatComparison = null;
        if (reference is not null)
        {
            using (var ort = new OrtClassifier(reference, scaling, request.Threads, requested, Message))
            {
                floatResult = Evaluate(request, "float [ort]", ort, cancellation);
            }

            FreedMemory.Release();

            floatComparison = LogitComparison.Compare(quantized, floatResult);
            if (simResult is not null)
            {
                simComparison = LogitComparison.Compare(quantized, simResult);
            }
        }

        return new ValidateResult(quantized, device, floatResult, floatComparison, simResult, simComparison);
    }

    /// <summary>
    /// The simulator's phase in a method of its own: a local inside a <c>using</c> may be reported live until its method
    /// returns, and here it holds the model's weights (sdt-8-768: 255 MB still reachable after the phase).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static EvalResult Simulated(ValidateRequest request, QuantizedSimulatorFactory factory, string reference, Setting setting, CancellationToken cancellation)
    {
        // Parsed once: by ReadEmitted when the caller passes its result on (the simulator lets its tensor bytes go as it
        // decodes them), else here.
        using var sim = factory(request.Reference ?? OnnxModelFile.Load(reference), setting, request.Scaling, request.Threads);
        return Evaluate(request, "quantized [sim]", sim, cancellation);
    }

    private static EvalResult Evaluate(ValidateRequest request, string label, IClassifier classifier, CancellationToken cancellation) =>
        (request.Phase ?? EvaluationPhases.Direct)(label, request.Images.Count, progress => Accuracy.Evaluate(classifier, request.Images, request.Batch, progress, cancellation));

    private static (ModelCard? Card, Setting? Setting, long FileBytes) ReadEmitted(string path)
    {
        var file = OnnxModelFile.Load(path);
        return (ModelEmitter.EmbeddedCard(file), ModelEmitter.EmbeddedSetting(file), file.FileBytes());
    }
}
