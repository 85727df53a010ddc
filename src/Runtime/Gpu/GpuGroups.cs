using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace OptGen.Gpu;

/// <summary>
/// The kernel structs of up to <see cref="MaxByValue"/> parameter groups, passed to the update kernel by value, so
/// a step copies nothing to the device before its launch. Layouts with more groups read the structs from a device
/// buffer instead (one small copy, which ILGPU makes synchronous, per step).
/// </summary>
/// <typeparam name="TKernel">The rule's kernel struct.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
[StructLayout(LayoutKind.Sequential)]
public struct GpuGroups<TKernel>
    where TKernel : unmanaged
{
    /// <summary>The most groups passed by value.</summary>
    public const int MaxByValue = 8;

    private TKernel _k0, _k1, _k2, _k3, _k4, _k5, _k6, _k7;

    /// <summary>The number of groups; above <see cref="MaxByValue"/> the kernel reads its device buffer.</summary>
    public int Count;

    /// <summary>Group <paramref name="group"/>'s kernel struct (<paramref name="group"/> &lt; <see cref="MaxByValue"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly TKernel Get(int group) => group switch
    {
        0 => _k0,
        1 => _k1,
        2 => _k2,
        3 => _k3,
        4 => _k4,
        5 => _k5,
        6 => _k6,
        _ => _k7,
    };

    /// <summary>Sets group <paramref name="group"/>'s kernel struct (<paramref name="group"/> &lt; <see cref="MaxByValue"/>).</summary>
    public void Set(int group, in TKernel kernel)
    {
        switch (group)
        {
            case 0: _k0 = kernel; break;
            case 1: _k1 = kernel; break;
            case 2: _k2 = kernel; break;
            case 3: _k3 = kernel; break;
            case 4: _k4 = kernel; break;
            case 5: _k5 = kernel; break;
            case 6: _k6 = kernel; break;
            default: _k7 = kernel; break;
        }
    }
}
