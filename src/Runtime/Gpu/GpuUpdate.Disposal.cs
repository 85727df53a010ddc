using System;

namespace OptGen.Gpu;

/// <summary>
/// A disposed update refuses its calls: <see cref="SetGroup"/>, <see cref="Launch"/> and <see cref="LaunchBlockwise"/>
/// throw <see cref="ObjectDisposedException"/> after <see cref="Dispose"/> (before, they ran on: by value with nothing
/// freed, or on a freed kernel table), as <see cref="GpuOptimizer"/>'s calls do; disposing again does nothing.
/// </summary>
public abstract partial class GpuUpdate
{
    /// <summary>Whether <see cref="Dispose"/> ran.</summary>
    private protected bool IsDisposed { get; private set; }

    /// <summary>Marks this update disposed; false when it already was (the caller then frees nothing).</summary>
    private protected bool MarkDisposed()
    {
        if (IsDisposed)
        {
            return false;
        }

        IsDisposed = true;
        return true;
    }

    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    private protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);
}
