using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using OptGen.Engine;
using OptGen.Kernels;

namespace OptGen;

/// <summary>A reduction's scope: its kind and, for <see cref="ReductionScopeKind.Block"/>, the block length (≥ 1).</summary>
/// <param name="Kind">Tensor, row, column or block.</param>
/// <param name="BlockLength">The elements per block; 0 for the other kinds.</param>
public readonly record struct ReductionScope(ReductionScopeKind Kind, int BlockLength = 0);

/// <summary>Row, column and block reductions and compact state: the runs of a unit, the segment phase between the passes.</summary>
public abstract partial class ReductionOptimizer
{
    // Per descriptor (one per generated class): the scopes of its reductions and states, registered by the
    // constructor before the base constructor asks for the state's extents.
    private static readonly ConditionalWeakTable<OptimizerDescriptor, ScopeInfo> Scopes = new();

    private readonly ScopeInfo? _scopeInfo;

    // Set once the base constructors have run: from then on _scopeInfo alone says whether the rule is scoped.
    private readonly bool _constructed;

    // Per tensor: the start of each reduction's values in _sums/_values (scalar scopes) or _columnSums (column scope).
    private int[] _valueStart = [];
    private double[] _sums = [];
    private double[] _columnSums = [];
    private float[] _columnValues = [];
    private int[] _columnOffset = []; // per unit: where its column partials start in _columnPartials
    private double[] _columnPartials = [];
    private double[] _unitPartials = [];
    private double[] _edgePartials = []; // per unit and reduction: the parts of the row (block) it cuts at its start and at its end
    private bool[] _cutsSegments = []; // per unit: whether it cuts a row or block of a reduction (only in quantized tensors)

    /// <summary>Creates an optimizer whose reductions have scopes (rows, columns, blocks) or whose states are compact; called by generated code.</summary>
    /// <param name="descriptor">The rule's descriptor; its bytes per element must be the sum over <paramref name="passes"/>.</param>
    /// <param name="layout">The tensors (with their shapes) and parameter groups.</param>
    /// <param name="passes">The two passes and the per-element streams each reads and writes.</param>
    /// <param name="reductions">The rule's reductions, in order.</param>
    /// <param name="scopes">Each reduction's scope.</param>
    /// <param name="stateScopes">Per state buffer: null for one value per element, else the scope it is stored by (one value per row, column or block).</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The arrays do not match the reductions or the descriptor's states, or a block length is below 1.</exception>
    /// <exception cref="InvalidOperationException">The passes do not add up to the descriptor's bytes.</exception>
    protected ReductionOptimizer(OptimizerDescriptor descriptor, ParameterLayout layout, PassTraffic[] passes, ReductionKind[] reductions, ReductionScope[] scopes, ReductionScope?[] stateScopes)
        : this(Register(descriptor, reductions, scopes, stateScopes), layout, passes, reductions)
    {
        _scopeInfo = Scopes.TryGetValue(descriptor, out ScopeInfo? info) ? info : null;
        if (_scopeInfo is not null)
        {
            // The units and their partials (with column reductions up to 64 units' column sums: 1 MB for 512 × 2047)
            // depend only on the layout and the state's codec blocks: made here, so the first step allocates them only
            // when the state precision changed the codec blocks since (RunPasses).
            StagingGranulesChanged(ref _stagingGranules);
            _units = CutScopedUnits();
            PrepareScoped(_units);
        }
    }

    /// <summary>
    /// Between the passes: the rule's compact states, updated once per row (column, block) of the tensor of
    /// <paramref name="segments"/> from the finished reductions. Generated code overrides it; must not throw.
    /// </summary>
    /// <param name="arguments">The tensor's group's hyperparameters and the step's inputs (no element memory).</param>
    /// <param name="segments">The tensor's reductions and compact states.</param>
    protected virtual void UpdateSegments<TState>(scoped in KernelArguments arguments, scoped ref SegmentArguments segments)
        where TState : struct, IElementCodec
    {
    }

