using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Import;
using AQ4SViT.Onnx.Import.Proto;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// What a search's evaluations depend on, recorded in <c>state.json</c> so that <c>--resume</c> never replays one search's
/// results into another: SHA-256 of the model (the .onnx bytes and every external data file it names), SHA-256 of the
/// dataset as read (every image's pixels and label after decoding, resizing and cropping; for an image folder too large to
/// hold, the files' names, sizes and modification times, <see cref="DataHashOf"/> says which), the split (method, seed,
/// sizes) and every option that changes which candidates are evaluated or what they score, by flag.
/// </summary>
public sealed record SearchIdentity
{
    /// <summary>How <see cref="DataSha256"/> was taken from images held in memory.</summary>
    public const string HashOfPixels = "pixels and labels";

    /// <summary>How <see cref="DataSha256"/> was taken from a streamed image folder (decoding every image would cost a full evaluation).</summary>
    public const string HashOfFileStamps = "file names, sizes and mtimes";

    public required string ModelSha256 { get; init; }
    public required string DataSha256 { get; init; }
    public required string DataHashOf { get; init; }

    /// <summary>SHA-256 of the separate calibration set (<c>--calib-data</c>), or null when the search split calibrates.</summary>
    public string? CalibrationSha256 { get; init; }

    /// <summary>Split method, seed and sizes, e.g. <c>stratified seed 20, 5000/5000 images, search 1000, test 1000</c>.</summary>
    public required string Split { get; init; }

    /// <summary>Every option that affects results, by flag (<c>--max-drop</c> → <c>1.5</c>); "" for one not given.</summary>
    public required IReadOnlyDictionary<string, string> Options { get; init; }

    /// <summary>The model and data paths (<c>model</c>, <c>--data</c>, …), for <c>--resume</c> to reuse; compared by content, never by path.</summary>
    public IReadOnlyDictionary<string, string> Inputs { get; init; } = new Dictionary<string, string>();

    /// <summary>The identity of <paramref name="job"/>'s search over the given search and test images.</summary>
    public static SearchIdentity Of(SearchJob job, OnnxModelFile model, ImageSet search, ImageSet test)
    {
        var (data, hashOf) = HashData(job.Data);
        var split = job.Data.Split;
        return new SearchIdentity
        {
            ModelSha256 = HashModel(model),
            DataSha256 = data,
            DataHashOf = hashOf,
            CalibrationSha256 = job.CalibrationData is { } c ? HashData(c).Sha256 : null,
            Split = string.Create(CultureInfo.InvariantCulture, $"{split.Method} seed {split.Seed?.ToString(CultureInfo.InvariantCulture) ?? "none"}, {DataSplits.Range(DataSplit.Search, job.Data.Count).Count}/{DataSplits.Range(DataSplit.Test, job.Data.Count).Count} images, search {search.Count}, test {test.Count}"),
            Options = OptionsOf(job),
            Inputs = job.Inputs ?? new Dictionary<string, string>(),
        };
    }

    /// <summary>The options of <paramref name="job"/> that affect results, by flag, in the CLI's spelling (plus the CLI's own, <see cref="SearchJob.ExtraOptions"/>).</summary>
    public static SortedDictionary<string, string> OptionsOf(SearchJob job)
    {
        var o = job.Options;
        var c = CultureInfo.InvariantCulture;
        var options = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["--strategy"] = SearchStrategies.Name(o.Strategy),
            ["--beam-width"] = o.BeamWidth.ToString(c),
            ["--max-drop"] = o.MaxDropText,
            ["--guard"] = o.Guard.ToString("R", c),
            ["--bits"] = string.Join(",", o.LevelsDescending.Order()),
            ["--granularity"] = Quantize.Granularities.Name(o.Granularity),
            ["--calib"] = o.CalibrationImages.ToString(c),
            ["--gate-margin"] = o.GateMargin.ToString("R", c),
            ["--patience"] = o.Patience.ToString(c),
            ["--audit-gate"] = o.AuditGate.ToString(c),
            ["--seed"] = o.Seed.ToString(c),
            ["--search-limit"] = (job.SearchLimit ?? 0).ToString(c),
            ["--test-limit"] = (job.TestLimit ?? 0).ToString(c),
            ["--confirm"] = job.ConfirmLimit?.ToString(c) ?? "",
            ["--per-tensor"] = job.Quantization.PerChannel ? "false" : "true",
            ["--asymmetric"] = job.Quantization.Symmetric ? "false" : "true",
        };

        // Recorded only when given, so that checkpoints written before these options existed still resume. The time
        // limit is not here: where it stops depends on the machine, not on the search.
        if (o.Keep.Count > 0)
        {
            options["--keep"] = string.Join(",", o.Keep);
        }

        if (o.Pin.Count > 0)
        {
            options["--pin"] = Quantize.WeightConstraints.FormatPins(o.Pin);
        }

        if (o.ConfirmGuard != SearchOptions.DefaultConfirmGuard)
        {
            options["--confirm-guard"] = o.ConfirmGuard.ToString("R", c);
        }

        if (o.MaxEvaluations is { } n)
        {
            options["--max-evaluations"] = n.ToString(c);
        }

        foreach (var (flag, value) in job.ExtraOptions ?? new Dictionary<string, string>())
        {
            options[flag] = value;
        }

