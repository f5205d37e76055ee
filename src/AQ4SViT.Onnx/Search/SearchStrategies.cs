using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Search;

/// <summary>The strategies' names in the CLI's spelling (<c>--strategy</c>), both ways.</summary>
public static class SearchStrategies
{
    public static string Name(SearchStrategy strategy) => strategy switch
    {
        SearchStrategy.Greedy => "greedy",
        SearchStrategy.Beam => "beam",
        SearchStrategy.Sensitivity => "sensitivity",
        SearchStrategy.GreedyUngated => "greedy-ungated",
        _ => throw new ArgumentOutOfRangeException(nameof(strategy)),
    };

    public static SearchStrategy Parse(string text) => text.ToLowerInvariant() switch
    {
        "greedy" => SearchStrategy.Greedy,
        "beam" => SearchStrategy.Beam,
        "sensitivity" => SearchStrategy.Sensitivity,
        "greedy-ungated" => SearchStrategy.GreedyUngated,
        _ => Throw.BadInput<SearchStrategy>($"--strategy must be greedy, beam, sensitivity or greedy-ungated, got '{text}'"),
    };
}
