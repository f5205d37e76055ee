using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Graph;

namespace AQ4SViT.Onnx.Quantize;

/// <summary>One weight group the search must not move: kept at FP32 (<c>--keep</c>) or pinned to a width (<c>--pin</c>).</summary>
/// <param name="Group">The group at the setting's granularity.</param>
/// <param name="Bits">32 for a keep, the pinned width otherwise.</param>
/// <param name="Pattern">The pattern that named it, as given (<c>head</c>, <c>op:Conv</c>).</param>
/// <param name="Partial">The pattern matched only some of the group's weights, and the whole group follows it.</param>
public sealed record GroupConstraint(string Group, int Bits, string Pattern, bool Partial)
{
    public bool Kept => Bits == Setting.Fp32;
}

/// <summary>
/// Exclusions and pins (ONNX Runtime's <c>nodes_to_exclude</c>/<c>op_types_to_quantize</c>, NNCF's <c>IgnoredScope</c>):
/// <c>--keep PATTERN</c> leaves the matching weight groups at FP32, <c>--pin PATTERN=BITS</c> fixes their width.
/// <para>A pattern is <c>op:TYPE</c> (the consuming op, <c>Conv</c>, <c>MatMul</c> or <c>Gemm</c>, any case) or a .NET regular
/// expression searched (unanchored; <c>^head$</c> for an exact name) in the group's name and in each member weight's
/// module path (<c>blocks.0.mlp.fc2.linear</c>), initializer name and consuming node's name. Keeps and pins act on whole
/// groups of the setting's granularity: a pattern matching one weight of a block keeps the whole block (the report says
/// so). A pattern matching no group is bad input. A pin wins over a keep of the same group; two pins giving one group
/// different widths are bad input.</para>
/// </summary>
public sealed class WeightConstraints
{
    public static readonly WeightConstraints None = new([], new Dictionary<string, int>(StringComparer.Ordinal), []);

    private readonly Dictionary<string, GroupConstraint> _byGroup;

    private WeightConstraints(IReadOnlyList<string> keep, IReadOnlyDictionary<string, int> pin, IReadOnlyList<GroupConstraint> groups)
    {
        Keep = keep;
        Pin = pin;
        Groups = groups;
        _byGroup = groups.ToDictionary(g => g.Group, StringComparer.Ordinal);
    }

    /// <summary>The keep patterns as given.</summary>
    public IReadOnlyList<string> Keep { get; }

    /// <summary>The pin patterns and widths as given.</summary>
    public IReadOnlyDictionary<string, int> Pin { get; }

    /// <summary>The constrained groups, in the model's group order.</summary>
    public IReadOnlyList<GroupConstraint> Groups { get; }

    public bool IsEmpty => Groups.Count == 0;

    /// <summary>The fixed bits of a group, or null when the search may move it.</summary>
    public int? BitsOfGroup(string group) => _byGroup.TryGetValue(group, out var c) ? c.Bits : null;

    /// <summary>
    /// Resolves <paramref name="keep"/> and <paramref name="pin"/> against the groups of <paramref name="weights"/> at
    /// <paramref name="granularity"/>; <paramref name="source"/> names where they came from in errors.
    /// </summary>
    public static WeightConstraints Resolve(IReadOnlyList<QuantizableWeight> weights, Granularity granularity, IReadOnlyList<string> keep, IReadOnlyDictionary<string, int> pin, string source = "--keep/--pin")
    {
        if (keep.Count == 0 && pin.Count == 0)
        {
            return None;
        }

        var groups = WeightCatalog.Groups(weights, granularity);
        var byName = weights.ToDictionary(w => w.Name, StringComparer.Ordinal);
        var found = new Dictionary<string, GroupConstraint>(StringComparer.Ordinal);

        void Apply(string pattern, int bits, string flag)
        {
            var match = Matcher(pattern, flag);
            bool any = false;
            foreach (var g in groups)
            {
                var members = g.Weights.Select(w => byName[w]).ToList();
                int matched = members.Count(w => match(w, null));
                bool byGroupName = match(null, g.Name);
                if (matched == 0 && !byGroupName)
                {
                    continue;
                }

                any = true;
                var constraint = new GroupConstraint(g.Name, bits, pattern, !byGroupName && matched < members.Count);
                if (found.TryGetValue(g.Name, out var earlier))
                {
                    if (earlier.Kept && !constraint.Kept)
                    {
                        found[g.Name] = constraint; // a pin wins over a keep
                    }
                    else if (!earlier.Kept && !constraint.Kept && earlier.Bits != bits)
                    {
                        Throw.BadInput($"{source}: group '{g.Name}' is pinned to {earlier.Bits} bits by '{earlier.Pattern}' and to {bits} by '{pattern}'");
                    }

                    continue;
                }

                found[g.Name] = constraint;
            }

            if (!any)
            {
                Throw.BadInput($"{flag} '{pattern}' matches no weight group at {Granularities.Name(granularity)} granularity (groups: {Preview(groups.Select(g => g.Name))}); a pattern is a regular expression searched in group names, module paths, initializer and node names, or op:Conv|op:MatMul|op:Gemm");
            }
        }

        bool flags = source == "--keep/--pin";
        foreach (string pattern in keep)
        {
            Apply(pattern, Setting.Fp32, flags ? "--keep" : $"{source}: keep");
        }

        foreach (var (pattern, bits) in pin)
        {
            Apply(pattern, bits, flags ? "--pin" : $"{source}: pin");
        }

        var ordered = groups.Where(g => found.ContainsKey(g.Name)).Select(g => found[g.Name]).ToList();
        return new WeightConstraints(keep.ToList(), new Dictionary<string, int>(pin, StringComparer.Ordinal), ordered);
    }

