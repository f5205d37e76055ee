using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Quantize;
using AQ4SViT.Onnx.Search;
using AQ4SViT.Onnx.Tests.Search;
using CsCheck;

namespace AQ4SViT.Onnx.Tests.Robustness;

/// <summary>
/// Property tests with shrinking (CsCheck) for the JSON readers: <c>setting.json</c> (<see cref="Setting.Parse"/>) and
/// <c>state.json</c> (<see cref="EvaluationJournal"/> with resume, then a search from it). Any input either loads or
/// is a <see cref="BadInputException"/> naming the file; on any other exception CsCheck shrinks the input and the
/// failure shows the smallest document that still breaks the reader, with the seed that replays it.
/// AQ4SVIT_FUZZ_SCALE multiplies the iterations.
/// </summary>
public sealed class ReaderPropertyTests
{
    private const string Source = "dir/setting.json";

    private static readonly int s_scale = int.TryParse(Environment.GetEnvironmentVariable("AQ4SVIT_FUZZ_SCALE"), out int s) && s > 0 ? s : 1;

    private static readonly Gen<string> s_number = Gen.OneOf(
        Gen.Int[-3, 40].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        Gen.OneOf("1.5", "-0.0", "1e308", "-1e308", "2147483648", "-2147483649", "9223372036854775808", "1e-320", "4.0"));

    private static readonly Gen<string> s_text = Gen.OneOf(
        Gen.OneOf("network", "block", "layer", "Layer", "", "blocks.0", "membrane", "logit"),
        Gen.Char["ab01,.-x\u00e9\u4e2d\\\"\u0000"].Array[0, 6].Select(c => new string(c)));

    private static readonly Gen<string> s_scalar = Gen.Frequency(
        (3, s_number),
        (3, s_text.Select(Quote)),
        (1, Gen.OneOf("null", "true", "false")));

    private static readonly Gen<string> s_settingKey = Gen.OneOf("granularity", "per_channel", "symmetric", "bits", "network", "a", "", "GRANULARITY");

    private static readonly Gen<string> s_settingJson = Object(s_settingKey, 3);

    [Fact]
    public void SettingJson_AnyDocument_LoadsOrIsBadInputNamingTheFile()
    {
        s_settingJson.Sample(
            json =>
            {
                try
                {
                    var setting = Setting.Parse(json, Source);
                    Assert.All(setting.Bits.Values, b => Assert.True(Setting.IsAllowedBits(b), $"bits {b} loaded"));
                }
                catch (BadInputException e) when (e.Message.StartsWith(Source + ":", StringComparison.Ordinal))
                {
                }
            },
            iter: 2000 * s_scale,
            threads: 1);
    }

    [Fact]
    public void SettingJson_WrittenThenRead_SameSetting()
    {
        var groupName = Gen.Char["abz09._/:-"].Array[1, 12].Select(c => new string(c));
        var bits = Gen.OneOf(2, 3, 4, 5, 6, 7, 8, 16, 32);
        var gen = Gen.Select(
            Gen.OneOf(Granularity.Network, Granularity.Block, Granularity.Layer),
            Gen.Bool,
            Gen.Bool,
            Gen.Select(groupName, bits).Array[0, 8]);

        gen.Sample(
            (granularity, perChannel, symmetric, groups) =>
            {
                var map = groups.DistinctBy(g => g.Item1).ToDictionary(g => g.Item1, g => g.Item2, StringComparer.Ordinal);
                var written = new Setting(granularity, map, new QuantizationOptions(perChannel, symmetric));

                var read = Setting.Parse(written.ToJson(), Source);

                Assert.Equal(granularity, read.Granularity);
                Assert.Equal(written.Options, read.Options);
                Assert.Equal(map.OrderBy(p => p.Key, StringComparer.Ordinal), read.Bits.OrderBy(p => p.Key, StringComparer.Ordinal));
                Assert.Equal(written.ToJson(), read.ToJson());
            },
            iter: 500 * s_scale,
            threads: 1);
    }

