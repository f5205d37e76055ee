using System.Text.Json;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Emit;
using AQ4SViT.Onnx.Files;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Ort;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Runners;

/// <summary>
/// Runs a search end to end: prepare the model and the float reference, search on the search split, evaluate
/// the chosen setting once on the test split, emit the quantized models and write the report files.
/// </summary>
public static class SearchRunner
{
    public const string StateFile = "state.json";
    public const string LogFile = "search.log.jsonl";
    private static readonly JsonSerializerOptions s_logJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Runs <paramref name="job"/> with every evaluation on the CPU.</summary>
    public static SearchReport Run(SearchJob job, CancellationToken cancellation) => Run(job, [ComputeDevice.Cpu], cancellation);

    /// <summary>
    /// Runs <paramref name="job"/> with full evaluations (and, by <see cref="SearchJob.ProxyEngine"/>, drift proxies) placed
    /// on <paramref name="requested"/>: the CPU (our simulator), or CUDA devices (ONNX Runtime, falling back to the simulator;
    /// several, <c>--device cuda:0,cuda:1</c> or <c>cuda:all</c>, take concurrent evaluations in turn, <see cref="DevicePool"/>).
    /// </summary>
    public static SearchReport Run(SearchJob job, IReadOnlyList<ComputeDevice> requested, CancellationToken cancellation)
    {
        var options = job.Options;
        options.Validate();
        string outDir = PrepareOutDirectory(job.OutDirectory);
        string statePath = Path.Combine(outDir, StateFile);
        string[] results = [StateFile, "report.json", "report.md"];
        if (job.Resume && job.Force)
        {
            Throw.BadInput($"--resume and --force contradict each other: --resume continues the search in --out {job.OutDirectory}, --force starts it over");
        }

        if (!job.Resume && !job.Force && results.Where(f => File.Exists(Path.Combine(outDir, f))).ToList() is { Count: > 0 } held)
        {
            Throw.BadInput($"--out {job.OutDirectory} already holds a search ({string.Join(", ", held)}): use --resume to continue it or --force to start over");
        }

        job.Info?.Invoke($"loading {job.ModelPath}");
        var model = OnnxModelFile.Load(job.ModelPath);
        var catalog = WeightCatalog.Find(model);
        if (catalog.Count == 0)
        {
            Throw.BadFile(job.ModelPath, "no quantizable weights (Conv, Gemm or MatMul with an initializer)");
        }

        var constraints = WeightConstraints.Resolve(catalog, options.Granularity, options.Keep, options.Pin);
        var fixedBits = new Dictionary<int, int>();
        for (int i = 0; i < catalog.Count; i++)
        {
            if (constraints.BitsOfGroup(WeightCatalog.GroupOf(catalog[i], options.Granularity)) is { } b)
            {
                fixedBits[i] = b;
            }
        }

        if (job.Jobs < 1)
        {
            Throw.BadInput($"--jobs must be at least 1, got {job.Jobs}");
        }

        // Concurrent jobs share the cores: unless told otherwise each gets its share.
        int threads = job.Threads > 0 || job.Jobs == 1 ? job.Threads : Math.Max(1, Environment.ProcessorCount / job.Jobs);
        var devices = ResolveDevices(requested, job.Warn);
        // The model is parsed once: the simulator's graph decodes its weights once, and the weight table reads them there.
        var simulator = new Simulator(GraphLoader.Load(model), threads);
        foreach (string d in simulator.Graph.LifDiagnostics)
        {
            job.Warn?.Invoke(d);
        }

        int[] imageDims = simulator.ImageDims;
        job.Scaling.CheckFits(job.Data, simulator.Graph.InputName, imageDims);
        job.Data.CheckLabels(simulator.Classes, job.ModelPath);

        var search = DataSplits.Select(job.Data, DataSplit.Search, job.SearchLimit);
        var test = DataSplits.Select(job.Data, DataSplit.Test, job.TestLimit);
        var heldOut = DataSplits.HeldOut(job.Data, search.Count, job.ConfirmLimit ?? (SearchJob.DefaultConfirmPerSearchImage * search.Count));
        if (job.CalibrationData is { } calibrationData)
        {
            job.Scaling.CheckFits(calibrationData, simulator.Graph.InputName, imageDims);
        }

        var calibrationSource = job.CalibrationData ?? search;
        var calibration = calibrationSource.Slice(0, Math.Min(options.CalibrationImages, calibrationSource.Count));
        job.Info?.Invoke($"float reference on {calibration.Count} calibration images; {catalog.Count} quantizable weights, {simulator.LifLayers.Count} LIF layers");
        var weightTable = new WeightTable(simulator.Graph, catalog, job.Quantization);
        bool ortProxies = job.ProxyEngine == ProxyEngine.Ort || (job.ProxyEngine == ProxyEngine.Auto && devices.AnyCuda);
        var backend = new SimulatorBackend(simulator, weightTable, calibration, search, job.Scaling, job.Batch, proxies: !ortProxies) { KeptParents = options.EffectiveBeamWidth };
        using OrtFullEvaluator? ort = devices.AnyCuda ? new OrtFullEvaluator(model, weightTable, job.Scaling, devices, threads, job.Batch, job.Warn) : null;
        using OrtDriftProxy? ortProxy = ortProxies ? new OrtDriftProxy(simulator.Graph, model, weightTable, calibration, job.Scaling, devices, threads, job.Batch, job.Warn) : null;
        ISearchBackend searchBackend = ort is null && ortProxy is null ? backend : new OrtEvaluatedBackend(backend, ort, search, ortProxy);
        if (ort is not null || ortProxy is not null)
        {
            job.Info?.Invoke($"full evaluations {(ort is null ? "in the simulator" : $"in ONNX Runtime on {devices}")}; drift proxies {(ortProxy is null ? "in the simulator" : $"in ONNX Runtime on {devices}")}");
        }

        if (backend.DriftKind == "logit")
        {
            job.Info?.Invoke("the model has no LIF layer: membrane drift is unavailable, the gate uses logit drift instead");
        }

        string fingerprint = $"{options.Fingerprint}|model={Path.GetFileName(job.ModelPath)}:{new FileInfo(job.ModelPath).Length}|search={search.Count}|{job.Quantization}"
            + (job.CalibrationData is { } c ? $"|calib={c.Source}:{c.Count}" : "");
        var identity = SearchIdentity.Of(job, model, search, test);
        if (job.Force)
        {
            // Starting over: the old checkpoint and report go now, so an interrupted new run never sits beside them.
            foreach (string f in results)
            {
                File.Delete(Path.Combine(outDir, f));
            }
        }

        var journal = new EvaluationJournal(searchBackend, statePath, fingerprint, job.Resume, identity) { Jobs = job.Jobs };
        if (journal.Resumed)
        {
            job.Info?.Invoke($"resuming from {statePath}");
        }

        // The float model's search accuracy first (the search's first full evaluation in any case): is the split large
        // enough for the budget? Said before any candidate is tried.
        double fpSearch = journal.EvaluateReference(BitVector.AllFloat(catalog.Count), cancellation).Accuracy;
        var sampleCheck = SampleSizeCheck.Of(search.Count, fpSearch, options.WithBudgetFor(fpSearch).MaxDrop, options.Guard);
        string? sampleWarning = sampleCheck.Warning(DataSplits.Range(DataSplit.Search, job.Data.Count).Count)
            ?? (heldOut is null ? null : SampleSizeCheck.Of(search.Count + heldOut.Count, fpSearch, options.WithBudgetFor(fpSearch).MaxDrop, options.ConfirmGuard).ConfirmationWarning());
        if (sampleWarning is not null)
        {
            (job.Caution ?? job.Warn)?.Invoke("warning: " + sampleWarning);
        }

        SplitScore Score(ImageSet set, BitVector setting, Func<SplitScore, bool>? couldStillPass = null) =>
            ort is null ? backend.Score(set, setting, cancellation, couldStillPass) : ort.Accuracy(set, setting, couldStillPass, cancellation);

        SearchOutcome outcome;
        var resolved = options; // with a relative --max-drop in points once the float accuracy is known
        string? stoppedEarly;
        IReadOnlyList<Confirmation.Attempt> attempts = [];
        double confirmSeconds = 0;
        int loggedUpperBounds = 0;
        using (var log = new StreamWriter(Path.Combine(outDir, LogFile), append: false))
        {
            // One whole line per record, flushed at once: a reader (or a crash) never sees half a record.
            void OnCandidate(CandidateRecord record)
            {
                log.WriteLine(JsonSerializer.Serialize(record, s_logJson));
                log.Flush();
                loggedUpperBounds += record.UpperBound == true ? 1 : 0;
                job.OnCandidate?.Invoke(record);
            }

            var context = new SearchContext(searchBackend, journal, options, OnCandidate, job.Progress, cancellation) { ProxyLog = OnCandidate, FixedBits = fixedBits, TimeLimit = job.TimeLimit };
            try
            {
                outcome = context.RunUntilLimit(() => options.Strategy == SearchStrategy.Sensitivity
                    ? new SensitivitySearch(context).Run()
                    : new BeamSearch(context).Run());
            }
            finally
            {
                journal.Checkpoint();
                journal.StopClock();
            }

            resolved = context.Options;
            stoppedEarly = context.StoppedEarly;
            if (stoppedEarly is not null)
            {
                job.Info?.Invoke($"search stopped early: {stoppedEarly}; keeping the best passing setting found so far");
            }

            if (heldOut is not null && outcome.Best.Key != context.Fp32.Key)
            {
                job.Info?.Invoke($"confirming the choice on {heldOut.Count} held-out images of the search split");
                var watch = System.Diagnostics.Stopwatch.StartNew();
                // Hardest first, as the search split: a setting that will not be confirmed stops early.
                var floatHeldOut = Score(heldOut, context.Fp32);
                var (images, floatHits) = floatHeldOut.HardestFirst() is { } hardest
                    ? (heldOut.Select(hardest.Order), hardest.Hits)
                    : (heldOut, floatHeldOut.Hits);
                var confirmation = new Confirmation((s, couldStillPass) => Score(images, s, couldStillPass), floatHits, resolved, job.Jobs, cancellation);
                (var confirmed, attempts) = confirmation.Choose(outcome.Best, outcome.Passers, backend.WeightParams, context.Fp32, context.LogConfirmation);
                confirmSeconds = watch.Elapsed.TotalSeconds;
                double confirmedAccuracy = confirmed.Key == context.Fp32.Key
                    ? outcome.FpSearchAccuracy
                    : outcome.Passers.First(p => p.Setting.Key == confirmed.Key).Score.Accuracy;
                outcome = outcome with { Best = confirmed, BestSearchAccuracy = confirmedAccuracy };
            }
        }

        double searchSeconds = journal.ElapsedSeconds + confirmSeconds; // the journal's clock stopped with the search
        job.Info?.Invoke($"evaluating float and chosen settings on the test split ({test.Count} images)");
        var fpTestScore = Score(test, BitVector.AllFloat(catalog.Count));
        double fpTest = fpTestScore.Accuracy;
        // Paired with the float model image by image, as on the search split, so the test drop carries its standard error.
        var qTestScore = FullScore.Paired(Score(test, outcome.Best), fpTestScore.Hits);
        double qTest = qTestScore.Accuracy;

        var granularity = options.Granularity;
        bool honoured = fixedBits.All(f => outcome.Best[f.Key] == f.Value);
        if (!honoured)
        {
            job.Warn?.Invoke("the pinned widths alone already fail the budget: the float model is kept, pins not applied");
        }

        var setting = ToSetting(catalog, outcome.Best, granularity, job.Quantization, honoured ? constraints : null);
        setting.Save(Path.Combine(outDir, "setting.json"));
        job.Info?.Invoke("writing quantized.onnx and quantized.fakequant.onnx");
        var qdq = ModelEmitter.Write(model, setting, Path.Combine(outDir, "quantized.onnx"), EmitFormat.Qdq, weights: weightTable);
        var fake = ModelEmitter.Write(model, setting, Path.Combine(outDir, "quantized.fakequant.onnx"), EmitFormat.FakeQuant, weights: weightTable);
        var memory = qdq.Memory;

        var confirmedAttempt = attempts.Count > 0 && attempts[^1].Confirmed ? attempts[^1] : null; // only the last can be
        var spearman = Statistics.Spearman(outcome.Evaluated.Select(e => e.Drift).ToList(), outcome.Evaluated.Select(e => e.Drop).ToList());
        var groups = WeightCatalog.Groups(catalog, granularity);
        job.Info?.Invoke($"energy estimate: operations and firing rates of the float and chosen models on {calibration.Count} calibration images");
        var floatOps = backend.CountOperations(BitVector.AllFloat(catalog.Count));
        var chosenOps = outcome.Best.Key == BitVector.AllFloat(catalog.Count).Key ? floatOps : backend.CountOperations(outcome.Best);
        var energy = EnergyEstimate.From(floatOps, RatesOf(floatOps), RatesOf(chosenOps));
        // The report names each layer's weight as users see it (module path), not by initializer.
        var displayName = catalog.ToDictionary(w => w.Name, w => w.DisplayName, StringComparer.Ordinal);
        energy = energy with { Layers = [.. energy.Layers.Select(l => l with { Weight = displayName.GetValueOrDefault(l.Weight, l.Weight) })] };
        string floatKey = BitVector.AllFloat(catalog.Count).Key;
        var plotted = ParetoPlot.Classify(outcome.Frontier.Where(p => p.Key != floatKey)); // the float model is drawn apart
        var report = new SearchReport
        {
            Model = Path.GetFullPath(job.ModelPath),
            Strategy = SearchStrategies.Name(options.Strategy),
            BeamWidth = options.EffectiveBeamWidth,
            MaxDrop = resolved.MaxDrop,
            MaxDropPercent = options.MaxDropPercent,
            StoppedEarly = stoppedEarly is not null,
            StopReason = stoppedEarly,
            MaxEvaluations = options.MaxEvaluations,
            TimeLimitSeconds = job.TimeLimit?.TotalSeconds,
            Keep = options.Keep,
            Pin = options.Pin,
            FixedGroupsApplied = honoured,
            FixedGroups = [.. constraints.Groups.Select(c => new SearchReport.FixedGroup(c.Group, c.Kept ? "keep" : "pin", c.Bits, c.Pattern, c.Partial))],
            Energy = energy,
            Guard = options.Guard,
            ConfirmGuard = options.ConfirmGuard,
            Granularity = Granularities.Name(granularity),
            BitChoices = options.LevelsDescending.Order().ToArray(),
            CalibrationImages = calibration.Count,
            SearchImages = search.Count,
            ConfirmImages = heldOut?.Count ?? 0,
            ConfirmAttempts = attempts.Count,
            ConfirmSeconds = confirmSeconds,
            AccuracyDropConfirm = confirmedAttempt?.Drop,
            DropStandardErrorConfirm = confirmedAttempt?.Pooled.DropStandardError,
            TestImages = test.Count,
            FpAccuracySearch = outcome.FpSearchAccuracy,
            FpAccuracyTest = fpTest,
            QAccuracySearch = outcome.BestSearchAccuracy,
            QAccuracyTest = qTest,
            AccuracyDropSearch = (outcome.FpSearchAccuracy - outcome.BestSearchAccuracy) * 100,
            AccuracyDropTest = (fpTest - qTest) * 100,
            DropStandardErrorTest = qTestScore.DropStandardError,
            DropStandardErrorSearch = journal.Accuracy(outcome.Best, cancellation, out _).DropStandardError,
            WeightParams = memory.WeightParams,
            Fp32WeightBytes = memory.Fp32WeightBytes,
            QuantizedWeightBytes = (long)Math.Ceiling(memory.QuantizedWeightBytes),
            ScaleOverheadBytes = (long)Math.Ceiling(memory.ScaleOverheadBytes),
            MemorySaving = memory.MemorySaving,
            Fp32FileBytes = FileBytes(job.ModelPath),
            OnnxFileBytes = qdq.TotalBytes,
            FakequantFileBytes = fake.TotalBytes,
            Bits = groups.ToDictionary(g => g.Name, g => setting.BitsOfGroup(g.Name)),
            Groups = groups.Select(g => new SearchReport.GroupRow(g.Name, g.Params, setting.BitsOfGroup(g.Name))).ToArray(),
            SearchSeconds = searchSeconds,
            FullEvaluations = journal.FullEvaluations,
            ProxyEvaluations = journal.ProxyEvaluations,
            GatedOut = outcome.GatedOut,
            ProxySecondsMean = journal.FreshProxyEvaluations == 0 ? null : journal.ProxySeconds / journal.FreshProxyEvaluations,
            FullSecondsMean = journal.TimedFullEvaluations == 0 ? null : journal.FullSeconds / journal.TimedFullEvaluations,
            Rounds = outcome.Rounds,
            ProxySpearman = double.IsNaN(spearman) ? null : spearman,
            DriftKind = backend.DriftKind,
            AuditedCandidates = outcome.AuditedCandidates,
            AuditedWouldPass = outcome.AuditedWouldPass,
            Resumed = journal.Resumed,
            Jobs = job.Jobs,
            FullEvaluationEngine = ort is null ? "sim" : $"ort:{ort.Devices}",
            ProxyEngine = ortProxy is null ? "sim" : $"ort:{ortProxy.Devices}",
            SpeculativeUnused = journal.UnusedSpeculative,
            Data = job.Data.Source,
            CalibrationData = job.CalibrationData?.Source,
            SplitMethod = job.Data.Split.Method,
            SplitSeed = job.Data.Split.Seed,
            SplitSearchImages = DataSplits.Range(DataSplit.Search, job.Data.Count).Count,
            SplitTestImages = DataSplits.Range(DataSplit.Test, job.Data.Count).Count,
            PlottedSettings = plotted.Points.Count,
            PlottedUpperBounds = plotted.UpperBounds.Count,
            LoggedUpperBounds = loggedUpperBounds,
            ParetoFront = plotted.Front.Count,
            ExpectedDropStandardError = double.IsFinite(sampleCheck.StandardError) ? sampleCheck.StandardError : null,
            SearchImagesForBudget = sampleCheck.ImagesNeeded,
            SampleWarning = sampleWarning,
        };

        AtomicFile.WriteAllText(Path.Combine(outDir, "report.json"), report.ToJson());
        AtomicFile.WriteAllText(Path.Combine(outDir, "report.md"), report.ToMarkdown());
        var chosen = (outcome.Best.TotalBits(backend.WeightParams), outcome.BestSearchAccuracy);
        try
        {
            byte[] png = ParetoPlot.Render(outcome.Frontier, chosen, backend.WeightParams.Sum() * BitVector.Fp32, outcome.FpSearchAccuracy, resolved.MaxDrop, options.Guard, $"{report.Strategy}: {Path.GetFileName(Path.GetDirectoryName(report.Model))}");
            AtomicFile.Write(Path.Combine(outDir, "pareto.png"), s => s.Write(png));
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException)
        {
            // The plot needs SkiaSharp's native library; the search's results do not.
            job.Info?.Invoke($"pareto.png not drawn: the plotting library cannot load here ({e.GetBaseException().Message.Split('.')[0]})");
        }

        return report;
    }

