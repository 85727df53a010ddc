using System;
using System.Threading;

namespace OptGen.Gpu;

/// <content>
/// The device guard: calls made of several host-guarded steps (synchronize, convert or load the host, upload) hold it
/// from the first to the last, so a <c>Step</c> from another thread cannot run between them and have its update lost
/// by the upload of a host state taken before it.
/// </content>
public sealed partial class GpuOptimizer
{
    /// <summary>1 while a call holds the device guard (<see cref="EnterDevice"/>).</summary>
    private int _deviceBusy;

    /// <summary>Claims this object for one call (a step, a synchronization, a checkpoint, a conversion, a reload).</summary>
    /// <param name="operation">The call, named in the exception.</param>
    /// <exception cref="InvalidOperationException">Another thread is in a call of this object; nothing was changed.</exception>
    private DeviceGuard EnterDevice(string operation)
    {
        if (Interlocked.CompareExchange(ref _deviceBusy, 1, 0) != 0)
        {
            throw new InvalidOperationException($"{operation} was called while another thread is in a call of this GpuOptimizer (a step, a checkpoint, a conversion or a reload); calls on one optimizer must not overlap. Nothing was changed.");
        }

        // Checked again inside the guard: a Dispose that finished after the caller's own check has freed the buffers.
        if (_disposed)
        {
            Volatile.Write(ref _deviceBusy, 0);
            throw new ObjectDisposedException(nameof(GpuOptimizer));
        }

        return new DeviceGuard(this);
    }

    /// <summary>
    /// Claims the staging buffers and the device for <see cref="Dispose"/>: a call of another thread still running
    /// (a host-memory step copying through the staging buffers, a step, checkpoint or conversion using the device
    /// state) keeps its buffers, and the dispose is refused instead of freeing them under it.
    /// </summary>
    /// <exception cref="InvalidOperationException">Another thread is in a call of this object; nothing was freed.</exception>
    private void ClaimForDispose()
    {
        if (Interlocked.CompareExchange(ref _stagingBusy, 1, 0) != 0)
        {
            throw new InvalidOperationException("Dispose was called while another thread is stepping this GpuOptimizer from host memory; calls on one optimizer must not overlap. Nothing was freed.");
        }

        if (Interlocked.CompareExchange(ref _deviceBusy, 1, 0) != 0)
        {
            Volatile.Write(ref _stagingBusy, 0);
            throw new InvalidOperationException("Dispose was called while another thread is in a call of this GpuOptimizer (a step, a checkpoint, a conversion or a reload); calls on one optimizer must not overlap. Nothing was freed.");
        }
    }

    /// <summary>Releases the device guard on dispose; a second call does nothing.</summary>
    private ref struct DeviceGuard
    {
        private GpuOptimizer? _owner;

        internal DeviceGuard(GpuOptimizer owner) => _owner = owner;

        public void Dispose()
        {
            if (_owner is not null)
            {
                Volatile.Write(ref _owner._deviceBusy, 0);
                _owner = null;
            }
        }
    }
}
