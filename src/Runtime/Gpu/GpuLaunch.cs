using System.ComponentModel;
using System.Runtime.InteropServices;

namespace OptGen.Gpu;

/// <summary>
/// One entry of the device's tensor table: a chunk of at most <see cref="Length"/> = 2^<see cref="Shift"/> elements
/// of one tensor. The update kernel walks chunk c's elements as the virtual indices [c·2^Shift, c·2^Shift + length),
/// so one launch covers every tensor of a <see cref="ParameterLayout"/> (as PyTorch's multi-tensor apply).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[StructLayout(LayoutKind.Sequential)]
public readonly struct GpuChunk
{
    /// <summary>log₂ of the chunk capacity: 2048 elements, small enough that short tensors waste few idle threads.</summary>
    public const int Shift = 11;

    /// <summary>The chunk capacity, 2^<see cref="Shift"/>.</summary>
    public const int Capacity = 1 << Shift;

    /// <summary>Creates a table entry.</summary>
    public GpuChunk(int tensor, int group, int length, int tensorStart, long arenaStart, long stateStart)
    {
        Tensor = tensor;
        Group = group;
        Length = length;
        TensorStart = tensorStart;
        ArenaStart = arenaStart;
        StateStart = stateStart;
    }

    /// <summary>The tensor, in <see cref="ParameterLayout"/> order.</summary>
    public readonly int Tensor;

    /// <summary>The tensor's parameter group: the index of its kernel struct.</summary>
    public readonly int Group;

    /// <summary>The number of elements, 1 to <see cref="Capacity"/>.</summary>
    public readonly int Length;

    /// <summary>The chunk's first element, counted from the tensor's start.</summary>
    public readonly int TensorStart;

    /// <summary>The chunk's first element in the parameter and gradient arenas.</summary>
    public readonly long ArenaStart;

    /// <summary>The chunk's first element in each state plane (<see cref="ParameterLayout"/>'s state offsets).</summary>
    public readonly long StateStart;
}

/// <summary>One piece of the gradient-norm reduction: the CPU engine's work piece (its partial sums are the CPU's).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[StructLayout(LayoutKind.Sequential)]
public readonly struct GpuPiece
{
    /// <summary>Creates a piece.</summary>
    public GpuPiece(long arenaStart, int length)
    {
        ArenaStart = arenaStart;
        Length = length;
    }

    /// <summary>The piece's first element in the gradient arena.</summary>
    public readonly long ArenaStart;

    /// <summary>The number of elements.</summary>
    public readonly int Length;
}

/// <summary>
/// The per-launch values of the update kernel that are not the rule's scalars: storage formats, the state layout,
/// the gradient factor and the stochastic-rounding inputs. Passed by value.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[StructLayout(LayoutKind.Sequential)]
public struct GpuLaunch
{
    /// <summary>The parameters' <see cref="GpuCodec"/>.</summary>
    public int ParameterCodec;

    /// <summary>The gradients' <see cref="GpuCodec"/>.</summary>
    public int GradientCodec;

    /// <summary>The state's <see cref="GpuCodec"/> (float32 or bfloat16).</summary>
    public int StateCodec;

    /// <summary>The number of threads launched: the grid-stride step.</summary>
    public int Stride;

    /// <summary>Elements between consecutive state planes.</summary>
    public long StateStride;

    /// <summary>The step number t (stochastic rounding's random bits depend on it).</summary>
    public long Step;

    /// <summary>The stochastic-rounding seed (<see cref="StepOptions.RoundingSeed"/>).</summary>
    public ulong RoundingSeed;

    /// <summary>When <see cref="DeviceFactor"/> is 0: the factor on every gradient element, float32(scale), exact.</summary>
    public float GradientFactor;

    /// <summary>1 when the gradient factor (unscaling × clipping) was computed on the device and is read from there.</summary>
    public int DeviceFactor;
}