    /// <summary>Pass 1 over the runs of one work unit (<see cref="PassRun.MoveNext"/>). Generated code of a rule with row, column or block reductions overrides it; must not throw.</summary>
    /// <param name="arguments">The unit's group's hyperparameters and the step's inputs.</param>
    /// <param name="run">The runs.</param>
    protected virtual void ReduceRuns<TParameter, TGradient, TState>(scoped in KernelArguments arguments, scoped ref PassRun run)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
    }

    /// <summary>Pass 2 over the runs of one work unit. Generated code of a rule with row, column or block reductions overrides it; must not throw.</summary>
    /// <param name="arguments">The unit's group's hyperparameters and the step's inputs.</param>
    /// <param name="run">The runs.</param>
    protected virtual void UpdateRuns<TParameter, TGradient, TState>(scoped in KernelArguments arguments, scoped ref PassRun run)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
    }

    /// <inheritdoc/>
    private protected override bool IsCompact(int plane) => Info?.StateScopes[plane] is not null;

    /// <summary>The rule's scopes; null for a rule with tensor reductions only. Looked up by descriptor only while the base constructor asks for the state's extents.</summary>
    private ScopeInfo? Info => _scopeInfo ?? (_constructed ? null : Scopes.TryGetValue(Descriptor, out ScopeInfo? info) ? info : null);

    /// <inheritdoc/>
    private protected override int StateLengthOf(int plane, int tensor, ReadOnlySpan<double> hyperparameters) =>
        Info?.StateScopes[plane] is ReductionScope scope ? SegmentCount(Layout, tensor, scope) : Layout.LengthOf(tensor);

    /// <summary>The number of values a reduction (or compact state) of <paramref name="scope"/> has for tensor <paramref name="tensor"/>.</summary>
    internal static int SegmentCount(ParameterLayout layout, int tensor, ReductionScope scope)
    {
        (int matrices, int rows, int columns) = layout.MatrixShapeOf(tensor);
        return scope.Kind switch
        {
            ReductionScopeKind.Row => matrices * rows,
            ReductionScopeKind.Column => matrices * columns,
            ReductionScopeKind.Block => (int)((layout.LengthOf(tensor) + (long)scope.BlockLength - 1) / scope.BlockLength),
            _ => 1,
        };
    }

    /// <summary>Whether a reduction of <paramref name="scope"/> has one value per tensor in pass 1's partials (tensor, group and global scopes).</summary>
    internal static bool IsPerTensor(ReductionScope scope) => scope.Kind is ReductionScopeKind.Tensor or ReductionScopeKind.Group or ReductionScopeKind.Global;

    /// <summary>The elements one value of <paramref name="scope"/> combines, for <paramref name="segment"/> of tensor <paramref name="tensor"/> (a mean divides by it).</summary>
    internal static long SegmentLength(ParameterLayout layout, int tensor, ReductionScope scope, int segment)
    {
        (_, int rows, int columns) = layout.MatrixShapeOf(tensor);
        return scope.Kind switch
        {
            ReductionScopeKind.Group => LengthOfTensors(layout, layout.FirstTensorOf(layout.GroupOf(tensor)), layout.TensorCountOf(layout.GroupOf(tensor))),
            ReductionScopeKind.Global => LengthOfTensors(layout, 0, layout.TensorCount),
            ReductionScopeKind.Row => columns,
            ReductionScopeKind.Column => rows,
            ReductionScopeKind.Block => Math.Min(scope.BlockLength, layout.LengthOf(tensor) - (segment * scope.BlockLength)),
            _ => layout.LengthOf(tensor),
        };
    }

    private static long LengthOfTensors(ParameterLayout layout, int first, int count)
    {
        long length = 0;
        for (int j = first; j < first + count; j++)
        {
            length += layout.LengthOf(j);
        }

        return length;
    }

    /// <summary>The segment of <paramref name="scope"/> that element <paramref name="element"/> of tensor <paramref name="tensor"/> belongs to.</summary>
    internal static int SegmentOf(ParameterLayout layout, int tensor, ReductionScope scope, int element)
    {
        (_, int rows, int columns) = layout.MatrixShapeOf(tensor);
        return scope.Kind switch
        {
            ReductionScopeKind.Row => element / columns,
            ReductionScopeKind.Column => (int)(element / ((long)rows * columns) * columns) + (element % columns),
            ReductionScopeKind.Block => element / scope.BlockLength,
            _ => 0,
        };
    }

    private static OptimizerDescriptor Register(OptimizerDescriptor descriptor, ReductionKind[] reductions, ReductionScope[] scopes, ReductionScope?[] stateScopes)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(reductions);
        ArgumentNullException.ThrowIfNull(scopes);
        ArgumentNullException.ThrowIfNull(stateScopes);
        if (scopes.Length != reductions.Length || stateScopes.Length != descriptor.States.Count)
        {
            throw new ArgumentException($"{descriptor.Name}: {scopes.Length} scopes for {reductions.Length} reductions and {stateScopes.Length} state scopes for {descriptor.States.Count} states.", nameof(scopes));
        }

        foreach (ReductionScope scope in scopes)
        {
            if (scope.Kind == ReductionScopeKind.Block && scope.BlockLength < 1)
            {
                throw new ArgumentException($"{descriptor.Name}: a block reduction's length must be at least 1, not {scope.BlockLength}.", nameof(scopes));
            }
        }

        Scopes.AddOrUpdate(descriptor, new ScopeInfo((ReductionScope[])scopes.Clone(), (ReductionScope?[])stateScopes.Clone()));
        return descriptor;
    }

    /// <summary>
    /// Units of whole rows (when a row or column scope is used) and whole blocks; at most 64 per tensor with column
    /// reductions, which keep partial sums per unit. In a tensor whose last pass stages quantized state the units also
    /// start on a block of the codec (<see cref="MultiPassOptimizer.StagingGranule"/>); where whole rows (blocks) and
    /// whole codec blocks meet only beyond a piece (lcm(2047, 256) = 524 032 elements; lcm(65521, 256) = 16.8M) the
    /// units are whole codec blocks, about a piece each, and may cut rows and blocks (<see cref="EdgeOf"/>): each
    /// thread stages one unit at a time, so a unit of lcm elements would cost every thread that much staging.
    /// </summary>
    private Piece[] CutScopedUnits()
    {
        ScopeInfo info = Info!;
        ParameterLayout layout = Layout;
        return CutUnits(
            layout,
            j =>
            {
                int staging = StagingGranule(j);
                long granule = staging;
                foreach (ReductionScope scope in info.AllScopes)
                {
                    long size = scope.Kind switch
                    {
                        ReductionScopeKind.Row or ReductionScopeKind.Column => Math.Max(1, layout.MatrixShapeOf(j).Columns),
                        ReductionScopeKind.Block => scope.BlockLength,
                        _ => 1,
                    };
                    granule = granule / Gcd(granule, size) * size;
                    if (granule >= layout.LengthOf(j))
                    {
                        granule = Math.Max(1, layout.LengthOf(j));
                        break;
                    }
                }

                return staging > 1 && granule > StepPlan.PieceLength ? staging : (int)granule;
            },
            maxPerTensor: info.ColumnReductions == 0 ? null : j => Math.Min(64, Math.Max(1, layout.MatrixShapeOf(j).Matrices * layout.MatrixShapeOf(j).Rows / 8)));

        static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);
    }

    /// <summary>
    /// Where pass 1 adds a run's partial of a row or block <paramref name="segment"/> of unit
    /// [<paramref name="unitStart"/>, <paramref name="unitEnd"/>): −1 when the unit holds the segment whole (straight
    /// into its sum: one unit, one thread adds it), else the unit's own slot for the segment it cuts at its start (0)
    /// or at its end (1), combined into the sums in unit order after the pass (only quantized tensors' units cut
    /// segments, <see cref="CutScopedUnits"/>).
    /// </summary>
    private static int EdgeOf(ParameterLayout layout, int tensor, ReductionScope scope, int segment, int unitStart, int unitEnd)
    {
        long size = scope.Kind == ReductionScopeKind.Block ? scope.BlockLength : Math.Max(1, layout.MatrixShapeOf(tensor).Columns);
        long start = segment * size;
        long end = Math.Min(layout.LengthOf(tensor), start + size);
        return start < unitStart ? 0 : end > unitEnd ? 1 : -1;
    }

    private void PrepareScoped(Piece[] units)
    {
        ScopeInfo info = Info!;
        ParameterLayout layout = Layout;
        int width = info.Scopes.Length;
        _valueStart = new int[layout.TensorCount * width];
        int scalar = 0, column = 0;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            for (int k = 0; k < width; k++)
            {
                bool isColumn = info.Scopes[k].Kind == ReductionScopeKind.Column;
                _valueStart[(j * width) + k] = isColumn ? column : scalar;
                if (isColumn)
                {
                    column += SegmentCount(layout, j, info.Scopes[k]);
                }
                else
                {
                    scalar += SegmentCount(layout, j, info.Scopes[k]);
                }
            }
        }

        _sums = new double[scalar];
        _columnSums = new double[column];
        _columnValues = new float[column];
        _unitPartials = new double[units.Length * width];
        _edgePartials = new double[units.Length * width * 2];
        _cutsSegments = new bool[units.Length];
        for (int u = 0; u < units.Length; u++)
        {
            (int j, int start, int end) = (units[u].Tensor, units[u].Start, units[u].Start + units[u].Length);
            foreach (ReductionScope scope in info.Scopes)
            {
                _cutsSegments[u] |= !IsPerTensor(scope) && scope.Kind != ReductionScopeKind.Column &&
                    (EdgeOf(layout, j, scope, SegmentOf(layout, j, scope, start), start, end) >= 0 || EdgeOf(layout, j, scope, SegmentOf(layout, j, scope, end - 1), start, end) >= 0);
            }
        }

        _columnOffset = new int[units.Length + 1];
        for (int u = 0; u < units.Length; u++)
        {
            (int matrices, _, int columns) = layout.MatrixShapeOf(units[u].Tensor);
            _columnOffset[u + 1] = _columnOffset[u] + (info.ColumnReductions * matrices * columns);
        }

        _columnPartials = new double[_columnOffset[^1]];
    }

    private void RunScopedPasses<TParameter, TGradient, TState>(Piece[] units)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
        ScopeInfo info = Info!;
        ParameterLayout layout = Layout;
        int width = info.Scopes.Length;
        Array.Clear(_sums);
        Array.Clear(_columnSums);
        RunUnits<TParameter, TGradient, TState>(0, units.Length);

        // Combined in unit order (tensor scope: each unit's partial; column scope: each unit's column sums; a row or
        // block that units cut: each unit's part); a row or block whole inside one unit is added run after run there.
        for (int u = 0; u < units.Length; u++)
        {
            int j = units[u].Tensor;
            int unitStart = units[u].Start, unitEnd = units[u].Start + units[u].Length;
            int c = 0;
            for (int k = 0; k < width; k++)
            {
                ReductionScope scope = info.Scopes[k];
                bool max = _kinds[k] == ReductionKind.MaxAbs;
                if (IsPerTensor(scope))
                {
                    ref double sum = ref _sums[_valueStart[(j * width) + k]];
                    double partial = _unitPartials[(u * width) + k];
                    sum = max ? Math.Max(sum, partial) : sum + partial;
                }
                else if (scope.Kind == ReductionScopeKind.Column)
                {
                    int count = SegmentCount(layout, j, scope);
                    Span<double> sums = _columnSums.AsSpan(_valueStart[(j * width) + k], count);
                    ReadOnlySpan<double> partials = _columnPartials.AsSpan(_columnOffset[u] + (c * count), count);
                    for (int s = 0; s < count; s++)
                    {
                        sums[s] = max ? Math.Max(sums[s], partials[s]) : sums[s] + partials[s];
                    }

                    c++;
                }
                else if (_cutsSegments[u])
                {
                    for (int edge = 0; edge < 2; edge++)
                    {
                        int segment = SegmentOf(layout, j, scope, edge == 0 ? unitStart : unitEnd - 1);
                        if (EdgeOf(layout, j, scope, segment, unitStart, unitEnd) == edge)
                        {
                            ref double sum = ref _sums[_valueStart[(j * width) + k] + segment];
                            double partial = _edgePartials[(((u * width) + k) * 2) + edge];
                            sum = max ? Math.Max(sum, partial) : sum + partial;
                        }
                    }
                }
            }
        }

        // Group and global reductions: the tensors' sums combined in layout order, the same value in each tensor's slot.
        for (int k = 0; k < width; k++)
        {
            ReductionScopeKind kind = info.Scopes[k].Kind;
            if (kind is not (ReductionScopeKind.Group or ReductionScopeKind.Global))
            {
                continue;
            }

            for (int first = 0; first < layout.TensorCount;)
            {
                int end = kind == ReductionScopeKind.Global ? layout.TensorCount : first + layout.TensorCountOf(layout.GroupOf(first));
                double total = 0;
                for (int j = first; j < end; j++)
                {
                    double sum = _sums[_valueStart[(j * width) + k]];
                    total = _kinds[k] == ReductionKind.MaxAbs ? Math.Max(total, sum) : total + sum;
                }

                for (int j = first; j < end; j++)
                {
                    _sums[_valueStart[(j * width) + k]] = total;
                }

                first = end;
            }
        }

        for (int j = 0; j < layout.TensorCount; j++)
        {
            for (int k = 0; k < width; k++)
            {
                ReductionScope scope = info.Scopes[k];
                bool isColumn = scope.Kind == ReductionScopeKind.Column;
                Span<double> values = (isColumn ? _columnSums : _sums).AsSpan(_valueStart[(j * width) + k], SegmentCount(layout, j, scope));
                for (int s = 0; s < values.Length; s++)
                {
                    long n = SegmentLength(layout, j, scope, s);
                    values[s] = ReductionFormulas.Finish(_kinds[k], values[s], n);
                    if (isColumn)
                    {
                        _columnValues[_valueStart[(j * width) + k] + s] = (float)values[s];
                    }
                }
            }
        }

        if (info.HasCompactState)
        {
            StepPlan plan = CurrentPlan;
            ref byte state = ref State<TState>(0, 0, 0);
            Span<nint> planes = stackalloc nint[info.StateScopes.Length];
            for (int j = 0; j < layout.TensorCount; j++)
            {
                for (int k = 0; k < planes.Length; k++)
                {
                    planes[k] = Unsafe.ByteOffset(ref state, ref State<TState>(k, j, 0));
                }

                var arguments = new KernelArguments
                {
                    Hyperparameters = plan.Hyperparameters(layout.GroupOf(j)),
                    HostState = plan.HostState(layout.GroupOf(j)),
                    Step = plan.Step,
                    GradientScale = plan.GradientScale,
                    BatchSize = plan.BatchSize,
                    MaxDegreeOfParallelism = 1,
                };
                var segments = new SegmentArguments(layout, j, ref state, planes, _sums, _columnValues, _valueStart.AsSpan(j * width, width), info.Scopes, _kinds);
                UpdateSegments<TState>(in arguments, ref segments);
            }
        }

        RunUnits<TParameter, TGradient, TState>(1, units.Length);
    }

    private void RunScopedUnit<TParameter, TGradient, TState>(int pass, int unit, Piece u, scoped in KernelArguments arguments)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
        ScopeInfo info = Info!;
        int width = info.Scopes.Length;
        Span<nint> planes = stackalloc nint[info.StateScopes.Length];
        Span<nint> planeBase = stackalloc nint[info.StateScopes.Length];
        Span<double> slots = stackalloc double[Math.Max(1, width)];
        if (pass == 0)
        {
            _unitPartials.AsSpan(unit * width, width).Clear();
            _edgePartials.AsSpan(unit * width * 2, width * 2).Clear();
            _columnPartials.AsSpan(_columnOffset[unit], _columnOffset[unit + 1] - _columnOffset[unit]).Clear();
        }

        ref byte state = ref planes.Length == 0 ? ref Unsafe.NullRef<byte>() : ref State<TState>(0, 0, 0);
        for (int k = 0; k < planes.Length; k++)
        {
            planeBase[k] = Unsafe.ByteOffset(ref state, ref State<TState>(k, u.Tensor, 0));
        }

        var run = new PassRun
        {
            UnitParameters = ref Parameters<TParameter>(u.Tensor, u.Start),
            UnitGradients = ref Gradients<TGradient>(u.Tensor, u.Start),
            State = ref state,
            Planes = planes,
            PlaneSlots = planes,
            PlaneBase = planeBase,
            Partials = slots,
            Values = slots,
            Cursor = new RunCursor
            {
                Owner = this,
                Pass = pass,
                Unit = unit,
                Tensor = u.Tensor,
                UnitStart = u.Start,
                UnitEnd = u.Start + u.Length,
                Start = u.Start,
                ParameterSize = TParameter.ElementSize,
                GradientSize = TGradient.ElementSize,
                StateSize = TState.ElementSize,
                RoundingOrigin = typeof(TParameter) == typeof(StochasticBFloat16Codec) ? ArenaOrigin + Layout.ArenaOffsetOf(u.Tensor) : -1,
                RoundingSeed = CurrentPlan.Options.RoundingSeed,
                Step = CurrentPlan.Step,
            },
        };
        if (pass == 0)
        {
            ReduceRuns<TParameter, TGradient, TState>(in arguments, ref run);
        }
        else
        {
            UpdateRuns<TParameter, TGradient, TState>(in arguments, ref run);
        }
    }

    /// <summary>Finishes <paramref name="run"/>'s current run and sets up the next (<see cref="PassRun.MoveNext"/>).</summary>
    internal bool Advance(scoped ref PassRun run)
    {
        ScopeInfo info = Info!;
        ParameterLayout layout = Layout;
        ref RunCursor cursor = ref run.Cursor;
        int j = cursor.Tensor;
        int width = info.Scopes.Length;
        if (cursor.Pass == 0 && run.Length > 0)
        {
            int done = cursor.Start - (int)run.Length;
            for (int k = 0; k < width; k++)
            {
                ReductionScope scope = info.Scopes[k];
                if (scope.Kind == ReductionScopeKind.Column)
                {
                    continue;
                }

                if (!IsPerTensor(scope) && Replaying)
                {
                    // The last pass replays this pass on a staged unit: its row and block sums are already combined.
                    continue;
                }

                int segment = SegmentOf(layout, j, scope, done);
                int edge = IsPerTensor(scope) || !_cutsSegments[cursor.Unit] ? -1 : EdgeOf(layout, j, scope, segment, cursor.UnitStart, cursor.UnitEnd);
                ref double target = ref IsPerTensor(scope)
                    ? ref _unitPartials[(cursor.Unit * width) + k]
                    : ref edge < 0
                        ? ref _sums[_valueStart[(j * width) + k] + segment]
                        : ref _edgePartials[(((cursor.Unit * width) + k) * 2) + edge];
                target = _kinds[k] == ReductionKind.MaxAbs ? Math.Max(target, run.Partials[k]) : target + run.Partials[k];
            }
        }

        if (cursor.Start >= cursor.UnitEnd)
        {
            run.Length = 0;
            return false;
        }

        int start = cursor.Start;
        long end = RunEnd(layout, j, info.AllScopes, start, cursor.UnitEnd);
        (int matrices, _, int columns) = layout.MatrixShapeOf(j);
        int length = (int)end - start;
        int offset = start - cursor.UnitStart;
        if (cursor.RoundingOrigin >= 0)
        {
            // The codec numbers a run's elements from 0: the noise of element i is that of arena position start + i.
            StochasticRounding.SetSeed(cursor.RoundingSeed, cursor.Step, cursor.RoundingOrigin + start);
        }

        run.Length = (nuint)length;
        cursor.Start = start + length;
        run.Parameters = ref Unsafe.AddByteOffset(ref run.UnitParameters, (nint)offset * cursor.ParameterSize);
        run.Gradients = ref Unsafe.AddByteOffset(ref run.UnitGradients, (nint)offset * cursor.GradientSize);
        for (int k = 0; k < run.PlaneSlots.Length; k++)
        {
            int index = info.StateScopes[k] is ReductionScope scope ? SegmentOf(layout, j, scope, start) : start;
            run.PlaneSlots[k] = run.PlaneBase[k] + ((nint)index * cursor.StateSize);
        }

        int stride = matrices * columns;
        run.ColumnStride = (nuint)stride;
        int column = SegmentOf(layout, j, new ReductionScope(ReductionScopeKind.Column), start);
        if (cursor.Pass == 0)
        {
            if (info.ColumnReductions > 0)
            {
                run.Columns = ref _columnPartials[_columnOffset[cursor.Unit] + column];
            }
        }
        else
        {
            for (int k = 0; k < width; k++)
            {
                ReductionScope scope = info.Scopes[k];
                if (scope.Kind == ReductionScopeKind.Column)
                {
                    run.ColumnValues = ref _columnValues[_valueStart[(j * width) + k] + column - (info.FirstColumnOrdinal(k) * stride)];
                    continue;
                }

                run.Partials[k] = _sums[_valueStart[(j * width) + k] + SegmentOf(layout, j, scope, start)];
            }
        }

        return true;
    }

    /// <summary>The scopes of a generated rule's reductions and states.</summary>
    private sealed class ScopeInfo
    {
        public ScopeInfo(ReductionScope[] scopes, ReductionScope?[] stateScopes)
        {
            Scopes = scopes;
            StateScopes = stateScopes;
            var all = new System.Collections.Generic.List<ReductionScope>();
            foreach (ReductionScope s in scopes)
            {
                all.Add(s);
                ColumnReductions += s.Kind == ReductionScopeKind.Column ? 1 : 0;
            }

            foreach (ReductionScope? s in stateScopes)
            {
                if (s is ReductionScope scope)
                {
                    all.Add(scope);
                    HasCompactState = true;
                }
            }

            AllScopes = all.ToArray();
        }

        public ReductionScope[] Scopes { get; }

        public ReductionScope?[] StateScopes { get; }

        /// <summary>The scopes of the reductions and the compact states together.</summary>
        public ReductionScope[] AllScopes { get; }

        public int ColumnReductions { get; }

        /// <summary>How many column reductions come before reduction <paramref name="k"/>.</summary>
        public int FirstColumnOrdinal(int k)
        {
            int c = 0;
            for (int i = 0; i < k; i++)
            {
                c += Scopes[i].Kind == ReductionScopeKind.Column ? 1 : 0;
            }

            return c;
        }

        public bool HasCompactState { get; }
    }
}
