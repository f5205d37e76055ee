namespace AQ4SViT.Onnx.Search;

/// <summary>
/// The manual state of the art (QSViT-style), for comparison: fully evaluate every group at every bit-width
/// alone (the rest float), give each group the narrowest bits that stay within budget, combine, and while the
/// combination fails, widen the group whose own drop at its bits was largest by one step.
/// </summary>
internal sealed class SensitivitySearch(SearchContext context)
{
    public SearchOutcome Run()
    {
        var options = context.Options;
        int[] levels = options.LevelsDescending;
        context.EvaluateFloat();
        var groups = context.Groups(options.Granularity);
        var start = context.Start; // pinned weights at their widths, the rest float
        var chosen = new int[groups.Count];
        var dropAt = new Dictionary<(int Group, int Bits), double>();

        // The sweep's settings do not depend on each other's results: with --jobs they are evaluated at once.
        context.Journal.PrefetchAccuracies(groups.SelectMany(g => levels.Select(bits => start.With(g.Weights, bits))), context.Cancellation);
        for (int g = 0; g < groups.Count; g++)
        {
            chosen[g] = BitVector.Fp32;
            foreach (int bits in levels)
            {
                var setting = start.With(groups[g].Weights, bits);
                var (_, drop, passed) = context.Evaluate(setting, "sweep", g + 1, $"{groups[g].Name}={bits}", null, null);
                dropAt[(g, bits)] = drop;
                if (passed)
                {
                    chosen[g] = bits;
                }
            }
        }

        int rounds = 0;
        while (true)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            rounds++;
            var combined = Combine(groups, chosen);
            var (accuracy, _, passed) = context.Evaluate(combined, "combine", rounds, "combination", null, null);
            if (!passed && chosen.All(b => b == BitVector.Fp32))
            {
                // Only pins were left and they fail the budget: the float model.
                (combined, accuracy) = (context.Fp32, context.FpAccuracy);
            }

            if (passed || chosen.All(b => b == BitVector.Fp32))
            {
                return new SearchOutcome
                {
                    Best = combined,
                    BestSearchAccuracy = accuracy,
                    FpSearchAccuracy = context.FpAccuracy,
                    Rounds = rounds,
                    Evaluated = context.Evaluated,
                    Frontier = context.Frontier,
                    Passers = context.Passers,
                };
            }

            // Back off: widen the most sensitive quantized group by one level.
            int worst = Enumerable.Range(0, groups.Count)
                .Where(g => chosen[g] != BitVector.Fp32)
                .OrderByDescending(g => dropAt[(g, chosen[g])])
                .ThenBy(g => g)
                .First();
            int wider = levels.Where(l => l > chosen[worst]).DefaultIfEmpty(BitVector.Fp32).Min();
            chosen[worst] = wider;
        }
    }

    private BitVector Combine(IReadOnlyList<SearchGroup> groups, int[] chosen)
    {
        var setting = context.Start;
        for (int g = 0; g < groups.Count; g++)
        {
            setting = setting.With(groups[g].Weights, chosen[g]);
        }

        return setting;
    }
}
