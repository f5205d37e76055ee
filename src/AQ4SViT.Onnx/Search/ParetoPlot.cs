using ScottPlot;

namespace AQ4SViT.Onnx.Search;

/// <summary><c>pareto.png</c>: weight memory against search-split accuracy of every fully evaluated candidate, the chosen one marked.</summary>
public static class ParetoPlot
{
    public static byte[] Render(IReadOnlyList<(long TotalBits, double Accuracy)> points, (long TotalBits, double Accuracy) chosen, double fpAccuracy, double maxDrop, string title)
    {
        var plot = new Plot();
        double[] xs = points.Select(p => p.TotalBits / 8.0 / 1024.0).ToArray();
        double[] ys = points.Select(p => p.Accuracy * 100).ToArray();
        var all = plot.Add.ScatterPoints(xs, ys);
        all.LegendText = "fully evaluated candidates";
        all.MarkerSize = 6;

        var best = plot.Add.Marker(chosen.TotalBits / 8.0 / 1024.0, chosen.Accuracy * 100, MarkerShape.FilledDiamond, 14, Colors.Red);
        best.LegendText = "chosen";

        var budget = plot.Add.HorizontalLine((fpAccuracy * 100) - maxDrop);
        budget.LegendText = $"float − {maxDrop:0.##} points";
        budget.LinePattern = LinePattern.Dashed;

        plot.Title(title);
        plot.XLabel("weight memory (KiB, Σ params·bits / 8)");
        plot.YLabel("top-1 on the search split (%)");
        plot.ShowLegend(Alignment.LowerRight);
        return plot.GetImageBytes(900, 600, ImageFormat.Png);
    }
}
