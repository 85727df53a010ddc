using System;
using System.Collections.Generic;
using System.ComponentModel;
using OptGen.Engine;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// The base of the optimizers the generator emits for an expression rule with tensor reductions (<c>norm(p)</c>,
/// <c>sum(g*g)</c>, …): a step is two passes over memory. Pass 1 runs the element statements that feed the
/// reductions and writes each work unit's partial results (in double); the runtime combines them per tensor in unit
/// order and finishes them (√ for a norm, ÷ n for a mean); pass 2 runs the rest of the rule with the tensor's
/// results. Generated code overrides <see cref="Reduce{TParameter, TGradient, TState}"/> and
/// <see cref="Update{TParameter, TGradient, TState}"/>; a rule with row, column or block reductions
/// (<see cref="ReductionScope"/>) or compact state walks each unit run by run instead
/// (<c>ReduceRuns</c>/<c>UpdateRuns</c>) and updates its compact states between the passes
/// (<c>UpdateSegments</c>). User code does not derive from this class.
/// </summary>
/// <remarks>
/// Work units depend only on the layout, never on the thread count, so a step is bit-identical for any
/// <see cref="Optimizer.MaxDegreeOfParallelism"/>. Generated with ILGPU referenced, the rule also has GPU pass kernels
/// that <c>GpuOptimizer</c> runs (docs/gpu.md). Sharding rejects these rules (a shard would reduce over part of a
/// tensor). See <see cref="MultiPassOptimizer"/>.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract partial class ReductionOptimizer : MultiPassOptimizer
{
    private readonly ReductionKind[] _kinds;
    private Piece[]? _units;
    private int[] _stagingGranules = [];
    private double[] _partials = [];
    private double[] _results = [];

    /// <summary>Creates the optimizer; called by generated code.</summary>
    /// <param name="descriptor">The rule's descriptor; its bytes per element must be the sum over <paramref name="passes"/>.</param>
    /// <param name="layout">The tensors and parameter groups.</param>
    /// <param name="passes">The two passes and the element streams each reads and writes.</param>
    /// <param name="reductions">The rule's reductions, in the order pass 1 writes their partials and pass 2 reads their results.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="InvalidOperationException">The passes do not add up to the descriptor's bytes.</exception>
    protected ReductionOptimizer(OptimizerDescriptor descriptor, ParameterLayout layout, PassTraffic[] passes, ReductionKind[] reductions)
        : base(descriptor, layout, PassTraffic.Checked(descriptor, passes ?? throw new ArgumentNullException(nameof(passes))))
    {
        ArgumentNullException.ThrowIfNull(reductions);
        _kinds = (ReductionKind[])reductions.Clone();
        _constructed = true;
    }

    /// <summary>
    /// Pass 1 over the <see cref="KernelArguments.Length"/> elements of one work unit (part of one tensor): writes
    /// the unit's partial result of each reduction into <paramref name="partials"/> (Σx for sum and mean, Σx² for a
    /// norm, max |x| for maxabs), and stores the states the plan keeps from this pass. Must not throw.
    /// </summary>
    /// <param name="arguments">The unit's memory and the step's inputs.</param>
    /// <param name="partials">One slot per reduction.</param>
    protected abstract void Reduce<TParameter, TGradient, TState>(scoped in KernelArguments arguments, Span<double> partials)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec;

    /// <summary>Pass 2 over one work unit: the rest of the rule, with the unit's tensor's finished reductions. Must not throw.</summary>
    /// <param name="arguments">The unit's memory and the step's inputs.</param>
    /// <param name="reductions">The tensor's value of each reduction, in declaration order.</param>
    protected abstract void Update<TParameter, TGradient, TState>(scoped in KernelArguments arguments, ReadOnlySpan<double> reductions)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec;

    /// <inheritdoc/>
    private protected sealed override Piece[]? StageableUnits => Info is null ? _units ??= CutUnits(Layout, _ => 1) : null;

    /// <inheritdoc/>
    private protected sealed override Piece[] PassUnits => _units!;

    /// <inheritdoc/>
    /// <remarks>
    /// A scoped rule's first pass, replayed, rewrites its unit's partials and adds no row or block sums again
    /// (<see cref="Advance"/>). Its compact states are updated between the passes, never in one, and no statement of
    /// the first pass reads one (the generator stores a state compactly only then), so the replay sees what the
    /// first pass saw.
    /// </remarks>
    private protected sealed override bool ReplaysEarlierPasses => true;

    private protected sealed override void RunPasses<TParameter, TGradient, TState>(StepPlan plan)
    {
        if (Info is not null)
        {
            // Scoped units start on a block of the codec where the last pass stages quantized state.
            if (StagingGranulesChanged(ref _stagingGranules) || _units is null)
            {
                _units = CutScopedUnits();
                PrepareScoped(_units);
            }

            RunScopedPasses<TParameter, TGradient, TState>(_units);
            return;
        }

        Piece[] units = _units ??= CutUnits(Layout, _ => 1);
        int width = _kinds.Length;
        if (_partials.Length != units.Length * width || _results.Length != Layout.TensorCount * width)
        {
            _partials = new double[units.Length * width];
            _results = new double[Layout.TensorCount * width];
        }

        RunUnits<TParameter, TGradient, TState>(0, units.Length);

        // Combined per tensor in unit order: the result depends only on the data and the layout.
        Array.Clear(_results);
        for (int u = 0; u < units.Length; u++)
        {
            for (int k = 0; k < width; k++)
            {
                ref double result = ref _results[(units[u].Tensor * width) + k];
                double partial = _partials[(u * width) + k];
                result = _kinds[k] == ReductionKind.MaxAbs ? Math.Max(result, partial) : result + partial;
            }
        }

        for (int j = 0; j < Layout.TensorCount; j++)
        {
            for (int k = 0; k < width; k++)
            {
                ref double result = ref _results[(j * width) + k];
                result = ReductionFormulas.Finish(_kinds[k], result, Layout.LengthOf(j));
            }
        }

        RunUnits<TParameter, TGradient, TState>(1, units.Length);
    }

    private protected sealed override void RunUnit<TParameter, TGradient, TState>(int pass, int unit)
    {
        Piece u = _units![unit];
        StepPlan plan = CurrentPlan;
        var arguments = new KernelArguments
        {
            Hyperparameters = plan.Hyperparameters(u.Group),
            HostState = plan.HostState(u.Group),
            Step = plan.Step,
            GradientScale = plan.GradientScale,
            BatchSize = plan.BatchSize,
            Parameters = ref Parameters<TParameter>(u.Tensor, u.Start),
            Gradients = ref Gradients<TGradient>(u.Tensor, u.Start),
            State = ref State<TState>(0, u.Tensor, u.Start),
            StateStride = StateStride,
            Length = (nuint)u.Length,
            MaxDegreeOfParallelism = 1,
        };
        if (Info is not null)
        {
            if (pass == 1)
            {
                SeedRounding<TParameter>(plan, u);
            }

            RunScopedUnit<TParameter, TGradient, TState>(pass, unit, u, in arguments);
            return;
        }

        int width = _kinds.Length;
        if (pass == 0)
        {
            Reduce<TParameter, TGradient, TState>(in arguments, _partials.AsSpan(unit * width, width));
        }
        else
        {
            SeedRounding<TParameter>(plan, u);

            Update<TParameter, TGradient, TState>(in arguments, _results.AsSpan(u.Tensor * width, width));
        }
    }
}
