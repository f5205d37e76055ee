using System.Text;
using System.Text.Json;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Files;

namespace AQ4SViT.Onnx.Quantize;

/// <summary>
/// Bits for every weight group (32 = FP32, left untouched). Immutable; <see cref="With"/> makes a changed copy.
/// A setting is <em>bound</em> when it knows its groups' members (from a model's <see cref="WeightCatalog"/>); only a
/// bound setting can answer <see cref="BitsOfWeight"/> at block or layer granularity. Groups a setting does not name stay FP32.
/// Layer groups are named by module path (<see cref="QuantizableWeight.DisplayName"/>); binding also accepts their
/// initializer names, as setting.json files written before that name them.
/// <para>setting.json: <c>{ "granularity": "layer", "per_channel": true, "symmetric": true, "bits": { "&lt;group&gt;": 4, ... } }</c>,
/// optionally with <c>"keep": ["head", "op:Conv"]</c> and <c>"pin": { "sps.convs.0": 8 }</c> (<see cref="WeightConstraints"/>):
/// a bound setting gives the groups they match those bits, whatever <c>bits</c> says.</para>
/// </summary>
public sealed class Setting
{
    public const int Fp32 = 32;

    private readonly Dictionary<string, int> _bits;
    private readonly List<string> _order;
    private readonly Dictionary<string, string>? _groupOfWeight;

    public Setting(Granularity granularity, IReadOnlyDictionary<string, int> bits, QuantizationOptions? options = null, IReadOnlyList<WeightGroup>? groups = null)
        : this(granularity, bits.Select(kv => (kv.Key, kv.Value)), options, groups, "setting")
    {
    }

