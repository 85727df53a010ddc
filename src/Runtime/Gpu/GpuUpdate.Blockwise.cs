using System;
using ILGPU;
using ILGPU.Runtime;

namespace OptGen.Gpu;

/// <content>The launch over blockwise-quantized state.</content>
public abstract partial class GpuUpdate
{
    /// <summary>Whether the rule has a blockwise kernel (a rule with state, generated with this version).</summary>
    public virtual bool HasBlockwise => false;

    /// <summary>
    /// Launches the blockwise update over every chunk of <see cref="GpuBlockwiseViews.Chunks"/> with the group kernel structs set
    /// by <see cref="SetGroup"/>: one thread group per block at a time, <paramref name="config"/>'s group size a
    /// power of two of at most <see cref="GpuBlockwise.MaxBlockLength"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">The rule has no blockwise kernel (<see cref="HasBlockwise"/>).</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public virtual void LaunchBlockwise(AcceleratorStream stream, KernelConfig config, in GpuUpdateViews views, in GpuBlockwiseViews state, GpuBlockwiseLaunch launch)
    {
        ThrowIfDisposed();
        throw new NotSupportedException("The rule has no blockwise GPU kernel.");
    }
}

/// <content>The launch over blockwise-quantized state.</content>
public sealed partial class GpuUpdate<TKernel>
{
    private Action<AcceleratorStream, KernelConfig, GpuGroups<TKernel>, ArrayView<TKernel>, ArrayView<GpuBlockChunk>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, GpuBlockwiseLaunch>? _blockwise;
    private Action<AcceleratorStream, KernelConfig, GpuGroups<TKernel>, ArrayView<TKernel>, ArrayView<GpuBlockChunk>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, GpuBlockwiseLaunch>? _blockwiseInputs;

    /// <summary>The loader of the rule's blockwise kernel (compiled on the first blockwise launch); set by generated code.</summary>
    public Func<Accelerator, Action<AcceleratorStream, KernelConfig, GpuGroups<TKernel>, ArrayView<TKernel>, ArrayView<GpuBlockChunk>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, GpuBlockwiseLaunch>>? BlockwiseKernel { get; init; }

    /// <summary>The loader of the blockwise kernel of a rule that reads the per-example squares; set by generated code.</summary>
    public Func<Accelerator, Action<AcceleratorStream, KernelConfig, GpuGroups<TKernel>, ArrayView<TKernel>, ArrayView<GpuBlockChunk>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, GpuBlockwiseLaunch>>? BlockwiseInputKernel { get; init; }

    /// <inheritdoc/>
    public override bool HasBlockwise => BlockwiseKernel is not null || BlockwiseInputKernel is not null;

    /// <inheritdoc/>
    public override void LaunchBlockwise(AcceleratorStream stream, KernelConfig config, in GpuUpdateViews views, in GpuBlockwiseViews state, GpuBlockwiseLaunch launch)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ThrowIfDisposed();
        if (!HasBlockwise)
        {
            throw new NotSupportedException("The rule has no blockwise GPU kernel.");
        }

        ArrayView<TKernel> table = DeviceTable(stream);
        if (BlockwiseInputKernel is not null)
        {
            _blockwiseInputs ??= BlockwiseInputKernel(stream.Accelerator);
            _blockwiseInputs(stream, config, _groups, table, state.Chunks, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, state.Codes, state.Floats, state.Books, views.Inputs32, views.Inputs16, launch);
        }
        else
        {
            _blockwise ??= BlockwiseKernel!(stream.Accelerator);
            _blockwise(stream, config, _groups, table, state.Chunks, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, state.Codes, state.Floats, state.Books, launch);
        }
    }
}

/// <summary>The device buffers of blockwise-quantized state one launch reads and writes.</summary>
[System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
public readonly struct GpuBlockwiseViews
{
    /// <summary>The blockwise tensor table.</summary>
    public ArrayView<GpuBlockChunk> Chunks { get; init; }

    /// <summary>Every plane's codes (<see cref="GpuBlockwiseLaunch.CodeStride"/> bytes apart).</summary>
    public ArrayView<byte> Codes { get; init; }

    /// <summary>Every plane's absmax, then the float32 state of the tensors below the threshold.</summary>
    public ArrayView<float> Floats { get; init; }

    /// <summary>The code tables, one per plane (<see cref="GpuBlockwise"/>).</summary>
    public ArrayView<float> Books { get; init; }
}
