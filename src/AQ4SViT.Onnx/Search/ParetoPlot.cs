using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace AQ4SViT.Onnx.Search;

/// <summary>One fully evaluated setting as <c>pareto.png</c> shows it.</summary>
/// <param name="Key">The setting (<see cref="BitVector.Key"/>): one point per setting.</param>
/// <param name="TotalBits">Σ params·bits over the quantizable weights.</param>
/// <param name="Accuracy">Top-1 on the search split, 0–1.</param>
/// <param name="Measured">The evaluation saw every search image. False: it stopped early once the candidate could not pass,
/// so <paramref name="Accuracy"/> is an upper bound.</param>
/// <param name="Passed">It met the budget as the search applies it (drop + guard·SE ≤ max-drop).</param>
internal sealed record PlotPoint(string Key, long TotalBits, double Accuracy, bool Measured, bool Passed);

/// <summary>The points of <c>pareto.png</c> sorted into what the plot draws apart.</summary>
/// <param name="Points">Every setting once (its first evaluation), in evaluation order.</param>
/// <param name="Measured">Settings whose evaluation saw every image.</param>
/// <param name="UpperBounds">Settings whose evaluation stopped early: their accuracy is an upper bound.</param>
/// <param name="Front">The Pareto front of the measured passing settings, fewest bits first (accuracy rising).</param>
internal sealed record ParetoData(IReadOnlyList<PlotPoint> Points, IReadOnlyList<PlotPoint> Measured, IReadOnlyList<PlotPoint> UpperBounds, IReadOnlyList<PlotPoint> Front);

/// <summary>
/// <c>pareto.png</c>: weight memory (log scale; memory saving on the top axis) against search-split accuracy of every
/// fully evaluated setting. Measured points and upper bounds (evaluations that stopped early) have their own markers, the
/// budget line is drawn where the search puts it and its legend names the guard, and the Pareto front of the measured
/// passing settings is drawn as a step line.
/// </summary>
internal static class ParetoPlot
{
    /// <summary>
    /// One point per setting (the first of repeated evaluations: a memoised one scores the same), split into measured and
    /// upper-bound points, and the Pareto front of the measured passing ones.
    /// </summary>
    public static ParetoData Classify(IEnumerable<PlotPoint> points)
    {
        var distinct = points.DistinctBy(p => p.Key, StringComparer.Ordinal).ToList();
        var measured = distinct.Where(p => p.Measured).ToList();
        var upper = distinct.Where(p => !p.Measured).ToList();
        return new ParetoData(distinct, measured, upper, ParetoFront(measured.Where(p => p.Passed)));
    }

    /// <summary>
    /// The points no other point dominates (as few or fewer bits and as high or higher accuracy, one of them strictly),
    /// fewest bits first; of equal points the first given is kept.
    /// </summary>
    public static IReadOnlyList<PlotPoint> ParetoFront(IEnumerable<PlotPoint> points)
    {
        var front = new List<PlotPoint>();
        double best = double.NegativeInfinity;
        foreach (var p in points.Select((p, i) => (Point: p, Order: i)).OrderBy(x => x.Point.TotalBits).ThenByDescending(x => x.Point.Accuracy).ThenBy(x => x.Order).Select(x => x.Point))
        {
            if (p.Accuracy > best)
            {
                front.Add(p);
                best = p.Accuracy;
            }
        }

        return front;
    }

    /// <summary>What the budget line's legend says: the rule a candidate must meet, and where the line is.</summary>
    public static string BudgetLegend(double maxDrop, double guard)
    {
        var c = CultureInfo.InvariantCulture;
        string rule = guard > 0
            ? string.Create(c, $"drop + {guard:0.##} SE ≤ {maxDrop:0.##} pts")
            : string.Create(c, $"drop ≤ {maxDrop:0.##} pts");
        return string.Create(c, $"budget: pass if {rule} (line: float − {maxDrop:0.##})");
    }

