using System.Globalization;
using AQ4SViT.Onnx.Core;

namespace AQ4SViT.Onnx.Ort;

/// <summary>
/// The devices concurrent evaluations (<c>--jobs</c>) are placed on (<c>--device cuda:0,cuda:1</c>, <c>cuda:all</c>): each
/// evaluation takes the device with the fewest evaluations running on it, the first listed on a tie, and gives it back when
/// done. A device named twice takes twice the share. Where an evaluation runs never changes what it computes (the same
/// model, weights and batches on devices of one kind), so a search's results are those of a serial run.
/// </summary>
public sealed class DevicePool
{
    private readonly Lock _gate = new();
    private readonly ComputeDevice[] _devices;
    private readonly int[] _running;

    public DevicePool(IReadOnlyList<ComputeDevice> devices)
    {
        if (devices.Count == 0)
        {
            throw new ArgumentException("a device pool needs at least one device", nameof(devices));
        }

        _devices = [.. devices];
        _running = new int[_devices.Length];
    }

    public static DevicePool Of(ComputeDevice device) => new([device]);

    /// <summary>The devices as listed (all the CPU once <see cref="FallBackToCpu"/> ran).</summary>
    public IReadOnlyList<ComputeDevice> Devices
    {
        get
        {
            lock (_gate)
            {
                return [.. _devices];
            }
        }
    }

    public bool AnyCuda => Devices.Any(d => d.IsCuda);

    /// <summary>Evaluations running per listed device now (for tests and diagnostics).</summary>
    public int[] Running
    {
        get
        {
            lock (_gate)
            {
                return [.. _running];
            }
        }
    }

    /// <summary>Places one evaluation: the least busy device, the first listed on a tie.</summary>
    public Lease Take()
    {
        lock (_gate)
        {
            int best = 0;
            for (int i = 1; i < _devices.Length; i++)
            {
                if (_running[i] < _running[best])
                {
                    best = i;
                }
            }

            _running[best]++;
            return new Lease(this, best, _devices[best]);
        }
    }

    /// <summary>Every device becomes the CPU (CUDA turned out unusable); true the first time, so the caller tells once.</summary>
    public bool FallBackToCpu()
    {
        lock (_gate)
        {
            if (!_devices.Any(d => d.IsCuda))
            {
                return false;
            }

            Array.Fill(_devices, ComputeDevice.Cpu);
            return true;
        }
    }

    /// <summary>The distinct devices, e.g. <c>cuda:0,cuda:1</c> or <c>cpu</c>.</summary>
    public override string ToString() => string.Join(",", Devices.Distinct());

    private void Release(int slot)
    {
        lock (_gate)
        {
            _running[slot]--;
        }
    }

    /// <summary>One evaluation's place; dispose it when the evaluation ends.</summary>
    public sealed class Lease(DevicePool pool, int slot, ComputeDevice device) : IDisposable
    {
        private int _released;

        public ComputeDevice Device { get; } = device;

        public int Slot { get; } = slot;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                pool.Release(Slot);
            }
        }
    }

    /// <summary>
    /// Parses <c>--device</c>: <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>, a comma-separated list of CUDA devices
    /// (<c>cuda:0,cuda:1</c>; one may repeat), or <c>cuda:all</c> (every device <paramref name="cudaDevices"/> counts; one,
    /// cuda:0, when it counts none, so that the usual one-line fallback says why). Anything else is bad input naming --device.
    /// </summary>
    public static IReadOnlyList<ComputeDevice> Parse(string? text, Func<int> cudaDevices)
    {
        string value = (text ?? "").Trim().ToLowerInvariant();
        if (value == "cuda:all")
        {
            return [.. Enumerable.Range(0, Math.Max(1, cudaDevices())).Select(ComputeDevice.Cuda)];
        }

        if (!value.Contains(','))
        {
            return [ComputeDevice.Parse(text)];
        }

        var devices = value.Split(',').Select(p => p.Trim()).Select(p => p.Length == 0 ? Bad(text) : ComputeDevice.Parse(p)).ToArray();
        return devices.All(d => d.IsCuda) ? devices : [Bad(text)];
    }

    private static ComputeDevice Bad(string? text) =>
        Throw.BadInput<ComputeDevice>(string.Create(CultureInfo.InvariantCulture, $"--device must be cpu, cuda, cuda:N, a list of CUDA devices (cuda:0,cuda:1) or cuda:all, got '{text}'"));
}
