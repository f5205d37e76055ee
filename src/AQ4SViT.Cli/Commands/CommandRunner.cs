using AQ4SViT.Onnx.Core;


namespace AQ4SViT.Cli.Commands;

/// <summary>Runs a verb and turns failures into one-line messages and the contract's exit codes.</summary>
internal static class CommandRunner
{
    public static int Run(ICommand command, IReadOnlyList<string> arguments)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // First Ctrl-C: let the command checkpoint and stop; a second one kills the process.
            if (!cancel.IsCancellationRequested)
            {
                e.Cancel = true;
                cancel.Cancel();
            }
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return command.Run(new CommandContext(Console.Out, Console.Error, cancel.Token) { Arguments = arguments });
        }
        catch (BadInputException e)
        {
            Console.Error.WriteLine($"aq4svit: error: {OneLine(e.Message)}");
            return ExitCodes.BadInput;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("aq4svit: interrupted");
            return ExitCodes.Interrupted;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"aq4svit: internal error: {e.GetType().Name}: {OneLine(e.Message)}");
            if (Environment.GetEnvironmentVariable("AQ4SVIT_DEBUG") == "1")
            {
                Console.Error.WriteLine(e);
            }

            return ExitCodes.Failure;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
