using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AQ4SViT.Onnx.Tests.Robustness;

/// <summary>
/// Seeded mutations of the JSON files the tool reads back (setting.json, state.json): byte damage as for models, and
/// structural damage through <see cref="JsonNode"/> — a value replaced by one of another type or out of range, a key
/// removed, renamed or given twice, an array cut or grown, a character of a string changed, deep nesting.
/// </summary>
internal static class JsonMutator
{
    private static readonly string[] s_nastyValues =
    [
        "null", "true", "false", "\"\"", "\"x\"", "0", "-1", "1", "2", "3", "7", "9", "16", "31", "32", "33", "64", "1.5", "-0.0", "1e308", "-1e308",
        "2147483648", "-2147483649", "9223372036854775808", "[]", "{}", "[1,2,3]", "{\"a\":1}", "\"NaN\"", "\"Infinity\"", "\"\\u0000\"",
    ];

    public static string Mutate(Random rng, string json, out string what)
    {
        if (rng.Next(3) == 0)
        {
            var bytes = Encoding.UTF8.GetBytes(json);
            what = ModelMutator.MutateBytes(rng, ref bytes);
            return Encoding.UTF8.GetString(bytes);
        }

        var root = JsonNode.Parse(json)!;
        var all = new List<JsonNode>();
        Collect(root, all);
        var node = all[rng.Next(all.Count)];
        string at = node.GetPath();
        switch (rng.Next(8))
        {
            case 0:
            case 1:
            {
                string value = s_nastyValues[rng.Next(s_nastyValues.Length)];
                what = $"{at} := {value}";
                return Replace(root, node, JsonNode.Parse(value)) ?? "null";
            }

            case 2 when node.Parent is JsonObject parent:
            {
                string key = node.GetPropertyName();
                if (rng.Next(2) == 0)
                {
                    parent.Remove(key);
                    what = $"{at} removed";
                }
                else
                {
                    parent.Remove(key);
                    parent[key.ToUpperInvariant() + "_"] = node;
                    what = $"{at} renamed";
                }

                return root.ToJsonString();
            }

            case 3 when node.Parent is JsonObject parent:
            {
                // Given twice: JsonObject cannot hold that, so splice the text.
                string key = node.GetPropertyName();
                string text = root.ToJsonString();
                string needle = JsonSerializer.Serialize(key) + ":";
                int i = text.IndexOf(needle, StringComparison.Ordinal);
                what = $"{at} given twice";
                return i < 0 ? text : text.Insert(i, needle + s_nastyValues[rng.Next(s_nastyValues.Length)] + ",");
            }

            case 4 when node is JsonArray array && array.Count > 0:
            {
                if (rng.Next(2) == 0)
                {
                    int keep = rng.Next(array.Count);
                    while (array.Count > keep)
                    {
                        array.RemoveAt(array.Count - 1);
                    }

                    what = $"{at} cut to {keep} elements";
                }
                else
                {
                    int copies = rng.Next(1, 4);
                    for (int c = 0; c < copies; c++)
                    {
                        array.Add(array[rng.Next(array.Count)]?.DeepClone());
                    }

                    what = $"{at} grown by {copies}";
                }

                return root.ToJsonString();
            }

            case 5 when node is JsonValue v && v.TryGetValue(out string? s) && s.Length > 0:
            {
                const string Alphabet = ",0123456789-x .";
                var chars = s.ToCharArray();
                int i = rng.Next(chars.Length);
                chars[i] = rng.Next(4) == 0 ? (char)rng.Next(0x20, 0x3000) : Alphabet[rng.Next(Alphabet.Length)];
                string changed = rng.Next(4) == 0 ? new string(chars)[..i] : new string(chars);
                what = $"{at} string \"{Preview(s)}\" → \"{Preview(changed)}\"";
                return Replace(root, node, JsonValue.Create(changed)) ?? "null";
            }

            case 6:
            {
                int depth = rng.Next(2) == 0 ? 70 : 5000;
                string deep = new string('[', depth) + new string(']', depth);
                what = $"{at} := nested {depth} deep";
                string text = Replace(root, node, JsonNode.Parse("\"DEEP\"")) ?? "\"DEEP\"";
                return text.Replace("\"DEEP\"", deep, StringComparison.Ordinal);
            }

            default:
            {
                string value = s_nastyValues[rng.Next(s_nastyValues.Length)];
                what = $"{at} := {value}";
                return Replace(root, node, JsonNode.Parse(value)) ?? "null";
            }
        }
    }

    private static void Collect(JsonNode node, List<JsonNode> all)
    {
        all.Add(node);
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, child) in o)
                {
                    if (child is not null)
                    {
                        Collect(child, all);
                    }
                }

                break;
            case JsonArray a:
                foreach (var child in a)
                {
                    if (child is not null)
                    {
                        Collect(child, all);
                    }
                }

                break;
        }
    }

    /// <summary>The document with <paramref name="node"/> replaced by <paramref name="value"/> (the root itself when it is the node).</summary>
    private static string? Replace(JsonNode root, JsonNode node, JsonNode? value)
    {
        switch (node.Parent)
        {
            case null:
                return value?.ToJsonString();
            case JsonObject o:
                o[node.GetPropertyName()] = value;
                break;
            case JsonArray a:
                a[node.GetElementIndex()] = value;
                break;
        }

        return root.ToJsonString();
    }

    private static string Preview(string s) => s.Length <= 24 ? s : s[..24] + "…";
}
