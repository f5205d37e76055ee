using AQ4SViT.Onnx.Simulate;

namespace AQ4SViT.Onnx.Search;

/// <summary>A run of the calibration batch kept for prefix reuse: its setting, the values recorded before the later weight readers, its score and every LIF layer's drift term.</summary>
internal sealed record KeptRun(BitVector Setting, Simulator.Prefix Prefix, ProxyScore Score, MembraneDrift.Term[] Terms);

/// <summary>
/// Prefix reuse for drift proxies: the float model's run and those of the latest hinted parents are kept
/// (<see cref="KeptRun"/>); a candidate then starts from the kept run that shares its longest unchanged prefix, at the
/// latest recorded node before the first node that reads a weight it changes.
/// </summary>
/// <param name="floatRun">The float model's kept run (always kept).</param>
/// <param name="firstReader">Per weight, the index of the first node that reads it (negative: none).</param>
/// <param name="recordedNodes">The nodes before which runs record the values alive, in order.</param>
/// <param name="run">Runs a parent on the calibration batch, recording its prefixes and drift terms.</param>
internal sealed class KeptPrefixes(KeptRun floatRun, int[] firstReader, int[] recordedNodes, Func<BitVector, KeptRun> run)
{
    private readonly Lock _gate = new();
    private readonly List<KeptRun> _parents = [];
    private readonly List<BitVector> _hints = [];

    /// <summary>Parents whose prefixes are kept: the beam's width (each kept run holds the calibration batch's activations).</summary>
    public int Capacity { get; set; } = 4;

    /// <summary>Proxies that started from a kept prefix (diagnostics).</summary>
    public int Reuses { get; private set; }

    /// <summary>Floats held by kept prefixes now.</summary>
    public long KeptFloats
    {
        get
        {
            lock (_gate)
            {
                return floatRun.Prefix.Floats + _parents.Sum(p => p.Prefix.Floats);
            }
        }
    }

    /// <summary>Remembers <paramref name="parent"/>, whose children come next: its run is kept the first time it pays.</summary>
    public void Hint(BitVector parent)
    {
        lock (_gate)
        {
            if (!_hints.Contains(parent))
            {
                _hints.Add(parent);
                if (_hints.Count > Capacity)
                {
                    _hints.RemoveAt(0);
                }
            }
        }
    }

    /// <summary>
    /// The kept run sharing the longest unchanged prefix with <paramref name="setting"/> and the recorded node to start at
    /// (<see cref="int.MaxValue"/>: the same setting); keeps a hinted parent first when it would do better. Null: run whole.
    /// </summary>
    public (KeptRun Run, int Node)? Best(BitVector setting)
    {
        lock (_gate)
        {
            (KeptRun Run, int Node)? best = null;
            foreach (var kept in _parents.Prepend(floatRun))
            {
                if (StartNode(kept.Setting, setting) is int node && node > (best?.Node ?? -1))
                {
                    best = (kept, node);
                }
            }

            BitVector? toKeep = null;
            foreach (var hint in _hints)
            {
                if (_parents.All(p => !p.Setting.Equals(hint)) && !hint.Equals(floatRun.Setting)
                    && StartNode(hint, setting) is int hinted && hinted > (best?.Node ?? -1))
                {
                    (toKeep, best) = (hint, (null!, hinted));
                }
            }

            if (toKeep is not null)
            {
                best = (Keep(toKeep), best!.Value.Node);
            }

            if (best is { } b)
            {
                // Most recently useful last, so that the oldest is dropped first.
                if (_parents.Remove(b.Run))
                {
                    _parents.Add(b.Run);
                }

                Reuses++;
            }

            return best;
        }
    }

    /// <summary>The latest recorded node before which <paramref name="kept"/> and <paramref name="setting"/> read the same weights.</summary>
    private int? StartNode(BitVector kept, BitVector setting)
    {
        int firstChange = int.MaxValue;
        for (int w = 0; w < setting.Count; w++)
        {
            if (kept[w] != setting[w] && firstReader[w] >= 0)
            {
                firstChange = Math.Min(firstChange, firstReader[w]);
            }
        }

        if (firstChange == int.MaxValue)
        {
            return int.MaxValue;
        }

        int at = Array.BinarySearch(recordedNodes, firstChange);
        at = at >= 0 ? at : ~at - 1;
        return at >= 0 ? recordedNodes[at] : null;
    }

    /// <summary>Runs <paramref name="parent"/> on the calibration batch, keeping its prefixes and drift terms.</summary>
    private KeptRun Keep(BitVector parent)
    {
        var kept = run(parent);
        _parents.Add(kept);
        if (_parents.Count > Capacity)
        {
            _parents.RemoveAt(0);
        }

        return kept;
    }
}