    /// <summary>The search's per-weight bits as a setting over the groups of <paramref name="granularity"/>.</summary>
    public static Setting ToSetting(IReadOnlyList<QuantizableWeight> catalog, BitVector bits, Granularity granularity, QuantizationOptions quantization, WeightConstraints? constraints = null)
    {
        var perGroup = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < catalog.Count; i++)
        {
            string group = WeightCatalog.GroupOf(catalog[i], granularity);
            perGroup[group] = perGroup.TryGetValue(group, out int b) ? Math.Max(b, bits[i]) : bits[i];
        }

        return constraints is null || (constraints.Keep.Count == 0 && constraints.Pin.Count == 0)
            ? Setting.Create(catalog, granularity, perGroup, quantization)
            : Setting.Create(catalog, granularity, perGroup, quantization, constraints);
    }

    /// <summary>
    /// The devices evaluations are placed on. CUDA that cannot be used (the CPU build, no library, no GPU) puts every
    /// evaluation on the CPU, told in one line however many devices were named.
    /// </summary>
    private static DevicePool ResolveDevices(IReadOnlyList<ComputeDevice> requested, Action<string>? warn)
    {
        string? told = null;
        var resolved = requested.Distinct().Select(d => OrtSessions.Resolve(d, line => told ??= line)).ToList();
        if (told is not null)
        {
            warn?.Invoke(told);
            return DevicePool.Of(ComputeDevice.Cpu);
        }

        return new DevicePool(requested);
    }

    private static Dictionary<string, double> RatesOf(OperationCounter counts) =>
        counts.Rates.Rates().ToDictionary(r => r.Layer, r => r.Rate, StringComparer.Ordinal);

    private static string PrepareOutDirectory(string path) => AtomicFile.RequireWritableFolder(path, $"--out {path}");

    private static long FileBytes(string modelPath)
    {
        long bytes = new FileInfo(modelPath).Length;
        string data = modelPath + ".data";
        return File.Exists(data) ? bytes + new FileInfo(data).Length : bytes;
    }
}
