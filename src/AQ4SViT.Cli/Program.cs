using AQ4SViT.Cli.Commands;
using CommandLine;

namespace AQ4SViT.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        // No help writer: Usage decides where help goes (stdout when asked for, stderr with a usage error).
        using var parser = new Parser(settings =>
        {
            settings.HelpWriter = null;
            settings.CaseInsensitiveEnumValues = true;
            settings.AllowMultiInstance = true; // --keep and --pin repeat (SearchCommand reads every occurrence)
        });
        var result = parser.ParseArguments(args, CommandCatalog.Verbs);
        return result.MapResult(
            (object verb) => CommandRunner.Run((ICommand)verb, args),
            errors => Usage.Report(result, errors, Console.Out, Console.Error));
    }
}
