using System;
using System.ComponentModel;
using ILGPU;
using ILGPU.Runtime;

namespace OptGen.Gpu;

/// <summary>The device buffers one update launch reads and writes; the unused one of each wide/narrow pair is empty.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct GpuUpdateViews
{
    /// <summary>The tensor table.</summary>
    public ArrayView<GpuChunk> Chunks { get; init; }

    /// <summary>One element: the device-computed gradient factor (read when <see cref="GpuLaunch.DeviceFactor"/> is 1).</summary>
    public ArrayView<float> Factor { get; init; }

    /// <summary>float32 parameters.</summary>
    public ArrayView<float> Parameters32 { get; init; }

    /// <summary>16-bit parameters.</summary>
    public ArrayView<ushort> Parameters16 { get; init; }

    /// <summary>float32 gradients.</summary>
    public ArrayView<float> Gradients32 { get; init; }

    /// <summary>16-bit gradients.</summary>
    public ArrayView<ushort> Gradients16 { get; init; }

    /// <summary>float32 state planes.</summary>
    public ArrayView<float> State32 { get; init; }

    /// <summary>bfloat16 state planes.</summary>
    public ArrayView<ushort> State16 { get; init; }

    /// <summary>float32 per-example squares beside the gradients (rules that read them; else empty).</summary>
    public ArrayView<float> Inputs32 { get; init; }

    /// <summary>16-bit per-example squares (else empty).</summary>
    public ArrayView<ushort> Inputs16 { get; init; }
}

/// <summary>
/// A rule's GPU update on one accelerator: the compiled kernel and one kernel struct per parameter group, made by
/// the rule's own <c>CreateKernel</c> (the CPU path's host code) and passed by value (<see cref="GpuGroups{TKernel}"/>;
/// a device buffer beyond <see cref="GpuGroups{TKernel}.MaxByValue"/> groups). Created by the generated
/// <see cref="IGpuKernelSource.CreateGpuUpdate"/>; used by <see cref="GpuOptimizer"/>.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract partial class GpuUpdate : IDisposable
{
    /// <summary>Sets group <paramref name="group"/>'s kernel struct for the coming launch.</summary>
    /// <param name="group">The parameter group.</param>
    /// <param name="hyperparameters">The group's hyperparameters for this step, in descriptor order.</param>
    /// <param name="hostState">The group's carried host scalars after this step's advance.</param>
    /// <param name="step">The step number t.</param>
    /// <param name="batchSize">The step's batch size B (read by rules with per-example hyperparameters).</param>
    public abstract void SetGroup(int group, ReadOnlySpan<double> hyperparameters, ReadOnlySpan<double> hostState, long step, double batchSize);

    /// <summary>
    /// Launches the update over every chunk with the group kernel structs set by <see cref="SetGroup"/>, asynchronously
    /// on <paramref name="stream"/> (beyond <see cref="GpuGroups{TKernel}.MaxByValue"/> groups, their copy to the device waits for the stream first).
    /// </summary>
    public abstract void Launch(AcceleratorStream stream, int threads, in GpuUpdateViews views, GpuLaunch launch);

    /// <summary>Frees the device buffer of the kernel structs (if any).</summary>
    public abstract void Dispose();
}

/// <summary>Makes a rule's kernel struct from one group's step inputs (the generated <c>CreateKernel</c> with gradient scale 1).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public delegate TKernel GpuKernelFactory<TKernel>(ReadOnlySpan<double> hyperparameters, ReadOnlySpan<double> hostState, long step);

/// <summary>A <see cref="GpuKernelFactory{TKernel}"/> for a rule whose per-step scalars depend on the batch size B.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public delegate TKernel GpuBatchKernelFactory<TKernel>(ReadOnlySpan<double> hyperparameters, ReadOnlySpan<double> hostState, long step, double batchSize);

