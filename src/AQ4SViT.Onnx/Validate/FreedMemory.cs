using System.Runtime.InteropServices;

namespace AQ4SViT.Onnx.Validate;

/// <summary>
/// Between the phases of a command that runs several large engines one after the other (<c>validate</c>: ONNX Runtime on
/// two files, then our simulator), gives memory the finished phase freed back to the system, so that the next phase does
/// not stack on top of it: a full, aggressive collection of the managed heap (a forced one alone left the 266 MB
/// protobuf of spikformer-8-768 resident: the collector kept the memory committed), then glibc's <c>malloc_trim</c> for what ONNX Runtime
/// freed (glibc otherwise keeps freed heap pages mapped). Elsewhere than glibc Linux only the collection runs.
/// </summary>
public static partial class FreedMemory
{
    public static void Release()
    {
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        if (OperatingSystem.IsLinux())
        {
            try
            {
                _ = MallocTrim(0);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // musl and others: nothing to trim
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