    [Fact]
    public void StateJson_AnyCheckpoint_ResumesOrIsBadInputNamingTheFile()
    {
        var options = new SearchOptions();
        var bitsKey = Gen.Frequency(
            (4, Gen.OneOf(2, 3, 4, 8, 16, 32).Array[8].Select(b => string.Join(",", b))),
            (1, Gen.OneOf(2, 8, 32, 0, -1, 99, 1 << 30).Array[0, 10].Select(b => string.Join(",", b))),
            (1, s_text));
        var proxy = Gen.Select(bitsKey, s_number, s_number, Gen.OneOf("membrane", "logit", "x", ""))
            .Select((k, d, m, kind) => $"{{\"bits\":{Quote(k)},\"drift\":{d},\"spike_mismatch\":{m},\"kind\":{Quote(kind)}}}");
        var full = Gen.Select(bitsKey, s_number, s_number, s_number, Gen.OneOf("true", "false", "null", "1"))
            .Select((k, a, l, g, c) => $"{{\"bits\":{Quote(k)},\"accuracy\":{a},\"lost\":{l},\"gained\":{g},\"complete\":{c}}}");
        var hitsLength = Gen.OneOf(0, 1, 7, SyntheticBackend.Images - 1, SyntheticBackend.Images, SyntheticBackend.Images + 1);
        var hits = Gen.Select(hitsLength, Gen.Char["0101x"]).Select((n, c) => new string('1', n / 2) + new string(c, n - (n / 2)));
        var order = Gen.Frequency(
            (2, Gen.Const("[]")),
            (2, Gen.Int[-1, 1].Select(shift => "[" + string.Join(",", Enumerable.Range(shift, SyntheticBackend.Images)) + "]")),
            (1, Gen.Int[-2, SyntheticBackend.Images + 2].Array[0, 6].Select(a => "[" + string.Join(",", a) + "]")));
        var gen = Gen.Select(
            Gen.Frequency((6, Gen.Const(Quote(options.Fingerprint))), (1, Gen.OneOf(Quote("other"), "null", "3"))),
            Gen.OneOf("3", "2", "-1", "null"),
            proxy.Array[0, 4].Select(a => "[" + string.Join(",", a) + "]"),
            full.Array[0, 4].Select(a => "[" + string.Join(",", a) + "]"),
            hits,
            order,
            Gen.OneOf("0", "12.5", "-1", "1e308"))
            .Select((f, v, p, fu, h, o, e) =>
                $"{{\"version\":{v},\"fingerprint\":{f},\"elapsed_seconds\":{e},\"proxies\":{p},\"full\":{fu},\"reference_hits\":{Quote(h)},\"search_order\":{o}}}");

        using var dir = new TempDir();
        string path = dir.File("state.json");
        gen.Sample(
            json =>
            {
                File.WriteAllText(path, json);
                var backend = new SyntheticBackend(parameters: [200, 5000, 8000, 8000, 20000, 20000, 3000, 1000], sensitivity: [40, 20, 4, 4, 2, 3, 6, 30], slope: 0.01);
                try
                {
                    var journal = new EvaluationJournal(backend, path, options.Fingerprint, resume: true);
                    var context = new SearchContext(backend, journal, options, null, null, CancellationToken.None);
                    new BeamSearch(context).Run();
                }
                catch (BadInputException e) when (e.Message.Contains(path, StringComparison.Ordinal))
                {
                }
            },
            iter: 400 * s_scale,
            threads: 1,
            print: Compact);
    }

    /// <summary>What the property above found first (CsCheck seed 8MjmQeovRDF1): reference_hits one short made the search index past its end (exit 1).</summary>
    [Theory]
    [InlineData(-1, "[]", "reference_hits has 4999 images, the search split 5000")]
    [InlineData(0, "[1,0]", "search_order has 2 images")]
    [InlineData(0, "DUP", "search_order is not an order of the 5000 images (position 0)")]
    [InlineData(0, "null", "a field of the checkpoint is null")]
    public void StateJson_ReferenceOrOrderNotTheSplits_IsBadInputNamingTheFile(int hitsDelta, string order, string message)
    {
        var options = new SearchOptions();
        using var dir = new TempDir();
        string path = dir.File("state.json");
        int n = SyntheticBackend.Images + hitsDelta;
        string orderJson = order == "DUP" ? "[" + string.Join(",", Enumerable.Repeat(0, n)) + "]" : order;
        File.WriteAllText(path, $"{{\"version\":3,\"fingerprint\":{Quote(options.Fingerprint)},\"reference_hits\":\"{new string('1', n)}\",\"search_order\":{orderJson}}}");
        var backend = new SyntheticBackend(parameters: [200, 5000], sensitivity: [40, 20], slope: 0.01);

        var e = Assert.Throws<BadInputException>(() =>
        {
            var journal = new EvaluationJournal(backend, path, options.Fingerprint, resume: true);
            new BeamSearch(new SearchContext(backend, journal, options, null, null, CancellationToken.None)).Run();
        });

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    /// <summary>A JSON object of up to four members with keys from <paramref name="keys"/>; values nest <paramref name="depth"/> deep.</summary>
    private static Gen<string> Object(Gen<string> keys, int depth) =>
        Gen.Select(keys, Value(keys, depth - 1)).Select((k, v) => $"{Quote(k)}:{v}").Array[0, 4].Select(m => "{" + string.Join(",", m) + "}");

    private static Gen<string> Value(Gen<string> keys, int depth) => depth <= 0
        ? s_scalar
        : Gen.Frequency(
            (4, s_scalar),
            (1, Value(keys, depth - 1).Array[0, 3].Select(a => "[" + string.Join(",", a) + "]")),
            (2, Object(keys, depth)));

    /// <summary>A state.json for a failure message: long runs of one character and long ascending lists shortened.</summary>
    private static string Compact(string json)
    {
        string s = System.Text.RegularExpressions.Regex.Replace(json, @"(.)\1{19,}", m => $"{m.Groups[1].Value}×{m.Length}");
        return System.Text.RegularExpressions.Regex.Replace(s, @"\[(-?\d+)(,-?\d+){19,}\]", m =>
        {
            var items = m.Value.Trim('[', ']').Split(',');
            return $"[{items.Length} ints {items[0]}..{items[^1]}]";
        });
    }

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
