namespace AQ4SViT.Onnx.Graph;

internal static partial class LifRecognizer
{
    /// <summary>
    /// One step's membrane potential as the export computes it: a small tree of Add/Sub/Mul/Div/Neg/Identity over the
    /// step before's membrane v and spike s (leaves), scalar constants (an initial fill counts as its value) and exactly
    /// one other value, the step's input x. Evaluated in float like the graph, so that what the neuron computes can be
    /// compared with the kernel's update on any (v, s, x), whatever the node shapes of the export.
    /// </summary>
    private sealed class StepExpression
    {
        private const int MaxTerms = 64;
        private const int MaxDepth = 24;

        private enum Kind
        {
            Leaf,
            Input,
            Const,
            Add,
            Sub,
            Mul,
            Div,
            Neg,
        }

        private readonly record struct Term(Kind Kind, int A, int B, float Value);

        private readonly List<Term> _terms = [];
        private readonly Dictionary<string, int> _seen = new(StringComparer.Ordinal);
        private float[] _values = [];
        private int _root;

        private StepExpression(int leaves) => Leaves = leaves;

        /// <summary>How many of (v, s) the expression takes: 0 at step 0, 2 after.</summary>
        public int Leaves { get; }

        /// <summary>Scalar constants the export used (candidates for the kernel's exact constants).</summary>
        public List<float> Constants { get; } = [];

        public static StepExpression? Build(string root, string[] leaves, GraphMatcher c, HashSet<Node> used, out string? input, out string? why)
        {
            var e = new StepExpression(leaves.Length);
            string? x = null;
            string? failure = null;
            var nodes = new HashSet<Node>();

            int Visit(string value, int depth)
            {
                if (failure is not null)
                {
                    return 0;
                }

                if (e._seen.TryGetValue(value, out int known))
                {
                    return known;
                }

                if (depth > MaxDepth || e._terms.Count >= MaxTerms)
                {
                    failure = "the update is larger than any neuron's";
                    return 0;
                }

                int index = Array.IndexOf(leaves, value);
                Term term;
                if (index >= 0)
                {
                    term = new Term(Kind.Leaf, index, 0, 0f);
                }
                else if (c.Scalar(value) is { } k)
                {
                    e.Constants.Add(k);
                    term = new Term(Kind.Const, 0, 0, k);
                }
                else if (InitialFill(c, value, nodes) is { } fill)
                {
                    term = new Term(Kind.Const, 0, 0, fill);
                }
                else if (c.Index.Producer(value) is { OpType: "Add" or "Sub" or "Mul" or "Div", Inputs.Length: 2 } p)
                {
                    nodes.Add(p);
                    int a = Visit(p.Inputs[0], depth + 1);
                    int b = Visit(p.Inputs[1], depth + 1);
                    term = new Term(p.OpType switch { "Add" => Kind.Add, "Sub" => Kind.Sub, "Mul" => Kind.Mul, _ => Kind.Div }, a, b, 0f);
                }
                else if (c.Index.Producer(value) is { OpType: "Neg" or "Identity", Inputs.Length: 1 } q)
                {
                    nodes.Add(q);
                    int a = Visit(q.Inputs[0], depth + 1);
                    if (q.OpType == "Identity")
                    {
                        e._seen[value] = a;
                        return a;
                    }

                    term = new Term(Kind.Neg, a, 0, 0f);
                }
                else if (x is null || x == value)
                {
                    x = value;
                    term = new Term(Kind.Input, 0, 0, 0f);
                }
                else
                {
                    failure = $"it reads two values that are neither constants nor the step before's state ('{x}', '{value}')";
                    return 0;
                }

                e._terms.Add(term);
                e._seen[value] = e._terms.Count - 1;
                return e._terms.Count - 1;
            }

            e._root = Visit(root, 0);
            input = x;
            why = failure;
            if (failure is not null)
            {
                return null;
            }

            used.UnionWith(nodes);
            e._values = new float[e._terms.Count];
            return e;
        }

        /// <summary>The membrane after this step's charge, for the step before's (v, s) and this step's x, in float.</summary>
        public float Eval(float v, float s, float x)
        {
            var vals = _values;
            for (int i = 0; i < _terms.Count; i++)
            {
                var t = _terms[i];
                vals[i] = t.Kind switch
                {
                    Kind.Leaf => t.A == 0 ? v : s,
                    Kind.Input => x,
                    Kind.Const => t.Value,
                    Kind.Add => vals[t.A] + vals[t.B],
                    Kind.Sub => vals[t.A] - vals[t.B],
                    Kind.Mul => vals[t.A] * vals[t.B],
                    Kind.Div => vals[t.A] / vals[t.B],
                    _ => -vals[t.A],
                };
            }

            return vals[_root];
        }
    }
}
