using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Engine;

namespace OptGen.Gpu;

/// <summary>
/// The GPU update of a generated rule with row, column, block, group or global reductions or compact state (a scoped
/// plan): (1) the generated pass 1, per element, stores the states it keeps and each reduction's operand;
/// (2) the runtime adds the operands in the CPU passes' order (<see cref="GpuScopes"/>) and finishes every row's
/// (column's, block's, tensor's, group's) value; (3) the generated segment kernels update the compact states, one
/// thread per row (column, block, tensor), one launch per scope in the CPU's order, each followed by the tensor
/// reductions of a compact state it accumulates (<see cref="GpuScopes.OverSegments"/>); (4) the generated pass 2 runs the
/// update per element. The compact states live on the device in the host's layout (one extent per tensor per plane),
/// so uploads, downloads and checkpoints are the host's. Created by the generated <see cref="IGpuKernelSource.CreateGpuUpdate"/>.
/// </summary>
/// <typeparam name="TKernel">The rule's kernel struct (its per-step scalars, made with gradient scale 1).</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class GpuScopedUpdate<TKernel> : GpuPassUpdate<TKernel>
    where TKernel : unmanaged
{
    private static readonly ConditionalWeakTable<Accelerator, RuntimeKernels> Loaded = new();
    private readonly ReductionOptimizer _optimizer;
    private readonly ElementPass _reduce;
    private readonly ElementPass _update;
    private readonly SegmentPass[] _segments;
    private readonly ReductionScope[] _segmentScopes;
    private readonly int[][] _segmentReductions;
    private readonly RuntimeKernels _kernels;
    private readonly List<IDisposable> _buffers = [];
    private ArrayView<int> _table, _kinds, _starts, _laneReductions;
    private ArrayView<float> _terms, _values;
    private ArrayView<double> _sums, _lanes;
    private ArrayView<GpuScopeRun> _runs;
    private ArrayView<ScopeTarget> _targets, _tensorTargets;
    private ArrayView<ScopeColumn> _columns;
    private ArrayView<ScopeUnit> _units;
    private ArrayView<ScopeSlot> _slots;
    private ArrayView<int>[] _items = [];
    private ArrayView<OverSegmentsTarget>[] _overTargets = [];
    private ArrayView<double> _weights;
    private long _termStride;
    private int _width, _partialStart;

    /// <summary>Binds a scoped rule's generated kernels and its kernel-struct factory.</summary>
    /// <param name="optimizer">The rule (its scopes, and the units its CPU passes run).</param>
    /// <param name="accelerator">The accelerator.</param>
    /// <param name="groups">The number of parameter groups.</param>
    /// <param name="reduce">Pass 1, per element: the stored states and each reduction's operand.</param>
    /// <param name="update">Pass 2, per element: the update with the finished values and the compact states.</param>
    /// <param name="segments">The compact states' kernels, in the CPU's order; one thread per segment of <paramref name="segmentScopes"/>.</param>
    /// <param name="segmentScopes">Each segment kernel's scope.</param>
    /// <param name="segmentReductions">Per segment kernel, the tensor reductions of a compact state it accumulates (<c>SegmentLoop.Reductions</c>: their indices among the rule's reductions).</param>
    /// <param name="factory">The rule's <c>CreateKernel</c> with gradient scale 1.</param>
    public GpuScopedUpdate(ReductionOptimizer optimizer, Accelerator accelerator, int groups, ElementPass reduce, ElementPass update, SegmentPass[] segments, ReductionScope[] segmentScopes, int[][] segmentReductions, GpuKernelFactory<TKernel> factory)
        : this(optimizer, accelerator, groups, reduce, update, segments, segmentScopes, segmentReductions, Ignoring(factory ?? throw new ArgumentNullException(nameof(factory))))
    {
    }

    /// <summary>Binds a scoped rule's generated kernels and its batch-size-aware kernel-struct factory.</summary>
    /// <param name="optimizer">The rule (its scopes, and the units its CPU passes run).</param>
    /// <param name="accelerator">The accelerator.</param>
    /// <param name="groups">The number of parameter groups.</param>
    /// <param name="reduce">Pass 1, per element: the stored states and each reduction's operand.</param>
    /// <param name="update">Pass 2, per element: the update with the finished values and the compact states.</param>
    /// <param name="segments">The compact states' kernels, in the CPU's order; one thread per segment of <paramref name="segmentScopes"/>.</param>
    /// <param name="segmentScopes">Each segment kernel's scope.</param>
    /// <param name="segmentReductions">Per segment kernel, the tensor reductions of a compact state it accumulates (<c>SegmentLoop.Reductions</c>: their indices among the rule's reductions).</param>
    /// <param name="factory">The rule's <c>CreateKernel</c> with gradient scale 1.</param>
    public GpuScopedUpdate(ReductionOptimizer optimizer, Accelerator accelerator, int groups, ElementPass reduce, ElementPass update, SegmentPass[] segments, ReductionScope[] segmentScopes, int[][] segmentReductions, GpuBatchKernelFactory<TKernel> factory)
        : base(accelerator, groups, factory, width: 0)
    {
        _optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        _reduce = reduce ?? throw new ArgumentNullException(nameof(reduce));
        _update = update ?? throw new ArgumentNullException(nameof(update));
        _segments = segments ?? throw new ArgumentNullException(nameof(segments));
        _segmentScopes = segmentScopes ?? throw new ArgumentNullException(nameof(segmentScopes));
        _segmentReductions = segmentReductions ?? throw new ArgumentNullException(nameof(segmentReductions));
        if (segments.Length != segmentScopes.Length)
        {
            throw new ArgumentException($"{segments.Length} segment kernels for {segmentScopes.Length} scopes.", nameof(segmentScopes));
        }

        if (segments.Length != segmentReductions.Length || Array.Exists(segmentReductions, r => r is null))
        {
            throw new ArgumentException($"{segments.Length} segment kernels for {segmentReductions.Length} lists of reductions (none null).", nameof(segmentReductions));
        }

        _kernels = Loaded.GetValue(accelerator, static a => new RuntimeKernels(
            a.LoadAutoGroupedKernel<Index1D, ArrayView<GpuScopeRun>, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<double>, long>(GpuScopes.RunLanes),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<ScopeTarget>, ArrayView<double>, ArrayView<int>, ArrayView<double>, int>(GpuScopes.Targets),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<ScopeColumn>, ArrayView<ScopeUnit>, ArrayView<float>, ArrayView<int>, ArrayView<double>, long>(GpuScopes.Columns),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<ScopeTarget>, ArrayView<int>, ArrayView<double>, int, int>(GpuScopes.CombineUnits),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<ScopeSlot>, ArrayView<int>, ArrayView<int>, ArrayView<double>, ArrayView<float>, int>(GpuScopes.Finish),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<OverSegmentsTarget>, ArrayView<float>, ArrayView<double>, ArrayView<int>, ArrayView<float>>(GpuScopes.OverSegments)));
    }

    /// <summary>A loaded generated pass (per element, a grid-stride loop over the chunks).</summary>
    public delegate void ElementPass(AcceleratorStream stream, Index1D threads, ArrayView<GpuChunk> chunks, GpuGroups<TKernel> groups, ArrayView<TKernel> table, ArrayView<float> factor, ArrayView<float> p32, ArrayView<ushort> p16, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> s32, ArrayView<ushort> s16, ArrayView<int> scopes, ArrayView<float> values, GpuLaunch launch);

    /// <summary>A loaded generated segment kernel (a grid-stride loop over (tensor, segment) pairs; pair x's operand of a tensor reduction k of a compact state into terms[k·table[1] + x]).</summary>
    public delegate void SegmentPass(AcceleratorStream stream, Index1D threads, ArrayView<int> items, GpuGroups<TKernel> groups, ArrayView<TKernel> table, ArrayView<float> s32, ArrayView<ushort> s16, ArrayView<int> scopes, ArrayView<float> values, ArrayView<float> terms, GpuLaunch launch);

    private protected override void BindRule(ParameterLayout layout)
    {
        ScopedSchedule schedule = _optimizer.DescribeScopes() ?? throw new ArgumentException("The rule has no scoped plan.", "optimizer");
        StateStorage storage = _optimizer.StateStorage;
        int width = schedule.Kinds.Length, planes = schedule.StateScopes.Length, tensors = layout.TensorCount;
        int stride = GpuScopes.TensorFields + planes + width;
        _width = width;
        var over = new bool[width];
        foreach (int[] list in _segmentReductions)
        {
            foreach (int k in list)
            {
                if ((uint)k >= (uint)width || schedule.Scopes[k].Kind != ReductionScopeKind.Tensor)
                {
                    throw new ArgumentException($"Reduction {k} is not a tensor reduction of the rule's {width}.", "segmentReductions");
                }

                over[k] = true;
            }
        }

        // The segment kernels' (tensor, segment) pairs, per kernel, and where each tensor's pairs start.
        _items = new ArrayView<int>[_segments.Length];
        var pairs = new List<int>[_segments.Length];
        var firstPair = new int[_segments.Length][];
        for (int l = 0; l < _segments.Length; l++)
        {
            pairs[l] = [];
            firstPair[l] = new int[tensors + 1];
            for (int j = 0; j < tensors; j++)
            {
                firstPair[l][j] = pairs[l].Count / 2;
                for (int s = 0, n = ReductionOptimizer.SegmentCount(layout, j, _segmentScopes[l]); s < n; s++)
                {
                    pairs[l].Add(j);
                    pairs[l].Add(s);
                }
            }

            firstPair[l][tensors] = pairs[l].Count / 2;
        }

        // A plane of the operands holds a pass-1 operand per element or a segment operand per pair.
        _termStride = Math.Max(1, layout.TotalLength);
        foreach (List<int> list in pairs)
        {
            _termStride = Math.Max(_termStride, list.Count / 2);
        }

        // The int table: header, then per tensor rows, columns, group, the state planes' offsets, the values' starts.
        var table = new int[GpuScopes.Header + (tensors * stride)];
        table[0] = stride;
        table[1] = (int)Math.Min(int.MaxValue, _termStride);
        var starts = new int[Math.Max(1, tensors * width)];
        var slots = new List<ScopeSlot>();
        for (int j = 0; j < tensors; j++)
        {
            (_, int rows, int columns) = layout.MatrixShapeOf(j);
            int at = GpuScopes.Header + (j * stride);
            table[at] = rows;
            table[at + 1] = columns;
            table[at + 2] = layout.GroupOf(j);
            for (int k = 0; k < planes; k++)
            {
                table[at + GpuScopes.TensorFields + k] = storage.OffsetOf(k, j, layout);
            }

            for (int k = 0; k < width; k++)
            {
                ReductionScope scope = schedule.Scopes[k];
                starts[(j * width) + k] = slots.Count;
                table[at + GpuScopes.TensorFields + planes + k] = slots.Count;
                int first = scope.Kind switch
                {
                    ReductionScopeKind.Group => layout.FirstTensorOf(layout.GroupOf(j)),
                    ReductionScopeKind.Global => 0,
                    _ => -1,
                };
                int end = scope.Kind switch
                {
                    ReductionScopeKind.Group => first + layout.TensorCountOf(layout.GroupOf(j)),
                    ReductionScopeKind.Global => tensors,
                    _ => -1,
                };
                for (int s = 0, count = ReductionOptimizer.SegmentCount(layout, j, scope); s < count; s++)
                {
                    slots.Add(new ScopeSlot(ReductionOptimizer.SegmentLength(layout, j, scope, s), k, first, end));
                }
            }
        }

        _partialStart = slots.Count;

        // Each unit's run range, and each tensor's unit range.
        Piece[] units = schedule.Units;
        ScopedRun[] runs = schedule.Runs;
        var unitFirstRun = new int[units.Length + 1];
        for (int r = 0, u = 0; u <= units.Length; u++)
        {
            while (r < runs.Length && runs[r].Unit < u)
            {
                r++;
            }

            unitFirstRun[u] = r;
        }

        var tensorFirstUnit = new int[tensors + 1];
        for (int u = 0, j = 0; j <= tensors; j++)
        {
            while (u < units.Length && units[u].Tensor < j)
            {
                u++;
            }

            tensorFirstUnit[j] = u;
        }

        // Sums of runs: a unit's partial of each tensor-scope (group, global) reduction; each row's (block's) value.
        var laneReductions = new List<int>();
        var laneOf = new int[width];
        for (int k = 0; k < width; k++)
        {
            laneOf[k] = laneReductions.Count;
            if (schedule.Scopes[k].Kind != ReductionScopeKind.Column && !over[k])
            {
                laneReductions.Add(k);
            }
        }

        var targets = new List<ScopeTarget>();
        var tensorTargets = new List<ScopeTarget>();
        var columnTargets = new List<ScopeColumn>();
        for (int k = 0; k < width; k++)
        {
            ReductionScope scope = schedule.Scopes[k];
            if (over[k])
            {
                // Reduced by OverSegments after its segment kernel; its sums are 0, as the CPU's before SetTotal.
                for (int j = 0; j < tensors; j++)
                {
                    tensorTargets.Add(new ScopeTarget(k, 0, 0, 0, starts[(j * width) + k]));
                }
            }
            else if (ReductionOptimizer.IsPerTensor(scope))
            {
                for (int u = 0; u < units.Length; u++)
                {
                    targets.Add(new ScopeTarget(k, laneOf[k], unitFirstRun[u], unitFirstRun[u + 1] - unitFirstRun[u], _partialStart + (u * width) + k));
                }

                for (int j = 0; j < tensors; j++)
                {
                    tensorTargets.Add(new ScopeTarget(k, laneOf[k], tensorFirstUnit[j], tensorFirstUnit[j + 1] - tensorFirstUnit[j], starts[(j * width) + k]));
                }
            }
            else if (scope.Kind == ReductionScopeKind.Column)
            {
                for (int j = 0; j < tensors; j++)
                {
                    (_, int rows, int columns) = layout.MatrixShapeOf(j);
                    for (int s = 0, count = ReductionOptimizer.SegmentCount(layout, j, scope); s < count; s++)
                    {
                        columnTargets.Add(new ScopeColumn(layout.ArenaOffsetOf(j), k, s, rows, columns, tensorFirstUnit[j], tensorFirstUnit[j + 1] - tensorFirstUnit[j], starts[(j * width) + k] + s));
                    }
                }
            }
            else
            {
                // A run lies inside one row (block), and a row's runs are consecutive.
                var first = new int[slots.Count];
                var count = new int[slots.Count];
                for (int r = 0; r < runs.Length; r++)
                {
                    int j = units[runs[r].Unit].Tensor;
                    int slot = starts[(j * width) + k] + ReductionOptimizer.SegmentOf(layout, j, scope, runs[r].Start);
                    first[slot] = count[slot] == 0 ? r : first[slot];
                    count[slot]++;
                }

                for (int j = 0; j < tensors; j++)
                {
                    for (int s = 0, n = ReductionOptimizer.SegmentCount(layout, j, scope); s < n; s++)
                    {
                        int slot = starts[(j * width) + k] + s;
                        targets.Add(new ScopeTarget(k, laneOf[k], first[slot], count[slot], slot));
                    }
                }
            }
        }

        var deviceRuns = Array.ConvertAll(runs, r => new GpuScopeRun(layout.ArenaOffsetOf(units[r.Unit].Tensor) + (long)r.Start, r.Length));
        var deviceUnits = Array.ConvertAll(units, u => new ScopeUnit(u.Start, u.Length));
        _table = Upload(table);
        _kinds = Upload(Array.ConvertAll(schedule.Kinds, k => (int)k));
        _starts = Upload(starts);
        _runs = Upload(deviceRuns);
        _units = Upload(deviceUnits);
        _targets = Upload(targets.ToArray());
        if ((long)runs.Length * laneReductions.Count * GpuScopes.RunLaneCount > int.MaxValue)
        {
            throw new NotSupportedException($"The rule's runs ({runs.Length} for {laneReductions.Count} reductions) are too many for one device launch: step it on the CPU.");
        }

        _laneReductions = Upload(laneReductions.ToArray());
        _lanes = Allocate<double>(Math.Max(1, (long)runs.Length * laneReductions.Count * GpuScopes.RunLaneCount));
        _tensorTargets = Upload(tensorTargets.ToArray());
        _columns = Upload(columnTargets.ToArray());
        _slots = Upload(slots.ToArray());
        _terms = Allocate<float>(Math.Max(1, width * _termStride));
        _sums = Allocate<double>(Math.Max(1, _partialStart + ((long)units.Length * width)));
        _values = Allocate<float>(Math.Max(1, slots.Count));

        // Per segment kernel, its pairs, and each (tensor reduction of a compact state, tensor): its operands, their weights (the segments' elements), its slot.
        _overTargets = new ArrayView<OverSegmentsTarget>[_segments.Length];
        var weights = new List<double>();
        for (int l = 0; l < _segments.Length; l++)
        {
            _items[l] = Upload(pairs[l].ToArray());
            int weightStart = weights.Count;
            for (int x = 0; x < pairs[l].Count; x += 2)
            {
                weights.Add(ReductionOptimizer.SegmentLength(layout, pairs[l][x], _segmentScopes[l], pairs[l][x + 1]));
            }

            var overTargets = new List<OverSegmentsTarget>();
            foreach (int k in _segmentReductions[l])
            {
                for (int j = 0; j < tensors; j++)
                {
                    int first = firstPair[l][j];
                    overTargets.Add(new OverSegmentsTarget((k * _termStride) + first, layout.LengthOf(j), weightStart + first, firstPair[l][j + 1] - first, k, starts[(j * width) + k]));
                }
            }

            _overTargets[l] = Upload(overTargets.ToArray());
        }

        _weights = Upload(weights.ToArray());
    }

    private protected override void RunPasses(AcceleratorStream stream, int threads, in GpuUpdateViews views, GpuLaunch launch, ArrayView<TKernel> table)
    {
        _reduce(stream, threads, views.Chunks, Groups, table, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, views.State32, views.State16, _table, _terms, launch);
        if (_targets.Length > 0)
        {
            if (_runs.Length > 0 && _laneReductions.Length > 0)
            {
                _kernels.RunLanes(stream, (int)(_runs.Length * _laneReductions.Length * GpuScopes.RunLaneCount), _runs, _laneReductions, _terms, _kinds, _lanes, _termStride);
            }

            _kernels.Targets(stream, _targets.IntLength, _targets, _lanes, _kinds, _sums, _laneReductions.IntLength);
        }

        if (_columns.Length > 0)
        {
            _kernels.Columns(stream, _columns.IntLength, _columns, _units, _terms, _kinds, _sums, _termStride);
        }

        if (_tensorTargets.Length > 0)
        {
            _kernels.CombineUnits(stream, _tensorTargets.IntLength, _tensorTargets, _kinds, _sums, _partialStart, _width);
        }

        if (_partialStart > 0)
        {
            _kernels.Finish(stream, _partialStart, _slots, _kinds, _starts, _sums, _values, _width);
        }

        for (int l = 0; l < _segments.Length; l++)
        {
            int pairs = _items[l].IntLength / 2;
            if (pairs > 0)
            {
                GpuLaunch segments = launch;
                segments.Stride = Math.Min(pairs, threads);
                _segments[l](stream, segments.Stride, _items[l], Groups, table, views.State32, views.State16, _table, _values, _terms, segments);
            }

            if (_overTargets[l].Length > 0)
            {
                _kernels.OverSegments(stream, _overTargets[l].IntLength, _overTargets[l], _terms, _weights, _kinds, _values);
            }
        }

        _update(stream, threads, views.Chunks, Groups, table, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, views.State32, views.State16, _table, _values, launch);
    }

    private protected override void DisposeRule()
    {
        foreach (IDisposable buffer in _buffers)
        {
            buffer.Dispose();
        }

        _buffers.Clear();
    }

    private ArrayView<T> Upload<T>(T[] values)
        where T : unmanaged
    {
        MemoryBuffer1D<T, Stride1D.Dense> buffer = Accelerator.Allocate1D(values.Length == 0 ? new T[1] : values);
        _buffers.Add(buffer);
        return values.Length == 0 ? buffer.View.BaseView.SubView(0, 0) : buffer.View.BaseView;
    }

    private ArrayView<T> Allocate<T>(long length)
        where T : unmanaged
    {
        MemoryBuffer1D<T, Stride1D.Dense> buffer = Accelerator.Allocate1D<T>(length);
        _buffers.Add(buffer);
        return buffer.View.BaseView;
    }

    private sealed record RuntimeKernels(
        Action<AcceleratorStream, Index1D, ArrayView<GpuScopeRun>, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<double>, long> RunLanes,
        Action<AcceleratorStream, Index1D, ArrayView<ScopeTarget>, ArrayView<double>, ArrayView<int>, ArrayView<double>, int> Targets,
        Action<AcceleratorStream, Index1D, ArrayView<ScopeColumn>, ArrayView<ScopeUnit>, ArrayView<float>, ArrayView<int>, ArrayView<double>, long> Columns,
        Action<AcceleratorStream, Index1D, ArrayView<ScopeTarget>, ArrayView<int>, ArrayView<double>, int, int> CombineUnits,
        Action<AcceleratorStream, Index1D, ArrayView<ScopeSlot>, ArrayView<int>, ArrayView<int>, ArrayView<double>, ArrayView<float>, int> Finish,
        Action<AcceleratorStream, Index1D, ArrayView<OverSegmentsTarget>, ArrayView<float>, ArrayView<double>, ArrayView<int>, ArrayView<float>> OverSegments);
}