    private Setting(Granularity granularity, IEnumerable<(string Group, int Bits)> bits, QuantizationOptions? options, IReadOnlyList<WeightGroup>? groups, string source,
        IReadOnlyList<string>? keep = null, IReadOnlyDictionary<string, int>? pin = null)
    {
        Granularity = granularity;
        Options = options ?? QuantizationOptions.Default;
        Groups = groups;
        Keep = keep ?? [];
        Pin = pin ?? new Dictionary<string, int>(StringComparer.Ordinal);
        _bits = new Dictionary<string, int>(StringComparer.Ordinal);
        _order = [];
        var formerNames = groups is null ? null : FormerNames(granularity, groups);
        foreach (var (given, b) in bits)
        {
            // A setting.json written before layer groups were named by module path names them by initializer
            // (onnx::MatMul_2286); bound to a model, either name means the group, and it is saved by the new one.
            string group = formerNames?.GetValueOrDefault(given) ?? given;
            if (!IsAllowedBits(b))
            {
                Throw.BadInput($"{source}: group '{group}': bits {b} not allowed (2–8, 16 or 32)");
            }

            if (!_bits.TryAdd(group, b))
            {
                Throw.BadInput(group == given ? $"{source}: group '{group}' given twice" : $"{source}: group '{group}' given twice (once as its initializer '{given}')");
            }

            _order.Add(group);
        }

        if (groups is not null)
        {
            _groupOfWeight = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var g in groups)
            {
                foreach (string w in g.Weights)
                {
                    _groupOfWeight[w] = g.Name;
                }
            }

            var known = groups.Select(g => g.Name).ToHashSet(StringComparer.Ordinal);
            foreach (string group in _order)
            {
                if (!known.Contains(group))
                {
                    Throw.BadInput($"{source}: unknown group '{group}' at {Granularities.Name(granularity)} granularity (the model's groups: {Preview(groups.Select(g => g.Name))})");
                }
            }

            // Save in the model's group order, so files are stable whatever order bits were given in.
            var rank = groups.Select((g, i) => (g.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
            _order.Sort((a, b) => rank[a].CompareTo(rank[b]));
        }
    }

    /// <summary>
    /// At <see cref="Granularity.Layer"/>, each group's initializer name → its name (<see cref="QuantizableWeight.DisplayName"/>),
    /// where they differ: the names setting.json files written before module-path names used. Other granularities kept their
    /// names (blocks were always module paths; "network" is "network").
    /// </summary>
    private static Dictionary<string, string>? FormerNames(Granularity granularity, IReadOnlyList<WeightGroup> groups)
    {
        if (granularity != Granularity.Layer)
        {
            return null;
        }

        var names = groups.Select(g => g.Name).ToHashSet(StringComparer.Ordinal);
        return groups.Where(g => g.Weights.Count == 1 && !names.Contains(g.Weights[0]))
            .ToDictionary(g => g.Weights[0], g => g.Name, StringComparer.Ordinal);
    }

    public Granularity Granularity { get; }

    public QuantizationOptions Options { get; }

    /// <summary>Patterns of groups kept at FP32 (<c>"keep"</c> in setting.json; see <see cref="WeightConstraints"/>).</summary>
    public IReadOnlyList<string> Keep { get; }

    /// <summary>Patterns of groups pinned to a width (<c>"pin"</c> in setting.json).</summary>
    public IReadOnlyDictionary<string, int> Pin { get; }

    /// <summary>The groups <see cref="Keep"/> and <see cref="Pin"/> fix, once bound to a model (empty before).</summary>
    public WeightConstraints Constraints { get; private init; } = WeightConstraints.None;

    /// <summary>Group → bits, as given (groups not named here are FP32).</summary>
    public IReadOnlyDictionary<string, int> Bits => _bits;

    /// <summary>The groups this setting is bound to, or null when it was loaded without a model.</summary>
    public IReadOnlyList<WeightGroup>? Groups { get; }

    public bool IsBound => Groups is not null;

    public static bool IsAllowedBits(int bits) => WeightQuantizer.IsSupportedBits(bits) || bits == Fp32;

    /// <summary>Bits of a group (32 when the setting does not name it).</summary>
    public int BitsOfGroup(string group) => _bits.TryGetValue(group, out int b) ? b : Fp32;

    /// <summary>Bits of a weight initializer: its group's bits, or 32 when the weight is in no group this setting names.</summary>
    public int BitsOfWeight(string weightName)
    {
        if (_groupOfWeight is not null)
        {
            return _groupOfWeight.TryGetValue(weightName, out string? group) ? BitsOfGroup(group) : Fp32;
        }

        // Layer groups are named by module path, not by initializer: only binding knows which is which.
        return Granularity == Granularity.Network
            ? BitsOfGroup(WeightCatalog.NetworkGroupName)
            : throw new InvalidOperationException($"a {Granularities.Name(Granularity)}-granularity setting must be bound to the model's weights (Bind) before asking a weight's bits");
    }

    /// <summary>Every group of <paramref name="weights"/> at <paramref name="granularity"/> set to <paramref name="bits"/>.</summary>
    public static Setting Uniform(IReadOnlyList<QuantizableWeight> weights, Granularity granularity, int bits, QuantizationOptions? options = null)
    {
        var groups = WeightCatalog.Groups(weights, granularity);
        return new Setting(granularity, groups.Select(g => (g.Name, bits)), options, groups, "setting");
    }

    /// <summary>A setting over the model's groups; unknown groups and bad bit-widths are <see cref="BadInputException"/>s.</summary>
    public static Setting Create(IReadOnlyList<QuantizableWeight> weights, Granularity granularity, IReadOnlyDictionary<string, int> bits, QuantizationOptions? options = null) =>
        new(granularity, bits.Select(kv => (kv.Key, kv.Value)), options, WeightCatalog.Groups(weights, granularity), "setting");

    /// <summary>
    /// As <see cref="Create(IReadOnlyList{QuantizableWeight}, Granularity, IReadOnlyDictionary{string, int}, QuantizationOptions?)"/>,
    /// recording <paramref name="constraints"/>' patterns in the setting and giving the groups they fix their bits.
    /// </summary>
    public static Setting Create(IReadOnlyList<QuantizableWeight> weights, Granularity granularity, IReadOnlyDictionary<string, int> bits, QuantizationOptions? options, WeightConstraints constraints) =>
        new Setting(granularity, bits.Select(kv => (kv.Key, kv.Value)), options, null, "setting", constraints.Keep, constraints.Pin).Bind(weights);

    /// <summary>A copy with <paramref name="group"/> at <paramref name="bits"/>.</summary>
    public Setting With(string group, int bits)
    {
        var list = _order.Select(g => (g, g == group ? bits : _bits[g])).ToList();
        if (!_bits.ContainsKey(group))
        {
            list.Add((group, bits));
        }

        return new Setting(Granularity, list, Options, Groups, "setting", Keep, Pin) { Constraints = Constraints };
    }

    /// <summary>This setting checked against, and bound to, a model's weights (unknown groups name <paramref name="source"/>).</summary>
    /// <remarks>The groups <see cref="Keep"/> and <see cref="Pin"/> match get their fixed bits; a pattern matching nothing is a
    /// <see cref="BadInputException"/>.</remarks>
    public Setting Bind(IReadOnlyList<QuantizableWeight> weights, string source = "setting")
    {
        var groups = WeightCatalog.Groups(weights, Granularity);
        var constraints = WeightConstraints.Resolve(weights, Granularity, Keep, Pin, source);
        var bits = _order.Select(g => (g, constraints.BitsOfGroup(g) ?? _bits[g])).ToList();
        foreach (var c in constraints.Groups.Where(c => !_bits.ContainsKey(c.Group)))
        {
            bits.Add((c.Group, c.Bits));
        }

        return new Setting(Granularity, bits, Options, groups, source, Keep, Pin) { Constraints = constraints };
    }

    /// <summary>Reads setting.json without a model (groups unchecked); see <see cref="Load(string, IReadOnlyList{QuantizableWeight})"/>.</summary>
    public static Setting Load(string path)
    {
        if (!File.Exists(path))
        {
            Throw.FileMissing(path, "setting file");
        }

        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException e)
        {
            return Throw.BadInput<Setting>($"{path}: cannot read ({e.Message})", e);
        }

        return Parse(text, path);
    }

