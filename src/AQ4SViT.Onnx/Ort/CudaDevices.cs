using System.Runtime.InteropServices;

namespace AQ4SViT.Onnx.Ort;

/// <summary>
/// How many CUDA devices this process sees (<c>--device cuda:all</c>), asked of the CUDA runtime the GPU build's provider
/// links against; 0 on the CPU build, or when the runtime is missing or finds no device.
/// </summary>
public static class CudaDevices
{
    private static readonly string[] s_runtimes = ["libcudart.so.13", "libcudart.so", "cudart64_13.dll"];

    private delegate int GetDeviceCount(out int count);

    public static int Count()
    {
        if (!OrtSessions.HasCudaProvider)
        {
            return 0;
        }

        foreach (string name in s_runtimes)
        {
            if (NativeLibrary.TryLoad(name, out var library) && NativeLibrary.TryGetExport(library, "cudaGetDeviceCount", out var export))
            {
                // cudaSuccess is 0; any error (no driver, no device) means none usable.
                return Marshal.GetDelegateForFunctionPointer<GetDeviceCount>(export)(out int count) == 0 ? count : 0;
            }
        }

        return 0;
    }
}
