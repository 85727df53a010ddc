using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using OptGen.Engine;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// The base of the catalog's rules with reductions (<see cref="Lamb"/>, <see cref="Lars"/>, <see cref="AdamMini"/>,
/// <see cref="Adafactor"/>): a step is several passes over memory, each cut into fixed work units of one tensor;
/// reductions are per-unit partial results in double, combined per tensor (row, column, block) in unit order.
/// </summary>
/// <remarks>
/// <para>Units depend only on the layout (tensor lengths and shapes), never on the thread count, so every reduction
/// and therefore every result is bit-identical for any <see cref="Optimizer.MaxDegreeOfParallelism"/>.</para>
/// <para>Runs on the step engine like every other rule (schedules, parameter groups, <see cref="StepOptions"/>
/// gradient scaling, clipping and skipping, Half and bfloat16 parameters and gradients, bfloat16 state,
/// checkpoints). Every rule also takes 8-bit and 4-bit blockwise state and a state precision per
/// parameter group (the state is staged per work unit and written once per step; compact state stays float32; see
/// the Staged part of this class and docs/training.md). <c>GpuOptimizer</c> runs them as device passes (docs/gpu.md). Not
/// available: sharding across processes (a reduction over a tensor that a shard cuts would see only the shard's part).</para>
/// </remarks>
public abstract partial class MultiPassOptimizer : Optimizer
{
    private StepPlan? _plan;
    private Slot[] _slots = [];
    private nint _state;
    private nuint _stride;
    private StateStorage? _storage;

    private protected MultiPassOptimizer(OptimizerDescriptor descriptor, ParameterLayout layout, IReadOnlyList<PassTraffic> passes)
        : base(descriptor, layout)
    {
        Passes = passes;
        (_stagedReads, _stagedWrites, _lastPassOnly) = StagedPlanes(descriptor, passes);
    }

    /// <summary>
    /// The passes of one step over memory and the element streams each reads and writes (float32); their sum is the
    /// descriptor's bytes per element. Per-tensor, per-row or per-block results between passes are not counted.
    /// </summary>
    public IReadOnlyList<PassTraffic> Passes { get; }

    /// <summary>Not used: a multi-pass rule runs its passes through the step engine (<see cref="Optimizer.Step(Span{float}, ReadOnlySpan{float})"/>).</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected sealed override void RunKernel<TParameter, TGradient, TState>(scoped in KernelArguments arguments) =>
        throw new NotSupportedException($"{Descriptor.Name} updates in several passes with reductions between them; it has no single fused kernel to run over one buffer.");

    /// <inheritdoc/>
    internal sealed override bool UpdatesInPasses => true;

    /// <summary>The distance, in elements, between state planes of the step being run (valid only inside a pass; 0 with compact state).</summary>
    private protected nuint StateStride => _staged is null ? _stride : t_windowStride;

    /// <summary>The plan of the step being run (valid only inside <see cref="RunPasses{TParameter, TGradient, TState}"/>).</summary>
    private protected StepPlan CurrentPlan => _plan!;

    /// <inheritdoc/>
    internal sealed override unsafe void UpdateInPasses<TParameter, TGradient, TState>(StepPlan plan, Slot[] slots, nint state, nuint stride)
    {
        // Compact state follows the step's hyperparameters (Adam-mini's BlockSize); the backend's address is then stale.
        FitState(plan);
        StateStorage storage = StateStorage;
        _plan = plan;
        _slots = slots;
        _storage = storage;
        _state = (nint)Unsafe.AsPointer(ref storage.Base);
        _stride = (nuint)storage.Stride;
        _staged = Blockwise;
        if (_staged is not null)
        {
            EnsureStagingSlots(plan.Threads);
        }

        try
        {
            RunPasses<TParameter, TGradient, TState>(plan);
        }
        finally
        {
            _plan = null;
            _slots = [];
            _state = 0;
            _storage = null;
            _staged = null;
        }
    }

    /// <summary>
    /// Seeds stochastic rounding for work unit <paramref name="unit"/> by its arena position, as the one-pass engine
    /// does (so a unit's bits do not depend on how the layout is cut); nothing when the parameters round to nearest.
    /// </summary>
    private protected void SeedRounding<TParameter>(StepPlan plan, Piece unit)
        where TParameter : struct, IElementCodec
    {
        if (typeof(TParameter) == typeof(StochasticBFloat16Codec))
        {
            StochasticRounding.SetSeed(plan.Options.RoundingSeed, plan.Step, ArenaOrigin + plan.Layout.ArenaOffsetOf(unit.Tensor) + unit.Start);
        }
    }

    /// <summary>Runs every pass of one step (calls <see cref="RunUnits{TParameter, TGradient, TState}"/> once per pass, with host work between).</summary>
    private protected abstract void RunPasses<TParameter, TGradient, TState>(StepPlan plan)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec;

