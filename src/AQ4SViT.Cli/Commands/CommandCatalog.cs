namespace AQ4SViT.Cli.Commands;

/// <summary>Every verb of the <c>aq4svit</c> command, in the order <c>--help</c> lists them.</summary>
internal static class CommandCatalog
{
    public static Type[] Verbs { get; } =
    [
        typeof(InspectCommand),
        typeof(EvalCommand),
        typeof(SearchCommand),
        typeof(ApplyCommand),
        typeof(ValidateCommand),
        typeof(BenchCommand),
    ];
}