    /// <summary>Throws <see cref="BadInputException"/> naming <paramref name="flag"/> when <paramref name="pattern"/> is not a valid pattern.</summary>
    public static void Check(string pattern, string flag) => Matcher(pattern, flag);

    private static Func<QuantizableWeight?, string?, bool> Matcher(string pattern, string flag)
    {
        if (pattern.Length == 0)
        {
            Throw.BadInput($"{flag}: an empty pattern");
        }

        if (pattern.StartsWith("op:", StringComparison.OrdinalIgnoreCase))
        {
            string op = pattern[3..];
            var ops = OpFacts.WeightOps;
            if (!ops.Any(o => o.Equals(op, StringComparison.OrdinalIgnoreCase)))
            {
                Throw.BadInput($"{flag} '{pattern}': the op must be {string.Join(", ", ops.Take(ops.Count - 1))} or {ops[^1]}");
            }

            return (w, _) => w is not null && w.OpType.Equals(op, StringComparison.OrdinalIgnoreCase);
        }

        Regex regex;
        try
        {
            regex = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException e)
        {
            return Throw.BadInput<Func<QuantizableWeight?, string?, bool>>($"{flag} '{pattern}' is not a regular expression ({e.Message})", e);
        }

        bool Is(string? text)
        {
            try
            {
                return text is not null && regex.IsMatch(text);
            }
            catch (RegexMatchTimeoutException e)
            {
                return Throw.BadInput<bool>($"{flag} '{pattern}': the regular expression took too long on '{text}'", e);
            }
        }

        return (w, group) => w is null ? Is(group) : Is(w.DisplayName) || Is(w.Name) || Is(w.Module) || Is(w.NodeName);
    }

    /// <summary>
    /// Patterns from repeated and comma-separated flags: <c>--keep head,op:Conv --keep x</c> → head, op:Conv, x. A comma
    /// inside (), [] or {} or after a backslash belongs to the regular expression.
    /// </summary>
    public static List<string> SplitPatterns(IEnumerable<string> values)
    {
        var result = new List<string>();
        foreach (string value in values)
        {
            var current = new StringBuilder();
            int depth = 0;
            for (int i = 0; i < value.Length; i++)
            {
                char ch = value[i];
                if (ch == '\\' && i + 1 < value.Length)
                {
                    current.Append(ch).Append(value[++i]);
                    continue;
                }

                depth += ch is '(' or '[' or '{' ? 1 : ch is ')' or ']' or '}' ? -1 : 0;
                if (ch == ',' && depth <= 0)
                {
                    Add(current.ToString());
                    current.Clear();
                    depth = 0;
                    continue;
                }

                current.Append(ch);
            }

            Add(current.ToString());
        }

        return result;

        void Add(string part)
        {
            part = part.Trim();
            if (part.Length > 0)
            {
                result.Add(part);
            }
        }
    }

    /// <summary>Parses <c>PATTERN=BITS</c> pins (the last '=' splits); BITS is 2–8 or 16.</summary>
    public static Dictionary<string, int> ParsePins(IEnumerable<string> pins)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string pin in SplitPatterns(pins))
        {
            int at = pin.LastIndexOf('=');
            int bits = 0;
            if (at <= 0 || !int.TryParse(pin[(at + 1)..].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out bits) || !WeightQuantizer.IsSupportedBits(bits))
            {
                Throw.BadInput($"--pin '{pin}': give PATTERN=BITS with BITS 2–8 or 16 (e.g. --pin head=8)");
            }

            string pattern = pin[..at].Trim();
            Check(pattern, "--pin");
            if (!result.TryAdd(pattern, bits) && result[pattern] != bits)
            {
                Throw.BadInput($"--pin '{pattern}' given twice with different widths");
            }
        }

        return result;
    }

    /// <summary>The pins as the CLI spells them, e.g. <c>head=8,sps.convs.0=6</c>.</summary>
    public static string FormatPins(IReadOnlyDictionary<string, int> pin) =>
        string.Join(",", pin.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key}={p.Value}")));

    /// <summary>One line per constrained group for reports: <c>head: FP32 (--keep head)</c>.</summary>
    public IEnumerable<string> Describe(Granularity granularity) => Groups.Select(c =>
        $"{c.Group}: {(c.Kept ? "FP32" : c.Bits.ToString(CultureInfo.InvariantCulture) + " bits")} ({(c.Kept ? "--keep" : "--pin")} {c.Pattern}{(c.Partial ? $"; it matches part of this {Granularities.Name(granularity)} group, so the whole group follows it" : "")})");

    private static string Preview(IEnumerable<string> names)
    {
        var list = names.ToList();
        return list.Count <= 6 ? string.Join(", ", list) : string.Join(", ", list.Take(6)) + $", … ({list.Count} in all)";
    }
}
