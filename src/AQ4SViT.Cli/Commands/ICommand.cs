namespace AQ4SViT.Cli.Commands;

/// <summary>A parsed verb that can run. Returns the process exit code.</summary>
internal interface ICommand
{
    int Run(CommandContext context);
}