    /// <summary>
    /// Pass <paramref name="pass"/> over work unit <paramref name="unit"/>; runs on any thread, must not throw. The
    /// catalog's implementations (and the helpers with their loops) are marked
    /// <see cref="System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization"/>, as
    /// <c>UpdateDriver.RunRange</c> is: a step calls each a few dozen times, so tiering would run the first steps'
    /// loops in unoptimized or on-stack-replacement code (seen in the JIT's listing of Adafactor's passes).
    /// </summary>
    private protected abstract void RunUnit<TParameter, TGradient, TState>(int pass, int unit)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec;

    /// <summary>Runs pass <paramref name="pass"/> over units 0 … <paramref name="count"/> − 1 on the plan's threads.</summary>
    private protected void RunUnits<TParameter, TGradient, TState>(int pass, int count)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec =>
        ParallelUpdate.RunPieces(new PassBody<TParameter, TGradient, TState>(this, pass), count, CurrentPlan.Threads);

    /// <summary>The parameters of <paramref name="tensor"/> from element <paramref name="start"/>.</summary>
    private protected unsafe ref byte Parameters<TParameter>(int tensor, int start)
        where TParameter : struct, IElementCodec =>
        ref *(byte*)(_slots[tensor].Parameters + ((nint)start * TParameter.ElementSize));

    /// <summary>The gradients of <paramref name="tensor"/> from element <paramref name="start"/>.</summary>
    private protected unsafe ref byte Gradients<TGradient>(int tensor, int start)
        where TGradient : struct, IElementCodec =>
        ref *(byte*)(_slots[tensor].Gradients + ((nint)start * TGradient.ElementSize));

    /// <summary>State plane <paramref name="plane"/> of <paramref name="tensor"/> from element <paramref name="start"/> of the tensor's extent in it.</summary>
    private protected unsafe ref byte State<TState>(int plane, int tensor, int start)
        where TState : struct, IElementCodec =>
        ref _staged is null
            ? ref *(byte*)(_state + (((nint)_storage!.PlaneStart(plane) + _storage.OffsetOf(plane, tensor, Layout) + start) * TState.ElementSize))
            : ref StagedState<TState>(plane, tensor, start);

    /// <summary>
    /// Cuts every tensor into units of whole runs of <paramref name="granule"/> elements (rows, blocks; 1 for
    /// elements), about <paramref name="target"/> elements each and at most <paramref name="maxPerTensor"/>(tensor)
    /// per tensor; each unit starts on a multiple of 16 elements when <paramref name="granule"/> is 1.
    /// </summary>
    private protected static Piece[] CutUnits(ParameterLayout layout, Func<int, int> granule, int target = StepPlan.PieceLength, Func<int, int>? maxPerTensor = null)
    {
        var units = new List<Piece>();
        for (int j = 0; j < layout.TensorCount; j++)
        {
            int length = layout.LengthOf(j);
            int size = Math.Max(1, granule(j));
            int runs = (length + size - 1) / size;
            int perUnit = Math.Max(1, target / size);
            if (size == 1)
            {
                perUnit = Math.Max(16, perUnit / 16 * 16);
            }

            int most = Math.Max(1, maxPerTensor?.Invoke(j) ?? int.MaxValue);
            if (most != int.MaxValue && (runs + perUnit - 1) / perUnit > most)
            {
                perUnit = (runs + most - 1) / most;
            }

            for (int r = 0; r < runs; r += perUnit)
            {
                int start = r * size;
                int end = (int)Math.Min(length, (long)(r + perUnit) * size);
                units.Add(new Piece(j, layout.GroupOf(j), start, end - start));
            }
        }

        return units.ToArray();
    }

    /// <summary>
    /// Adds the per-unit partial sums <paramref name="partials"/> (<paramref name="width"/> per unit) into one set per
    /// tensor, in unit order: the result depends only on the data and the layout.
    /// </summary>
    private protected static void SumPerTensor(Piece[] units, double[] partials, int width, double[] perTensor)
    {
        Array.Clear(perTensor);
        for (int u = 0; u < units.Length; u++)
        {
            int tensor = units[u].Tensor;
            for (int k = 0; k < width; k++)
            {
                perTensor[(tensor * width) + k] += partials[(u * width) + k];
            }
        }
    }

    /// <summary>One pass over one unit, on the thread that claimed it.</summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly struct PassBody<TParameter, TGradient, TState>(MultiPassOptimizer owner, int pass) : IPieceBody
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
        public void Run(int piece)
        {
            if (owner._staged is { } state)
            {
                owner.RunStaged<TParameter, TGradient>(pass, piece, state);
            }
            else
            {
                owner.RunUnit<TParameter, TGradient, TState>(pass, piece);
            }
        }
    }
}
