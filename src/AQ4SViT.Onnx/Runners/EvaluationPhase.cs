using AQ4SViT.Onnx.Validate;

namespace AQ4SViT.Onnx.Runners;

/// <summary>
/// Runs one named evaluation of <paramref name="images"/> images: calls <paramref name="evaluate"/> with the progress to
/// report images done to (null: none). The CLI shows it live; <see cref="EvaluationPhases.Direct"/> just runs it.
/// </summary>
public delegate EvalResult EvaluationPhase(string label, int images, Func<IProgress<int>?, EvalResult> evaluate);

/// <summary>The <see cref="EvaluationPhase"/> without progress.</summary>
internal static class EvaluationPhases
{
    /// <summary>Runs the evaluation with no progress reported.</summary>
    public static EvaluationPhase Direct { get; } = (_, _, evaluate) => evaluate(null);
}
