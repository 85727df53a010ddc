using System;
using System.ComponentModel;
using ILGPU;
using ILGPU.Runtime;

namespace OptGen.Gpu;

/// <summary>
/// The GPU update of a rule with reductions (a <see cref="MultiPassOptimizer"/>): several launches per step, with
/// deterministic per-chunk partial results (<see cref="GpuReductions"/>) between them, all queued on the step's
/// stream (nothing is read back). <typeparamref name="TScalars"/> is the per-group struct of per-step scalars the
/// kernels read, passed by value for up to <see cref="GpuGroups{TKernel}.MaxByValue"/> groups.
/// </summary>
/// <typeparam name="TScalars">The rule's per-group scalars (a generated kernel struct, or a catalog rule's).</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class GpuPassUpdate<TScalars> : GpuUpdate, IGpuPassUpdate
    where TScalars : unmanaged
{
    private readonly GpuBatchKernelFactory<TScalars> _factory;
    private readonly TScalars[] _table;
    private readonly MemoryBuffer1D<TScalars, Stride1D.Dense>? _device;
    private MemoryBuffer1D<GpuTensorSpan, Stride1D.Dense>? _tensors;
    private MemoryBuffer1D<double, Stride1D.Dense>? _partials;
    private MemoryBuffer1D<double, Stride1D.Dense>? _results;
    private MemoryBuffer1D<float, Stride1D.Dense>? _tensorFactors;
    private GpuGroups<TScalars> _groups;
    private int _groupSize;
    private int _gridGroups;

    /// <summary>Binds a factory of per-group scalars for <paramref name="groups"/> groups and a reduction of <paramref name="width"/> values per element.</summary>
    private protected GpuPassUpdate(Accelerator accelerator, int groups, GpuBatchKernelFactory<TScalars> factory, int width)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        if (width > GpuReductions.MaxWidth)
        {
            throw new NotSupportedException($"The rule has {width} reductions; the GPU passes take at most {GpuReductions.MaxWidth}: step it on the CPU.");
        }

        Accelerator = accelerator;
        Width = width;
        _factory = factory ?? throw new ArgumentNullException(nameof(factory));
        _groups.Count = groups;
        _table = groups > GpuGroups<TScalars>.MaxByValue ? GC.AllocateArray<TScalars>(groups, pinned: true) : [];
        _device = groups > GpuGroups<TScalars>.MaxByValue ? accelerator.Allocate1D<TScalars>(groups) : null;
        _groupSize = GpuReductions.GroupSizeFor(accelerator);
    }

    /// <summary>The accelerator.</summary>
    private protected Accelerator Accelerator { get; }

    /// <summary>Values reduced per element (partials per chunk, results per tensor).</summary>
    private protected int Width { get; }

    /// <summary>The number of chunks (set by <see cref="IGpuPassUpdate.Bind"/>).</summary>
    private protected int ChunkCount { get; private set; }

    /// <summary>The number of tensors (set by <see cref="IGpuPassUpdate.Bind"/>).</summary>
    private protected int TensorCount { get; private set; }

    /// <summary>Per tensor: its run of chunks.</summary>
    private protected ArrayView<GpuTensorSpan> Tensors => _tensors!.View.BaseView;

    /// <summary><see cref="Width"/> partial results per chunk.</summary>
    private protected ArrayView<double> Partials => _partials!.View.BaseView;

    /// <summary><see cref="Width"/> results per tensor.</summary>
    private protected ArrayView<double> Results => _results!.View.BaseView;

    /// <summary>One float32 per tensor (LAMB's η·trust, LARS's η·local).</summary>
    private protected ArrayView<float> TensorFactors => _tensorFactors!.View.BaseView;

    /// <summary>The per-group scalars passed by value.</summary>
    private protected GpuGroups<TScalars> Groups => _groups;

    /// <summary>The launch shape of the reducing passes: groups of a power of two ≤ 256 threads, a grid of at most one group per chunk.</summary>
    private protected KernelConfig ReduceConfig => new(Math.Max(1, _gridGroups), _groupSize);

    /// <summary>
    /// Sets the reducing passes' group size (a power of two, at most 256 and the accelerator's limit) and grid (groups,
    /// at least 1): results do not depend on either (tests use it to show that).
    /// </summary>
    void IGpuPassUpdate.SetLaunchShape(int groupSize, int gridGroups)
    {
        if (groupSize < 1 || groupSize > GpuReductions.Lanes || (groupSize & (groupSize - 1)) != 0 || groupSize > Accelerator.MaxNumThreadsPerGroup)
        {
            throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "A power of two, at most 256 and the accelerator's group limit.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(gridGroups, 1);
        _groupSize = groupSize;
        _gridGroups = gridGroups;
    }

    /// <summary>Allocates the tensor table and the reduction buffers for the layout cut into <paramref name="chunks"/>.</summary>
    void IGpuPassUpdate.Bind(ParameterLayout layout, GpuChunk[] chunks)
    {
        GpuTensorSpan[] spans = GpuReductions.TensorSpans(layout, chunks);
        ChunkCount = chunks.Length;
        TensorCount = spans.Length;
        _tensors = Accelerator.Allocate1D(spans.Length == 0 ? new GpuTensorSpan[1] : spans);
        _partials = Accelerator.Allocate1D<double>(Math.Max(1L, (long)chunks.Length * Width));
        _results = Accelerator.Allocate1D<double>(Math.Max(1L, (long)spans.Length * Width));
        _tensorFactors = Accelerator.Allocate1D<float>(Math.Max(1, spans.Length));
        _gridGroups = (int)Math.Clamp(Accelerator.MaxNumThreads / _groupSize, 1, Math.Max(1, chunks.Length));
        BindRule(layout);
    }

    /// <summary>What a rule allocates beyond the common buffers (e.g. a per-tensor factor); nothing by default.</summary>
    private protected virtual void BindRule(ParameterLayout layout)
    {
    }

    /// <inheritdoc/>
    public sealed override void SetGroup(int group, ReadOnlySpan<double> hyperparameters, ReadOnlySpan<double> hostState, long step, double batchSize)
    {
        ThrowIfDisposed();
        CheckGroup(group, hyperparameters);
        TScalars scalars = _factory(hyperparameters, hostState, step, batchSize);
        if (_device is null)
        {
            _groups.Set(group, scalars);
        }
        else
        {
            _table[group] = scalars;
        }
    }

    /// <summary>
    /// Refuses a group's step values the device passes cannot run (called before anything is launched, so a refused
    /// step writes nothing); nothing by default.
    /// </summary>
    private protected virtual void CheckGroup(int group, ReadOnlySpan<double> hyperparameters)
    {
    }

    /// <inheritdoc/>
    public sealed override void Launch(AcceleratorStream stream, int threads, in GpuUpdateViews views, GpuLaunch launch)
    {
        ThrowIfDisposed();
        ArrayView<TScalars> table = ArrayView<TScalars>.Empty;
        if (_device is not null)
        {
            table = _device.View.BaseView;
            table.CopyFromCPU(stream, ref _table[0], _table.Length);
        }

        launch.Stride = threads;
        RunPasses(stream, threads, views, launch, table);
    }

    /// <summary>The rule's launches for one step, in order on <paramref name="stream"/>.</summary>
    private protected abstract void RunPasses(AcceleratorStream stream, int threads, in GpuUpdateViews views, GpuLaunch launch, ArrayView<TScalars> table);

    /// <inheritdoc/>
    public override void Dispose()
    {
        if (!MarkDisposed())
        {
            return;
        }

        _device?.Dispose();
        _tensors?.Dispose();
        _partials?.Dispose();
        _results?.Dispose();
        _tensorFactors?.Dispose();
        DisposeRule();
    }

    /// <summary>Frees what <see cref="BindRule"/> allocated.</summary>
    private protected virtual void DisposeRule()
    {
    }

    /// <summary>A factory that ignores the batch size, for rules that do not read it.</summary>
    private protected static GpuBatchKernelFactory<TScalars> Ignoring(GpuKernelFactory<TScalars> factory) =>
        (hyperparameters, hostState, step, _) => factory(hyperparameters, hostState, step);
}
