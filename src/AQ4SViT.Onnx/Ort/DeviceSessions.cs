using System.Collections.Concurrent;

namespace AQ4SViT.Onnx.Ort;

/// <summary>
/// One ONNX Runtime session per device of a <see cref="DevicePool"/>, opened at the device's first use and shared by every
/// evaluation placed there (a session runs concurrently). When CUDA turns out unusable, the pool falls back to the CPU and
/// <paramref name="onFallback"/> hears it once, however many sessions tried.
/// </summary>
/// <param name="open">Opens the session for a device; it passes the fallback line it is given to <see cref="OrtSessions.Open"/>.</param>
internal sealed class DeviceSessions<T>(DevicePool devices, Action<string>? onFallback, Func<ComputeDevice, Action<string>, T> open, Action<T> dispose) : IDisposable
{
    private readonly ConcurrentDictionary<ComputeDevice, Lazy<T>> _sessions = new();

    public T On(ComputeDevice device) => _sessions.GetOrAdd(device, d => new(() => open(d, OnFallback))).Value;

    public void Dispose()
    {
        foreach (var session in _sessions.Values.Where(s => s.IsValueCreated))
        {
            dispose(session.Value);
        }

        _sessions.Clear();
    }

    private void OnFallback(string line)
    {
        if (devices.FallBackToCpu())
        {
            onFallback?.Invoke(line);
        }
    }
}
