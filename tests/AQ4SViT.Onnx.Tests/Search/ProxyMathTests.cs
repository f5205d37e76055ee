using AQ4SViT.Onnx.Search;

namespace AQ4SViT.Onnx.Tests.Search;

public sealed class ProxyMathTests
{
    [Fact]
    public void MembraneDrift_TwoTerms_IsMeanOfRelativeSquaredErrors()
    {
        var drift = new MembraneDrift();
        drift.Add([1f, 2f], [1f, 1f]);        // ‖(0,1)‖² / ‖(1,1)‖² = 1/2
        drift.Add([0f, 0f, 3f], [0f, 0f, 2f]); // 1/4

        Assert.Equal((0.5 + 0.25) / 2, drift.Drift, 12);
    }

    [Fact]
    public void MembraneDrift_IdenticalPotentials_IsZero()
    {
        var drift = new MembraneDrift();
        drift.Add(0, MembraneDrift.Sums([0.3f, -1f, 2f], [0.3f, -1f, 2f], threshold: 1f));

        Assert.Equal(0, drift.Drift);
        Assert.Equal(0, drift.SpikeMismatch);
    }

    [Fact]
    public void MembraneDrift_SpikeMismatch_CountsDifferingOutputs()
    {
        var drift = new MembraneDrift();
        // Spikes fire where V ≥ 1: quantized (1, 0, 1, 0) against reference (1, 1, 0, 0).
        drift.Add(0, MembraneDrift.Sums([1.2f, 0.4f, 1f, 0f], [1.5f, 1f, 0.9f, -0.3f], threshold: 1f));

        Assert.Equal(0.5, drift.SpikeMismatch, 12);
    }

    [Fact]
    public void Spearman_HandComputed()
    {
        // Ranks x: 1 2 3 4 5, y: 2 1 4 3 5 → Σd² = 4 → ρ = 1 − 6·4/(5·24) = 0.8
        Assert.Equal(0.8, Statistics.Spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50]), 12);
        Assert.Equal(-1.0, Statistics.Spearman([1, 2, 3], [3, 2, 1]), 12);
        Assert.True(double.IsNaN(Statistics.Spearman([1, 2], [1, 2])));
    }

    [Fact]
    public void Ranks_Ties_GetMeanRank()
    {
        Assert.Equal([1.0, 2.5, 2.5, 4.0], Statistics.Ranks([1, 5, 5, 9]));
    }

    [Fact]
    public void Gate_LearnsSmallestFailureAboveAllPasses()
    {
        var gate = new DriftGate();
        Assert.True(gate.Admits(1e9));

        gate.Learn(0.10, passed: true);
        gate.Learn(0.05, passed: false); // below a passing drift: no evidence about larger drifts
        Assert.True(double.IsPositiveInfinity(gate.Threshold));

        gate.Learn(0.40, passed: false);
        gate.Learn(0.30, passed: false);
        Assert.Equal(0.30, gate.Threshold, 12);
        Assert.True(gate.Admits(0.29));
        Assert.False(gate.Admits(0.31));

        gate.Learn(0.35, passed: true);  // a pass above 0.30 lifts the threshold to the next failure
        Assert.Equal(0.40, gate.Threshold, 12);
    }

    [Fact]
    public void Gate_Disabled_AdmitsEverything()
    {
        var gate = new DriftGate(enabled: false);
        gate.Learn(0.1, passed: false);
        Assert.True(gate.Admits(10));
    }
}
