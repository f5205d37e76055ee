using AQ4SViT.Onnx.Core;
using AQ4SViT.Onnx.Search;

namespace AQ4SViT.Onnx.Tests.Search;

/// <summary>The search's option checks live in the library (issue 22): one list of bit-widths, the limits' messages as the CLI prints them.</summary>
public sealed class SearchOptionsValidationTests
{
    [Fact]
    public void ParseBits_TwoToEightAndSixteen_Accepted()
    {
        Assert.Equal([2, 3, 4, 5, 6, 7, 8, 16], SearchOptions.ParseBits("2, 3,4,5,6,7,8,16"));
    }

    [Theory]
    [InlineData("1")]
    [InlineData("9")]
    [InlineData("15")]
    [InlineData("17")]
    [InlineData("x")]
    public void ParseBits_OtherWidth_RefusedNamingIt(string part)
    {
        var e = Assert.Throws<BadInputException>(() => SearchOptions.ParseBits($"4,{part}"));

        Assert.Equal($"--bits: '{part}' is not a bit-width in 2–8 or 16", e.Message);
    }

    [Fact]
    public void ParseBits_Empty_Refused()
    {
        var e = Assert.Throws<BadInputException>(() => SearchOptions.ParseBits(" , "));

        Assert.Equal("--bits: give at least one bit-width", e.Message);
    }

    [Fact]
    public void Validate_WidthTheQuantizerCannotHandle_Refused()
    {
        var e = Assert.Throws<BadInputException>(() => new SearchOptions { Bits = [4, 12] }.Validate());

        Assert.Contains("12", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckLimits_NegativeCountOrZeroBatchOrJobs_RefusedWithTheValuesGiven()
    {
        SearchJob.CheckLimits(0, 0, null, 1, 1);

        var limits = Assert.Throws<BadInputException>(() => SearchJob.CheckLimits(-1, 0, 5, 100, 1));
        var jobs = Assert.Throws<BadInputException>(() => SearchJob.CheckLimits(0, 0, null, 1, 0));

        Assert.Equal("--search-limit, --test-limit and --confirm must be ≥ 0 and --batch ≥ 1 (got -1, 0, 5, 100)", limits.Message);
        Assert.Equal("--jobs must be at least 1, got 0", jobs.Message);
    }
}
