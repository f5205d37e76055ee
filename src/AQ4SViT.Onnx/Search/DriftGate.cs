namespace AQ4SViT.Onnx.Search;

/// <summary>
/// Decides which candidates are worth a full evaluation, learning from the (drift, passed) pairs of the run.
/// Rule (monotone and conservative): a candidate is rejected when its drift is at least τ·margin, where
/// τ is the smallest drift of a failed candidate that exceeds the drift of every passing one. Until a
/// candidate has failed above all passing drifts there is no evidence, and everything passes.
/// </summary>
internal sealed class DriftGate(double margin = 1.0, bool enabled = true)
{
    private double _maxPassing;
    private readonly List<double> _failing = [];

    public bool Enabled { get; } = enabled;

    /// <summary>The current threshold (∞ until learned).</summary>
    public double Threshold
    {
        get
        {
            double tau = double.PositiveInfinity;
            foreach (double f in _failing)
            {
                if (f > _maxPassing && f < tau)
                {
                    tau = f;
                }
            }

            return tau * margin;
        }
    }

    public bool Admits(double drift) => !Enabled || drift < Threshold;

    public void Learn(double drift, bool passed)
    {
        if (passed)
        {
            _maxPassing = Math.Max(_maxPassing, drift);
        }
        else
        {
            _failing.Add(drift);
        }
    }
}
