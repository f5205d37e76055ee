using BenchmarkDotNet.Running;

namespace AQ4SViT.Onnx.Benchmarks;

public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