    public static byte[] Render(IReadOnlyList<PlotPoint> points, (long TotalBits, double Accuracy) chosen, long fp32Bits, double fpAccuracy, double maxDrop, double guard, string title)
    {
        var data = Classify(points.Where(p => p.TotalBits != fp32Bits));
        double fpKiB = KiB(fp32Bits);
        var plot = new Plot();

        // x: log10 of KiB over the candidates only, so that 2–8-bit settings are not squeezed into a corner by the float
        // model 4–16 times further right (a broken axis): the float model is a horizontal line whose legend gives its size.
        double[] kib = [.. data.Points.Select(p => KiB(p.TotalBits)), KiB(chosen.TotalBits)];
        double left = Math.Log10(kib.Min()), right = Math.Log10(kib.Max());
        double pad = Math.Max(0.1, (right - left) * 0.06); // a tenth of a decade at least: one candidate still gets ticks
        (left, right) = (left - pad, right + pad);
        double budget = (fpAccuracy * 100) - maxDrop;
        double[] accuracies = [.. data.Points.Select(p => p.Accuracy * 100), fpAccuracy * 100, chosen.Accuracy * 100, budget];
        double yPad = Math.Max(1, (accuracies.Max() - accuracies.Min()) * 0.06);

        var line = plot.Add.HorizontalLine(budget);
        line.LegendText = BudgetLegend(maxDrop, guard);
        line.LinePattern = LinePattern.Dashed;
        line.Color = Colors.DarkRed;

        if (data.Front.Count > 0)
        {
            var front = data.Front.Select(p => (X: Math.Log10(KiB(p.TotalBits)), Y: p.Accuracy * 100)).ToList();
            var step = plot.Add.ScatterLine(front.Select(p => p.X).ToArray(), front.Select(p => p.Y).ToArray(), Colors.SeaGreen);
            step.ConnectStyle = ConnectStyle.StepHorizontal;
            step.LineWidth = 2;
            step.MarkerShape = MarkerShape.OpenCircle;
            step.MarkerSize = 13;
            step.LegendText = $"Pareto front of measured passing ({data.Front.Count})";
        }

        AddPoints(plot, data.Measured.Where(p => p.Passed), MarkerShape.FilledCircle, Colors.RoyalBlue, "measured, passes");
        AddPoints(plot, data.Measured.Where(p => !p.Passed), MarkerShape.FilledCircle, Colors.DarkOrange, "measured, fails");
        AddPoints(plot, data.UpperBounds, MarkerShape.OpenTriangleDown, Colors.Gray, "upper bound: stopped early, fails");

        var fp = plot.Add.HorizontalLine(fpAccuracy * 100);
        fp.LinePattern = LinePattern.Dotted;
        fp.Color = Colors.Black;
        fp.LegendText = string.Create(CultureInfo.InvariantCulture, $"float model: {fpAccuracy:P2} at {fpKiB:N0} KiB{(Math.Log10(fpKiB) > right ? " (off the axis)" : "")}");
        var best = plot.Add.Marker(Math.Log10(KiB(chosen.TotalBits)), chosen.Accuracy * 100, MarkerShape.FilledDiamond, 14, Colors.Red);
        best.LegendText = "chosen";

        plot.Axes.Bottom.TickGenerator = MemoryTicks(left, right);
        plot.Axes.Top.TickGenerator = SavingTicks(left, right, fpKiB);
        plot.Axes.SetLimits(left, right, accuracies.Min() - yPad, accuracies.Max() + yPad);
        plot.Axes.SetLimitsX(left, right, plot.Axes.Top);

        // The title shares the top edge with the saving axis (an axis label there would overlap it): it names that axis.
        plot.Title($"{title} (top axis: memory saving against float32)");
        plot.XLabel("weight memory, Σ params·bits / 8 (KiB, log scale)");
        plot.YLabel("top-1 on the search split (%)");
        plot.ShowLegend(Edge.Right);
        return plot.GetImageBytes(1200, 600, ImageFormat.Png);
    }

    private static void AddPoints(Plot plot, IEnumerable<PlotPoint> points, MarkerShape shape, Color color, string legend)
    {
        var list = points.ToList();
        if (list.Count == 0)
        {
            return;
        }

        var scatter = plot.Add.ScatterPoints(list.Select(p => Math.Log10(KiB(p.TotalBits))).ToArray(), list.Select(p => p.Accuracy * 100).ToArray(), color);
        scatter.MarkerShape = shape;
        scatter.MarkerSize = shape == MarkerShape.OpenTriangleDown ? 10 : 7;
        scatter.LegendText = $"{legend} ({list.Count})";
    }

    private static double KiB(long totalBits) => totalBits / 8.0 / 1024.0;

    /// <summary>
    /// Ticks at 1, 2, 5 × 10^k KiB with minor ticks between over a decade or more; over less, at multiples of the round
    /// step (1, 2 or 5 × 10^k KiB) that gives four to ten of them.
    /// </summary>
    private static NumericManual MemoryTicks(double left, double right)
    {
        var ticks = new NumericManual();
        if (right - left < 0.8)
        {
            double low = Math.Pow(10, left), high = Math.Pow(10, right);
            double magnitude = Math.Pow(10, Math.Floor(Math.Log10((high - low) / 4)));
            double step = new[] { 1.0, 2.0, 5.0, 10.0 }.Select(m => m * magnitude).First(st => (high - low) / st <= 10);
            for (double v = Math.Ceiling(low / step) * step; v <= high; v += step)
            {
                ticks.AddMajor(Math.Log10(v), v.ToString(step < 1 ? "0.##" : "N0", CultureInfo.InvariantCulture));
            }

            return ticks;
        }

        int[] steps = [1, 2, 5];
        for (int k = (int)Math.Floor(left) - 1; k <= (int)Math.Ceiling(right); k++)
        {
            for (int m = 1; m <= 9; m++)
            {
                double value = m * Math.Pow(10, k);
                double x = Math.Log10(value);
                if (x < left || x > right)
                {
                    continue;
                }

                if (steps.Contains(m))
                {
                    ticks.AddMajor(x, value.ToString(value < 10 ? "0.##" : "N0", CultureInfo.InvariantCulture));
                }
                else
                {
                    ticks.AddMinor(x);
                }
            }
        }

        return ticks;
    }

    /// <summary>Ticks at multiples of the finest round step of memory saving (0.5 %, 1 %, 2.5 %, …) whose labels do not
    /// touch, placed where their memory is.</summary>
    private static NumericManual SavingTicks(double left, double right, double fpKiB)
    {
        double minGap = (right - left) * 0.06;
        List<(double X, double Saving)> Ticks(double step)
        {
            var list = new List<(double, double)>();
            for (int k = 0; k * step < 1 - 1e-9; k++)
            {
                double x = Math.Log10(fpKiB * (1 - (k * step)));
                if (x >= left && x <= right)
                {
                    list.Add((x, k * step));
                }
            }

            return list;
        }

        var chosen = new List<(double X, double Saving)>();
        foreach (double step in new[] { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5 })
        {
            chosen = Ticks(step);
            if (chosen.Zip(chosen.Skip(1)).All(p => Math.Abs(p.First.X - p.Second.X) >= minGap))
            {
                break;
            }
        }

        var ticks = new NumericManual();
        foreach (var (x, saving) in chosen)
        {
            ticks.AddMajor(x, saving.ToString("0.#%", CultureInfo.InvariantCulture));
        }

        return ticks;
    }
}