    /// <summary>Reads setting.json and binds it to the model's weights: unknown groups are a <see cref="BadInputException"/> naming the file and the group.</summary>
    public static Setting Load(string path, IReadOnlyList<QuantizableWeight> weights) => Load(path).Bind(weights, path);

    /// <summary>Parses setting JSON; <paramref name="source"/> names it in error messages.</summary>
    public static Setting Parse(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            return Throw.BadInput<Setting>($"{source}: not valid JSON ({e.Message})", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                Throw.BadInput($"{source}: expected a JSON object with \"granularity\" and \"bits\"");
            }

            if (!root.TryGetProperty("granularity", out var g) || g.ValueKind != JsonValueKind.String || !Granularities.TryParse(g.GetString(), out var granularity))
            {
                return Throw.BadInput<Setting>($"{source}: \"granularity\" must be \"network\", \"block\" or \"layer\"");
            }

            bool perChannel = Flag(root, "per_channel", source);
            bool symmetric = Flag(root, "symmetric", source);
            if (!root.TryGetProperty("bits", out var bits) || bits.ValueKind != JsonValueKind.Object)
            {
                return Throw.BadInput<Setting>($"{source}: \"bits\" must be an object mapping group names to bits");
            }

            var list = new List<(string, int)>();
            foreach (var p in bits.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int b))
                {
                    return Throw.BadInput<Setting>($"{source}: group '{p.Name}': bits must be an integer (2–8, 16 or 32), got {p.Value.GetRawText()}");
                }

                list.Add((p.Name, b));
            }

            var keep = new List<string>();
            if (root.TryGetProperty("keep", out var keepElement))
            {
                if (keepElement.ValueKind != JsonValueKind.Array || keepElement.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
                {
                    return Throw.BadInput<Setting>($"{source}: \"keep\" must be an array of patterns (strings)");
                }

                foreach (var e in keepElement.EnumerateArray())
                {
                    string pattern = e.GetString()!;
                    WeightConstraints.Check(pattern, $"{source}: keep");
                    keep.Add(pattern);
                }
            }

            var pin = new Dictionary<string, int>(StringComparer.Ordinal);
            if (root.TryGetProperty("pin", out var pinElement))
            {
                if (pinElement.ValueKind != JsonValueKind.Object)
                {
                    return Throw.BadInput<Setting>($"{source}: \"pin\" must be an object mapping patterns to bits");
                }

                foreach (var p in pinElement.EnumerateObject())
                {
                    if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int b) || !WeightQuantizer.IsSupportedBits(b))
                    {
                        return Throw.BadInput<Setting>($"{source}: pin '{p.Name}': bits must be an integer 2–8 or 16, got {p.Value.GetRawText()}");
                    }

                    WeightConstraints.Check(p.Name, $"{source}: pin");
                    if (!pin.TryAdd(p.Name, b))
                    {
                        return Throw.BadInput<Setting>($"{source}: pin '{p.Name}' given twice");
                    }
                }
            }

            return new Setting(granularity, list, new QuantizationOptions(perChannel, symmetric), null, source, keep, pin);
        }
    }

    private static bool Flag(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var value))
        {
            return true;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => Throw.BadInput<bool>($"{source}: \"{name}\" must be true or false"),
        };
    }

    /// <summary>The setting as setting.json text (indented, groups in model order when bound, LF line ends).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, NewLine = "\n" }))
        {
            writer.WriteStartObject();
            writer.WriteString("granularity", Granularities.Name(Granularity));
            writer.WriteBoolean("per_channel", Options.PerChannel);
            writer.WriteBoolean("symmetric", Options.Symmetric);
            writer.WriteStartObject("bits");
            foreach (string group in _order)
            {
                writer.WriteNumber(group, _bits[group]);
            }

            writer.WriteEndObject();
            if (Keep.Count > 0)
            {
                writer.WriteStartArray("keep");
                foreach (string pattern in Keep)
                {
                    writer.WriteStringValue(pattern);
                }

                writer.WriteEndArray();
            }

            if (Pin.Count > 0)
            {
                writer.WriteStartObject("pin");
                foreach (var (pattern, b) in Pin)
                {
                    writer.WriteNumber(pattern, b);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>Writes setting.json atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    private static string Preview(IEnumerable<string> names)
    {
        var list = names.ToList();
        return list.Count <= 8 ? string.Join(", ", list) : string.Join(", ", list.Take(8)) + $", … ({list.Count} in all)";
    }
}
