using System.Runtime.InteropServices;

namespace AQ4SViT.Onnx.Core;

/// <summary>
/// Between the phases of a command that runs several large engines one after the other (<c>validate</c>: our simulator,
/// then ONNX Runtime on two files), gives memory the finished phase freed back to the system, so that the next phase does
/// not stack on top of it: the simulator's pooled buffers are dropped, the managed heap gets a full, aggressive collection
/// (a forced one alone left the 266 MB protobuf of spikformer-8-768 resident: the collector kept the memory committed),
/// then glibc's <c>malloc_trim</c> returns what ONNX Runtime freed (glibc otherwise keeps freed heap pages mapped).
/// Elsewhere than glibc Linux only the pool and the collection are released.
/// </summary>
internal static partial class FreedMemory
{
    private static readonly Lazy<bool> s_eager = new(SetEagerReturn);

    /// <summary>
    /// Makes glibc give large freed blocks straight back to the system, once per process, before ONNX Runtime allocates:
    /// blocks from 128 KiB get their own mapping and the heap's top is trimmed past 128 KiB. ONNX Runtime's first run
    /// otherwise left a fragmented heap: <c>eval --engine ort</c> on spikformer-8-768 peaked anywhere from 687 to 772 MB, with
    /// this at 616–618 MB, the logits bit-identical and spikformer-fmnist as fast (600 images: 49.0 and 50.1 against
    /// 50.1 and 47.4 images/s). Elsewhere than glibc Linux it does nothing. True when glibc took both settings.
    /// </summary>
    public static bool ReturnLargeBlocksEagerly() => s_eager.Value;

    private static bool SetEagerReturn()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            const int MmapThreshold = -3, TrimThreshold = -1; // M_MMAP_THRESHOLD, M_TRIM_THRESHOLD (malloc.h)
            return Mallopt(MmapThreshold, 128 * 1024) == 1 & Mallopt(TrimThreshold, 128 * 1024) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // musl and others
        }
    }

    public static void Release()
    {
        BufferPool<float>.Shared.Clear();
        BufferPool<int>.Shared.Clear();
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

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int param, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
