using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace OptGen.Gpu;

/// <summary>
/// The GPU update of a generated rule with tensor reductions (<see cref="ReductionOptimizer"/>): (1) the generated
/// pass-1 kernel writes each chunk's partial results (<see cref="GpuReductions"/>: 256 virtual lanes and a fixed
/// tree); (2) one thread per tensor and reduction adds the chunk partials in chunk order and finishes them as the CPU
/// does (√ for a norm, ÷ n for a mean); (3) the generated pass-2 kernel runs the update with the tensor's results.
/// Created by the generated <see cref="IGpuKernelSource.CreateGpuUpdate"/>.
/// </summary>
/// <typeparam name="TKernel">The rule's kernel struct (its per-step scalars, made with gradient scale 1).</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class GpuReductionUpdate<TKernel> : GpuPassUpdate<TKernel>
    where TKernel : unmanaged
{
    private static readonly ConditionalWeakTable<Accelerator, Action<AcceleratorStream, Index1D, ArrayView<GpuTensorSpan>, ArrayView<double>, ArrayView<double>, ArrayView<int>>> Combiners = new();
    private readonly Reducer _reduce;
    private readonly Updater _update;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<GpuTensorSpan>, ArrayView<double>, ArrayView<double>, ArrayView<int>> _combine;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _kinds;

    /// <summary>Binds the rule's reductions, its two loaded pass kernels and its kernel-struct factory.</summary>
    /// <param name="accelerator">The accelerator.</param>
    /// <param name="groups">The number of parameter groups.</param>
    /// <param name="reductions">The rule's reductions, in the order of the partials and results (at most 8).</param>
    /// <param name="reduce">Pass 1, explicitly grouped: every chunk's partial result of each reduction.</param>
    /// <param name="update">Pass 2, a grid-stride loop over the chunks: the update with the tensor's results.</param>
    /// <param name="factory">The rule's <c>CreateKernel</c> with gradient scale 1.</param>
    public GpuReductionUpdate(Accelerator accelerator, int groups, ReductionKind[] reductions, Reducer reduce, Updater update, GpuKernelFactory<TKernel> factory)
        : this(accelerator, groups, reductions, reduce, update, Ignoring(factory ?? throw new ArgumentNullException(nameof(factory))))
    {
    }

    /// <summary>Binds the rule's reductions, its two loaded pass kernels and its batch-size-aware kernel-struct factory.</summary>
    /// <param name="accelerator">The accelerator.</param>
    /// <param name="groups">The number of parameter groups.</param>
    /// <param name="reductions">The rule's reductions, in the order of the partials and results (at most 8).</param>
    /// <param name="reduce">Pass 1, explicitly grouped: every chunk's partial result of each reduction.</param>
    /// <param name="update">Pass 2, a grid-stride loop over the chunks: the update with the tensor's results.</param>
    /// <param name="factory">The rule's <c>CreateKernel</c> with gradient scale 1.</param>
    public GpuReductionUpdate(Accelerator accelerator, int groups, ReductionKind[] reductions, Reducer reduce, Updater update, GpuBatchKernelFactory<TKernel> factory)
        : base(accelerator, groups, factory, (reductions ?? throw new ArgumentNullException(nameof(reductions))).Length)
    {
        _reduce = reduce ?? throw new ArgumentNullException(nameof(reduce));
        _update = update ?? throw new ArgumentNullException(nameof(update));
        _combine = Combiners.GetValue(accelerator, static a => a.LoadAutoGroupedKernel<Index1D, ArrayView<GpuTensorSpan>, ArrayView<double>, ArrayView<double>, ArrayView<int>>(GpuReductions.Combine));
        _kinds = accelerator.Allocate1D(Array.ConvertAll(reductions, k => (int)k));
    }

    /// <summary>The loaded pass-1 kernel of a generated rule.</summary>
    public delegate void Reducer(AcceleratorStream stream, KernelConfig config, ArrayView<GpuChunk> chunks, GpuGroups<TKernel> groups, ArrayView<TKernel> table, ArrayView<float> factor, ArrayView<float> p32, ArrayView<ushort> p16, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> s32, ArrayView<ushort> s16, ArrayView<double> partials, GpuLaunch launch);

    /// <summary>The loaded pass-2 kernel of a generated rule.</summary>
    public delegate void Updater(AcceleratorStream stream, Index1D threads, ArrayView<GpuChunk> chunks, GpuGroups<TKernel> groups, ArrayView<TKernel> table, ArrayView<float> factor, ArrayView<float> p32, ArrayView<ushort> p16, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> s32, ArrayView<ushort> s16, ArrayView<double> results, GpuLaunch launch);

    private protected override void RunPasses(AcceleratorStream stream, int threads, in GpuUpdateViews views, GpuLaunch launch, ArrayView<TKernel> table)
    {
        _reduce(stream, ReduceConfig, views.Chunks, Groups, table, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, views.State32, views.State16, Partials, launch);
        _combine(stream, TensorCount * Width, Tensors, Partials, Results, _kinds.View.BaseView);
        _update(stream, threads, views.Chunks, Groups, table, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, views.State32, views.State16, Results, launch);
    }

    private protected override void DisposeRule() => _kinds.Dispose();
}
