using System.Collections;
using System.Text.Json;
using System.Text.Json.Serialization;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Files;

namespace AQ4SViT.Onnx.Search;

/// <summary>
/// <c>state.json</c>, the checkpoint <see cref="EvaluationJournal"/> writes whole after every full evaluation: every proxy
/// and full evaluation so far, the float model's hits, the split's order and what the evaluations depend on. Read back by
/// <c>--resume</c>, checked before anything is replayed from it.
/// </summary>
internal static class SearchCheckpoint
{
    /// <summary>
    /// The checkpoint at <paramref name="statePath"/>, checked: no null field, written by this search (its
    /// <paramref name="identity"/>, else its <paramref name="fingerprint"/>), numbers in range, hits and order well formed.
    /// </summary>
    public static State LoadForResume(string statePath, string fingerprint, SearchIdentity? identity)
    {
        var state = Read(statePath);
        if (state.Fingerprint is null || state.ReferenceHits is null || state.SearchOrder is null || state.Proxies is null || state.Full is null
            || state.Proxies.Any(p => p?.Bits is null || p.Kind is null) || state.Full.Any(f => f?.Bits is null))
        {
            // JSON null where the checkpoint has a list or a string: the deserializer lets it through.
            Throw.BadInput($"{statePath}: a field of the checkpoint is null");
        }

        // The identity (content hashes, options by flag) supersedes the fingerprint, which names the model file by name
        // and size; without one (callers that give none) the fingerprint still guards.
        identity?.CheckResumes(ToIdentity(state.Identity, statePath), statePath);
        if (identity is null && state.Fingerprint != fingerprint)
        {
            Throw.BadInput($"{statePath}: written by a different search ({state.Fingerprint}); this one is {fingerprint}. Remove it or run without --resume");
        }

        // Numbers go on into the report and the next checkpoint: a damaged one must stop here, not as an overflow there.
        if (!double.IsFinite(state.ElapsedSeconds) || state.ElapsedSeconds < 0
            || state.Proxies.Any(p => !(p.Drift is >= 0 and <= 1e15) || !(p.SpikeMismatch is >= 0 and <= 1))
            || state.Full.Any(f => !(f.Accuracy is >= 0 and <= 1) || f.Lost < 0 || f.Gained < 0))
        {
            Throw.BadInput($"{statePath}: elapsed_seconds, drifts or accuracies out of range (accuracies and spike mismatches 0–1, drifts 0–1e15, counts and times not negative)");
        }

        if (state.ReferenceHits.Any(c => c is not ('0' or '1')))
        {
            Throw.BadInput($"{statePath}: reference_hits must be a string of 0s and 1s");
        }

        if (state.SearchOrder.Count > 0)
        {
            if (state.SearchOrder.Count != state.ReferenceHits.Length)
            {
                Throw.BadInput($"{statePath}: search_order has {state.SearchOrder.Count} images, reference_hits {state.ReferenceHits.Length}");
            }

            // An order is a permutation of the split's positions: the backend indexes its images with it.
            var seen = new BitArray(state.SearchOrder.Count);
            foreach (int position in state.SearchOrder)
            {
                if (position < 0 || position >= seen.Length || seen[position])
                {
                    Throw.BadInput($"{statePath}: search_order is not an order of the {seen.Length} images (position {position})");
                }

                seen[position] = true;
            }
        }

        return state;
    }

    /// <summary>Writes <paramref name="state"/> to <paramref name="statePath"/> atomically (temporary file, then rename).</summary>
    public static void Write(string statePath, State state) =>
        AtomicFile.WriteAllText(statePath, JsonSerializer.Serialize(state, StateJson.Default.State));

    /// <summary>
    /// The identity a checkpoint records (for <c>--resume</c> to take the options it was written with), or null when it
    /// records none or <paramref name="statePath"/> does not exist; a damaged checkpoint is bad input naming it.
    /// </summary>
    public static SearchIdentity? ReadIdentity(string statePath) =>
        File.Exists(statePath) ? ToIdentity(Read(statePath).Identity, statePath) : null;

    public static IdentityEntry FromIdentity(SearchIdentity identity) => new()
    {
        Model = identity.ModelSha256,
        Data = identity.DataSha256,
        DataHashOf = identity.DataHashOf,
        Calibration = identity.CalibrationSha256,
        Split = identity.Split,
        Options = new SortedDictionary<string, string>(identity.Options.ToDictionary(), StringComparer.Ordinal),
        Inputs = new SortedDictionary<string, string>(identity.Inputs.ToDictionary(), StringComparer.Ordinal),
    };

    private static SearchIdentity? ToIdentity(IdentityEntry? entry, string statePath)
    {
        if (entry is null)
        {
            return null;
        }

        if (entry.Model is null || entry.Data is null || entry.DataHashOf is null || entry.Split is null || entry.Options is null || entry.Inputs is null
            || entry.Options.Any(p => p.Value is null) || entry.Inputs.Any(p => p.Value is null))
        {
            Throw.BadInput($"{statePath}: a field of the checkpoint's identity is null");
        }

        return new SearchIdentity
        {
            ModelSha256 = entry.Model,
            DataSha256 = entry.Data,
            DataHashOf = entry.DataHashOf,
            CalibrationSha256 = entry.Calibration,
            Split = entry.Split,
            Options = entry.Options,
            Inputs = entry.Inputs,
        };
    }

    private static State Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), StateJson.Default.State)
                ?? Throw.BadInput<State>($"{path}: empty checkpoint");
        }
        catch (JsonException e)
        {
            return Throw.BadInput<State>($"{path}: not a search checkpoint ({e.Message})", e);
        }
    }

    internal sealed class State
    {
        public int Version { get; set; } = 4;
        public string Fingerprint { get; set; } = "";

        /// <summary>What the evaluations depend on (<see cref="SearchIdentity"/>); version 3 and older had none.</summary>
        public IdentityEntry? Identity { get; set; }
        public double ElapsedSeconds { get; set; }
        public List<ProxyEntry> Proxies { get; set; } = [];
        public List<FullEntry> Full { get; set; } = [];

        /// <summary>The float model's per-image hits on the search split, '1' right, '0' wrong, by evaluation position.</summary>
        public string ReferenceHits { get; set; } = "";

        /// <summary>The search split's evaluation order: position → image (empty: natural order; version 2 had none).</summary>
        public List<int> SearchOrder { get; set; } = [];
    }

    internal sealed class IdentityEntry
    {
        public string Model { get; set; } = "";
        public string Data { get; set; } = "";
        public string DataHashOf { get; set; } = "";
        public string? Calibration { get; set; }
        public string Split { get; set; } = "";
        public SortedDictionary<string, string> Options { get; set; } = new(StringComparer.Ordinal);
        public SortedDictionary<string, string> Inputs { get; set; } = new(StringComparer.Ordinal);
    }

    internal sealed class ProxyEntry
    {
        public string Bits { get; set; } = "";
        public double Drift { get; set; }
        public double SpikeMismatch { get; set; }
        public string Kind { get; set; } = "membrane";
    }

    internal sealed class FullEntry
    {
        public string Bits { get; set; } = "";
        public double Accuracy { get; set; }
        public int Lost { get; set; }
        public int Gained { get; set; }

        /// <summary>False for an evaluation that stopped early (a failure; accuracy an upper bound).</summary>
        public bool Complete { get; set; } = true;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = false)]
[JsonSerializable(typeof(SearchCheckpoint.State))]
internal sealed partial class StateJson : JsonSerializerContext;