        return options;
    }

    /// <summary>
    /// Throws, in one line naming <paramref name="statePath"/>, when <paramref name="stored"/> (read from it) is not this
    /// search: the first option that differs (by flag, both values), else the model, data, calibration set or split.
    /// </summary>
    public void CheckResumes(SearchIdentity? stored, string statePath)
    {
        if (stored is null)
        {
            Throw.BadInput($"--resume: {statePath} has no content hashes (written by an older aq4svit), so it cannot be checked against this model and data; start over with --force instead of --resume");
        }

        foreach (string flag in Options.Keys.Union(stored.Options.Keys).Order(StringComparer.Ordinal))
        {
            string was = stored.Options.GetValueOrDefault(flag) ?? "";
            string now = Options.GetValueOrDefault(flag) ?? "";
            if (was != now)
            {
                Throw.BadInput($"--resume: {statePath}: {flag} was {Shown(was)}, now {Shown(now)}");
            }
        }

        if (stored.ModelSha256 != ModelSha256)
        {
            Throw.BadInput($"--resume: {statePath} was written for another model (sha256 {Short(stored.ModelSha256)} vs {Short(ModelSha256)})");
        }

        if (stored.DataSha256 != DataSha256 || stored.DataHashOf != DataHashOf)
        {
            Throw.BadInput($"--resume: {statePath} was written for other data (sha256 of the {DataHashOf} {Short(stored.DataSha256)} vs {Short(DataSha256)})");
        }

        if (stored.CalibrationSha256 != CalibrationSha256)
        {
            Throw.BadInput($"--resume: {statePath} was written for another --calib-data (sha256 {Short(stored.CalibrationSha256)} vs {Short(CalibrationSha256)})");
        }

        if (stored.Split != Split)
        {
            Throw.BadInput($"--resume: {statePath} was written for another split ({stored.Split}; now {Split})");
        }
    }

    private static string Shown(string value) => value.Length == 0 ? "not given" : value;

    private static string Short(string? sha) => sha is null ? "none" : sha.Length > 12 ? sha[..12] + "…" : sha;

    /// <summary>SHA-256 of the .onnx file's bytes, then of each external data file its tensors name (sorted, name and bytes).</summary>
    public static string HashModel(OnnxModelFile model)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        AppendFile(hash, model.Path);
        var locations = new SortedSet<string>(StringComparer.Ordinal);
        CollectLocations(model.Graph, locations, depth: 0);
        foreach (string location in locations)
        {
            string path = Path.Combine(model.BaseDirectory, location);
            hash.AppendData(Encoding.UTF8.GetBytes("\0" + location + "\0"));
            if (File.Exists(path))
            {
                AppendFile(hash, path);
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// SHA-256 of a dataset as read: its size, then every image's pixel bytes and every label; for a streamed image folder,
    /// every label and each image file's name (relative to the folder), size and modification time.
    /// </summary>
    public static (string Sha256, string HashOf) HashData(ImageSet set)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{set.Count}x{set.Channels}x{set.Rows}x{set.Cols}\0")));
        var labels = new byte[set.Count * sizeof(int)];
        Buffer.BlockCopy(set.Labels, 0, labels, 0, labels.Length);
        hash.AppendData(labels);
        if (set.IsFrames)
        {
            // Event frames: every sample's float32 values, with T in the size line.
            hash.AppendData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"T{set.TimeSteps}\0")));
            for (int i = 0; i < set.Count; i++)
            {
                hash.AppendData(MemoryMarshal.AsBytes(set.Frames(i)));
            }

            return (Convert.ToHexStringLower(hash.GetHashAndReset()), HashOfPixels);
        }

        if (!set.IsStreamed)
        {
            hash.AppendData(set.Pixels);
            return (Convert.ToHexStringLower(hash.GetHashAndReset()), HashOfPixels);
        }

        for (int i = 0; i < set.Count; i++)
        {
            string name = set.NameOf(i);
            var info = new FileInfo(name);
            string relative = Directory.Exists(set.Source) ? Path.GetRelativePath(set.Source, name) : name;
            long size = info.Exists ? info.Length : -1;
            long mtime = info.Exists ? info.LastWriteTimeUtc.Ticks : 0;
            hash.AppendData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{relative}\0{size}\0{mtime}\0")));
        }

        return (Convert.ToHexStringLower(hash.GetHashAndReset()), HashOfFileStamps);
    }

    private static void AppendFile(IncrementalHash hash, string path)
    {
        using var stream = File.OpenRead(path);
        var buffer = new byte[1 << 16];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            hash.AppendData(buffer, 0, read);
        }
    }

    private static void CollectLocations(GraphProto? graph, SortedSet<string> locations, int depth)
    {
        if (graph is null || depth > 64)
        {
            return;
        }

        foreach (var t in graph.Initializer)
        {
            AddLocation(t, locations);
        }

        foreach (var node in graph.Node)
        {
            foreach (var a in node.Attribute)
            {
                AddLocation(a.T, locations);
                foreach (var t in a.Tensors)
                {
                    AddLocation(t, locations);
                }

                CollectLocations(a.G, locations, depth + 1);
                foreach (var g in a.Graphs)
                {
                    CollectLocations(g, locations, depth + 1);
                }
            }
        }
    }

    private static void AddLocation(TensorProto? tensor, SortedSet<string> locations)
    {
        if (tensor is null)
        {
            return;
        }

        foreach (var entry in tensor.ExternalData)
        {
            // The loader has refused rooted and ".." locations already; a bad one here only changes the hash.
            if (entry.Key == "location" && entry.Value.Length > 0 && !Path.IsPathRooted(entry.Value) && !entry.Value.Split('/', '\\').Contains(".."))
            {
                locations.Add(entry.Value);
            }
        }
    }
}
