namespace AQ4SViT.Cli.Commands;

/// <summary>Exit codes of the contract in DESIGN.md.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int BadInput = 3;
    public const int Interrupted = 130;
}
