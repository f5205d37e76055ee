using System.Runtime.ExceptionServices;

namespace AQ4SViT.Onnx.Search;

/// <summary>Runs independent evaluations of a search at once (<c>--jobs</c>).</summary>
internal static class Concurrently
{
    /// <summary>
    /// Runs <paramref name="work"/> over <paramref name="items"/>, at most <paramref name="jobs"/> at a time (a single item on
    /// this thread); the first failure is rethrown as itself, cancellation before the failures it caused.
    /// </summary>
    public static void ForEach<T>(IReadOnlyList<T> items, int jobs, Action<T> work, CancellationToken cancellation)
    {
        if (items.Count == 0)
        {
            return;
        }

        cancellation.ThrowIfCancellationRequested();
        if (items.Count == 1 || jobs <= 1)
        {
            foreach (var item in items)
            {
                work(item);
            }

            return;
        }

        try
        {
            Parallel.ForEach(items, new ParallelOptions { MaxDegreeOfParallelism = jobs, CancellationToken = cancellation }, work);
        }
        catch (AggregateException e)
        {
            var inner = e.Flatten().InnerExceptions;
            var first = inner.FirstOrDefault(x => x is OperationCanceledException) ?? inner[0];
            ExceptionDispatchInfo.Capture(first).Throw();
        }
    }
}
