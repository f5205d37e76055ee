using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Tests.Validate;

/// <summary>The native heap settings ONNX Runtime's large models rely on (see <see cref="FreedMemory"/>).</summary>
public sealed class FreedMemoryTests
{
    [Fact]
    public void OnGlibcLinux_TheEagerReturnOfLargeBlocksIsAccepted()
    {
        // mallopt answers 1 only for a parameter number and value it accepts: this checks the binding and the numbers.
        bool glibc = OperatingSystem.IsLinux() && (File.Exists("/lib/x86_64-linux-gnu/libc.so.6") || File.Exists("/lib/aarch64-linux-gnu/libc.so.6"));
        Assert.Equal(glibc, FreedMemory.ReturnLargeBlocksEagerly());
    }
}
