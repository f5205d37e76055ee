using AQ4SViT.Cli.Commands;
using CommandLine;

namespace AQ4SViT.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        using var parser = new Parser(settings =>
        {
            settings.HelpWriter = Console.Error;
            settings.CaseInsensitiveEnumValues = true;
        });
        return parser.ParseArguments(args, CommandCatalog.Verbs)
            .MapResult(
                (object verb) => CommandRunner.Run((ICommand)verb),
                errors => errors.All(e => e.Tag is ErrorType.HelpRequestedError or ErrorType.HelpVerbRequestedError or ErrorType.VersionRequestedError)
                    ? ExitCodes.Success
                    : ExitCodes.Usage);
    }
}
