using Microsoft.ML.OnnxRuntime;
using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Ort;

/// <summary>
/// Opens ONNX Runtime sessions on a <see cref="ComputeDevice"/>. CUDA needs the GPU build (<c>-p:OrtGpu=true</c>, on
/// <c>Microsoft.ML.OnnxRuntime.Gpu</c> 1.31), the CUDA 13 libraries (cudart, cuBLAS, cuDNN) it links against, and a GPU;
/// when any is missing the session opens on the CPU instead and the caller is told once, in one line. ONNX Runtime's own multi-line log of the failed provider
/// load is silenced while CUDA is tried.
/// </summary>
internal static class OrtSessions
{
    private static readonly Lock s_logGate = new();

    /// <summary>
    /// The device sessions will really use: <paramref name="requested"/> when it is the CPU or its CUDA provider loads,
    /// else the CPU (and <paramref name="onFallback"/> hears why). Checks the provider library only; a session may still
    /// fall back when it finds no GPU (<see cref="Open"/> handles that).
    /// </summary>
    public static ComputeDevice Resolve(ComputeDevice requested, Action<string>? onFallback)
    {
        if (!requested.IsCuda)
        {
            return requested;
        }

        using var options = new SessionOptions();
        string? reason = TryAppendCuda(options, requested.Index);
        if (reason is null)
        {
            return requested;
        }

        onFallback?.Invoke(FallbackMessage(requested, reason));
        return ComputeDevice.Cpu;
    }

    /// <summary>
    /// Opens <paramref name="modelPath"/> on <paramref name="device"/>, falling back to the CPU (one line to
    /// <paramref name="onFallback"/>) when CUDA cannot be used. With <paramref name="modelBytes"/>, the session opens that
    /// serialized model instead (e.g. with a candidate's weights in place) and the path only names it in messages.
    /// A model ONNX Runtime rejects is bad input.
    /// </summary>
    public static (InferenceSession Session, ComputeDevice Device) Open(
        string modelPath,
        ComputeDevice device,
        int threads,
        GraphOptimizationLevel optimization,
        IReadOnlyDictionary<string, string>? sessionConfig = null,
        Action<string>? onFallback = null,
        byte[]? modelBytes = null)
    {
        if (modelBytes is null && !File.Exists(modelPath))
        {
            Throw.FileMissing(modelPath, "model");
        }

        FreedMemory.ReturnLargeBlocksEagerly();

        if (device.IsCuda)
        {
            var options = CreateOptions(threads, optimization, sessionConfig);
            string? reason = TryAppendCuda(options, device.Index);
            if (reason is null)
            {
                try
                {
                    return (Session(modelPath, modelBytes, options), device);
                }
                catch (OnnxRuntimeException e) when (DeviceMemory.IsOutOfMemory(e))
                {
                    // The weights alone do not fit: the CPU would be a silent change of machine, say so instead.
                    options.Dispose();
                    return Throw.BadInput<(InferenceSession, ComputeDevice)>($"{modelPath}: the model does not fit in the memory of {device} ({FirstLine(e.Message)}): use --device cpu", e);
                }
                catch (OnnxRuntimeException e)
                {
                    reason = FirstLine(e.Message);
                }
            }

            options.Dispose();
            onFallback?.Invoke(FallbackMessage(device, reason));
        }

        try
        {
            return (Session(modelPath, modelBytes, CreateOptions(threads, optimization, sessionConfig)), ComputeDevice.Cpu);
        }
        catch (OnnxRuntimeException e)
        {
            return Throw.BadInput<(InferenceSession, ComputeDevice)>($"{modelPath}: ONNX Runtime cannot load the model: {FirstLine(e.Message)}", e);
        }
    }

    /// <summary>The one line a fallback prints, e.g. "cuda:0 is not available (…); running on the CPU".</summary>
    public static string FallbackMessage(ComputeDevice device, string reason) =>
        reason.Contains("load", StringComparison.OrdinalIgnoreCase)
            ? $"{device} is not available ({reason}: ONNX Runtime's CUDA provider needs the CUDA 13 and cuDNN 9 libraries); running on the CPU"
            : $"{device} is not available ({reason}); running on the CPU";

    private static InferenceSession Session(string modelPath, byte[]? modelBytes, SessionOptions options) =>
        modelBytes is null ? new InferenceSession(modelPath, options) : new InferenceSession(modelBytes, options);

    private static SessionOptions CreateOptions(int threads, GraphOptimizationLevel optimization, IReadOnlyDictionary<string, string>? sessionConfig)
    {
        // No memory pattern: planned from the first run, it reserved one block for all activations at once
        // (spikformer-2-768 at 224×224: 605 MB peak with it, 489 MB without); spikformer-fmnist ran as fast without it
        // (600 images, 2 threads: 47–49 against 46 images/s).
        var options = new SessionOptions { GraphOptimizationLevel = optimization, EnableMemoryPattern = false };
        if (threads > 0)
        {
            options.IntraOpNumThreads = threads;
            options.InterOpNumThreads = 1;
        }

        foreach (var (key, value) in sessionConfig ?? new Dictionary<string, string>())
        {
            options.AddSessionConfigEntry(key, value);
        }

        return options;
    }

    /// <summary>Whether this build carries ONNX Runtime's CUDA provider (the <c>-p:OrtGpu=true</c> build, tool AQ4SViT.Cli.Gpu).</summary>
    public static bool HasCudaProvider { get; } = OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider");

    /// <summary>Why the CPU build cannot run CUDA, and how to get the build that can.</summary>
    public const string CpuBuildReason =
        "this aq4svit is built on ONNX Runtime's CPU package; for CUDA install the tool AQ4SViT.Cli.Gpu or build with -p:OrtGpu=true";

    /// <summary>Adds the CUDA provider; null on success, else the first line of why not.</summary>
    private static string? TryAppendCuda(SessionOptions options, int index)
    {
        if (!HasCudaProvider)
        {
            return CpuBuildReason;
        }

        // The provider bridge logs its load failure (several lines, in colour) through the environment's logger
        // before the call returns its error: silence it for this call only, the caller prints one line.
        lock (s_logGate)
        {
            var env = OrtEnv.Instance();
            var level = env.EnvLogLevel;
            env.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
            try
            {
                // TF32 is ONNX Runtime's default on Ampere and later: 10-bit mantissas in Conv and MatMul flip spikes
                // near the threshold (10,000 Fashion-MNIST images: 92.16% against the CPU's 91.99%). Full FP32 instead.
                using var cuda = new OrtCUDAProviderOptions();
                cuda.UpdateOptions(new Dictionary<string, string>
                {
                    ["device_id"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["use_tf32"] = "0",
                });
                options.AppendExecutionProvider_CUDA(cuda);
                return null;
            }
            catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
            {
                return FirstLine(e.Message);
            }
            finally
            {
                env.EnvLogLevel = level;
            }
        }
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
