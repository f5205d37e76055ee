namespace AQ4SViT.Onnx.Search;

internal sealed partial class BeamSearch
{
    /// <summary>
    /// The pool of one round, tried smallest first. From each beam state: its one-step moves and the longest prefixes of
    /// their ranking by memory saved per unit of drift, as combined candidates. A one-step move's drift increment (its drift
    /// minus its parent's) is measured once per phase, the first time the move is offered; later parents reuse it, so a
    /// candidate's drift is first an estimate (parent's drift plus its moves' increments) that ranks it and pre-screens it
    /// at the gate. Only a candidate the estimate admits is measured before the gate decides on it.
    /// <para>
    /// A state's candidates are built only when the smallest-first order could reach them: none is smaller than the state
    /// with every group at its lowest offered width, so a state whose bound is above the next candidate waits. Its moves
    /// are measured then, or never if the round ends first (the beam's larger states rarely get that far). Within the
    /// round the order is that of building every state at once: states are built in beam order, from the moves, marks and
    /// increments as they stood when the round began. A move left unmeasured may be measured in a later round from another
    /// state; where drift is not additive, later estimates can then differ from those of building every state.
    /// </para>
    /// </summary>
    private sealed class RoundPool
    {
        private readonly BeamSearch _search;
        private readonly SearchContext _context;
        private readonly List<BitVector> _beam;
        private readonly List<List<(SearchGroup Group, int Current, int Bits, BitVector Setting)>> _movesOf;
        private readonly long[] _smallestChild;
        private readonly HashSet<string> _visitedAtStart;
        private readonly Dictionary<(string Group, int From, int To), double> _increments;
        private readonly HashSet<string> _offered = new(StringComparer.Ordinal);
        private readonly SortedSet<Candidate> _pending = new(Comparer<Candidate>.Create(SmallestFirst));
        private int _expanded;

        public RoundPool(BeamSearch search, SearchContext context, List<BitVector> beam, IReadOnlyList<SearchGroup> groups, int[] levels, bool everyLevel, HashSet<string> visited)
        {
            _search = search;
            _context = context;
            _beam = beam;
            _visitedAtStart = new HashSet<string>(visited, StringComparer.Ordinal);
            _increments = new Dictionary<(string, int, int), double>(search._increments);
            var parameters = context.Backend.WeightParams;
            _movesOf = beam.Select(state => search.OneStepMoves(state, groups, levels, everyLevel, visited)).ToList();
            _smallestChild = beam.Select((state, b) => SmallestChild(state, _movesOf[b], parameters)).ToArray();
            foreach (var state in beam)
            {
                context.Journal.HintParent(state);
            }

            while (search.BuildWholePool && _expanded < beam.Count)
            {
                Expand(_expanded++);
            }
        }

        /// <summary>The candidates in line after the one <see cref="Next"/> gave last (those built so far).</summary>
        public IEnumerable<Candidate> Upcoming => _pending;

        /// <summary>The smallest candidate not yet given; null when none is left.</summary>
        public Candidate? Next()
        {
            while (_expanded < _beam.Count && (_pending.Count == 0 || SmallestUnexpanded() <= _pending.Min!.TotalBits))
            {
                Expand(_expanded++);
            }

            if (_pending.Count == 0)
            {
                return null;
            }

            var next = _pending.Min!;
            _pending.Remove(next);
            return next;
        }

        private static int SmallestFirst(Candidate a, Candidate b)
        {
            int c = a.TotalBits.CompareTo(b.TotalBits);
            c = c != 0 ? c : a.Proxy.Drift.CompareTo(b.Proxy.Drift);
            return c != 0 ? c : string.CompareOrdinal(a.Setting.Key, b.Setting.Key);
        }

        private long SmallestUnexpanded()
        {
            long smallest = long.MaxValue;
            for (int b = _expanded; b < _beam.Count; b++)
            {
                smallest = Math.Min(smallest, _smallestChild[b]);
            }

            return smallest;
        }

        /// <summary>Every weight at the lowest width any move of <paramref name="state"/> offers it: no candidate is smaller.</summary>
        private static long SmallestChild(BitVector state, List<(SearchGroup Group, int Current, int Bits, BitVector Setting)> moves, IReadOnlyList<long> parameters)
        {
            var lowest = state.Bits.ToArray();
            foreach (var (group, _, bits, _) in moves)
            {
                foreach (int w in group.Weights)
                {
                    lowest[w] = Math.Min(lowest[w], bits);
                }
            }

            return new BitVector(lowest).TotalBits(parameters);
        }

        private void Offer(Candidate candidate)
        {
            if (_offered.Add(candidate.Setting.Key))
            {
                _pending.Add(candidate);
            }
        }

        private void Expand(int b)
        {
            var parameters = _context.Backend.WeightParams;
            var state = _beam[b];
            var moves = _movesOf[b];
            _context.Journal.PrefetchProxies(moves.Where(m => !_increments.ContainsKey((m.Group.Name, m.Current, m.Bits))).Select(m => m.Setting), _context.Cancellation);
            double stateDrift = _search.DriftOf(state);
            var singles = new List<(Candidate Candidate, SearchGroup Group, int Bits, double Increment, double Ratio)>();
            foreach (var (group, current, bits, setting) in moves)
            {
                var move = (group.Name, current, bits);
                var candidate = new Candidate(setting, new ProxyScore(0, 0), $"{group.Name}:{current}->{bits}", setting.TotalBits(parameters), state, move, Estimated: true);
                if (_increments.TryGetValue(move, out double known))
                {
                    candidate = candidate with { Proxy = new ProxyScore(stateDrift + known, double.NaN) };
                }
                else
                {
                    candidate = _search.Measured(candidate);
                    _increments[move] = _search._increments[move];
                }

                double increment = Math.Max(0, candidate.Proxy.Drift - stateDrift);
                long saved = state.TotalBits(parameters) - setting.TotalBits(parameters);
                singles.Add((candidate, group, bits, increment, saved / (increment + MembraneDrift.Epsilon)));
            }

            foreach (var single in singles)
            {
                Offer(single.Candidate);
            }

            // Longest prefixes of the saving-per-drift ranking as combined candidates (one group moves once).
            var ranked = singles.OrderByDescending(s => s.Ratio).DistinctBy(s => s.Group.Name).ToList();
            for (int m = ranked.Count; m >= 2; m = (m + 1) / 2)
            {
                var setting = state;
                double drift = stateDrift;
                foreach (var (_, group, bits, increment, _) in ranked.Take(m))
                {
                    setting = setting.With(group.Weights, bits);
                    drift += increment;
                }

                if (!_visitedAtStart.Contains(setting.Key))
                {
                    Offer(new Candidate(setting, new ProxyScore(drift, double.NaN), $"top {m} moves", setting.TotalBits(parameters), state, Estimated: true));
                }

                if (m == 2)
                {
                    break;
                }
            }
        }
    }
}