/// <summary>The generic <see cref="GpuUpdate"/> over a rule's kernel struct <typeparamref name="TKernel"/>.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed partial class GpuUpdate<TKernel> : GpuUpdate
    where TKernel : unmanaged
{
    private readonly Action<AcceleratorStream, Index1D, GpuGroups<TKernel>, ArrayView<TKernel>, ArrayView<GpuChunk>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch>? _kernel;
    private readonly Action<AcceleratorStream, Index1D, GpuGroups<TKernel>, ArrayView<TKernel>, ArrayView<GpuChunk>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch>? _inputKernel;
    private readonly GpuBatchKernelFactory<TKernel> _factory;
    private readonly TKernel[] _table;
    private readonly MemoryBuffer1D<TKernel, Stride1D.Dense>? _device;
    private GpuGroups<TKernel> _groups;

    /// <summary>Binds a loaded kernel and a factory for <paramref name="groups"/> parameter groups on <paramref name="accelerator"/>.</summary>
    public GpuUpdate(
        Accelerator accelerator,
        int groups,
        Action<AcceleratorStream, Index1D, GpuGroups<TKernel>, ArrayView<TKernel>, ArrayView<GpuChunk>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch> kernel,
        GpuKernelFactory<TKernel> factory)
        : this(accelerator, groups, kernel, Ignoring(factory ?? throw new ArgumentNullException(nameof(factory))))
    {
    }

    /// <summary>Binds a loaded kernel and a batch-size-aware factory for <paramref name="groups"/> parameter groups on <paramref name="accelerator"/>.</summary>
    public GpuUpdate(
        Accelerator accelerator,
        int groups,
        Action<AcceleratorStream, Index1D, GpuGroups<TKernel>, ArrayView<TKernel>, ArrayView<GpuChunk>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch> kernel,
        GpuBatchKernelFactory<TKernel> factory)
        : this(accelerator, groups, factory)
    {
        _kernel = kernel ?? throw new ArgumentNullException(nameof(kernel));
    }

    /// <summary>Binds a loaded kernel that also reads the per-example squares beside the gradients (<see cref="GpuUpdateViews.Inputs32"/>).</summary>
    public GpuUpdate(
        Accelerator accelerator,
        int groups,
        Action<AcceleratorStream, Index1D, GpuGroups<TKernel>, ArrayView<TKernel>, ArrayView<GpuChunk>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch> kernel,
        GpuKernelFactory<TKernel> factory)
        : this(accelerator, groups, kernel, Ignoring(factory ?? throw new ArgumentNullException(nameof(factory))))
    {
    }

    /// <summary>Binds a loaded kernel that reads the per-example squares, with a batch-size-aware factory.</summary>
    public GpuUpdate(
        Accelerator accelerator,
        int groups,
        Action<AcceleratorStream, Index1D, GpuGroups<TKernel>, ArrayView<TKernel>, ArrayView<GpuChunk>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch> kernel,
        GpuBatchKernelFactory<TKernel> factory)
        : this(accelerator, groups, factory)
    {
        _inputKernel = kernel ?? throw new ArgumentNullException(nameof(kernel));
    }

    private GpuUpdate(Accelerator accelerator, int groups, GpuBatchKernelFactory<TKernel> factory)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        _factory = factory ?? throw new ArgumentNullException(nameof(factory));
        _groups.Count = groups;
        _table = groups > GpuGroups<TKernel>.MaxByValue ? GC.AllocateArray<TKernel>(groups, pinned: true) : [];
        _device = groups > GpuGroups<TKernel>.MaxByValue ? accelerator.Allocate1D<TKernel>(groups) : null;
    }

    /// <inheritdoc/>
    public override void SetGroup(int group, ReadOnlySpan<double> hyperparameters, ReadOnlySpan<double> hostState, long step, double batchSize)
    {
        ThrowIfDisposed();
        TKernel kernel = _factory(hyperparameters, hostState, step, batchSize);
        if (_device is null)
        {
            _groups.Set(group, kernel);
        }
        else
        {
            _table[group] = kernel;
        }
    }

    /// <inheritdoc/>
    public override void Launch(AcceleratorStream stream, int threads, in GpuUpdateViews views, GpuLaunch launch)
    {
        ThrowIfDisposed();
        ArrayView<TKernel> table = DeviceTable(stream);
        launch.Stride = threads;
        if (_inputKernel is not null)
        {
            _inputKernel(stream, threads, _groups, table, views.Chunks, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, views.State32, views.State16, views.Inputs32, views.Inputs16, launch);
        }
        else
        {
            _kernel!(stream, threads, _groups, table, views.Chunks, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, views.State32, views.State16, launch);
        }
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        if (MarkDisposed())
        {
            _device?.Dispose();
        }
    }

    /// <summary>The kernel structs' device buffer, filled for this launch, or empty when they go by value.</summary>
    private ArrayView<TKernel> DeviceTable(AcceleratorStream stream)
    {
        if (_device is null)
        {
            return ArrayView<TKernel>.Empty;
        }

        // More groups than fit by value: ILGPU's copy from host memory waits for the stream.
        ArrayView<TKernel> table = _device.View.BaseView;
        table.CopyFromCPU(stream, ref _table[0], _table.Length);
        return table;
    }

    private static GpuBatchKernelFactory<TKernel> Ignoring(GpuKernelFactory<TKernel> factory) =>
        (hyperparameters, hostState, step, _) => factory(hyperparameters, hostState, step);
}
