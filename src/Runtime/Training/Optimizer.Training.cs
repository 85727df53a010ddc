using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using OptGen.Engine;
using OptGen.Kernels;

namespace OptGen;

/// <summary>The training side of the optimizer: parameter groups, many tensors per step, norm, clipping, skipping, schedules.</summary>
public abstract partial class Optimizer
{
    private double[][] _groupHyperparameters;

    // Carried host scalars per group (group 0 shares the single-tensor path's array); advanced once per step.
    private double[][] _groupHostState;
    private ParameterGroup[]? _groups;
    private List<ScheduleBinding>? _schedules;

    // Per-step scratch of the CPU adapters, allocated with the optimizer (PrepareStepScratch): one buffer pair per
    // tensor, the norm's partial sums (one per piece), the overlap check's intervals and the per-tensor overloads' pin
    // handles.
    private Slot[] _slots;
    private double[] _partialSums;
    private Interval[] _intervals;
    private MemoryHandle[] _handles;

    // The scheduled values of a step with more schedules than ApplySchedules keeps on the stack; kept for the next step.
    private double[]? _scheduleValues;

    /// <summary>The tensors and parameter groups this optimizer updates.</summary>
    public ParameterLayout Layout { get; }

    /// <summary>
    /// The parameter groups, each with its own hyperparameter values. Setting a hyperparameter on the optimizer
    /// itself (a typed property or its indexer) sets it in every group; reading it reads group 0.
    /// </summary>
    public IReadOnlyList<ParameterGroup> Groups
    {
        get
        {
            if (_groups is null)
            {
                var groups = new ParameterGroup[Layout.GroupCount];
                for (int k = 0; k < groups.Length; k++)
                {
                    groups[k] = new ParameterGroup(this, k);
                }

                _groups = groups;
            }

            return _groups;
        }
    }

    /// <summary>A read-only view of tensor <paramref name="tensor"/>'s part of the state buffer called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">The rule has no such state buffer.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tensor"/> is not a tensor of <see cref="Layout"/>.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer, or the tensor's state is not stored as float32 (read it with <see cref="CopyState"/>).</exception>
    public ReadOnlySpan<float> GetState(string name, int tensor)
    {
        int index = StateIndexOf(name, tensor);

        ThrowIfBusy(nameof(GetState));
        if (_blockwise is { } blockwise)
        {
            // Per-tensor state: a tensor kept in float32 (below the threshold, or in a float32 group) is a view.
            return blockwise.BitsOf(tensor) == 0
                ? blockwise.Floats(index, tensor)
                : throw new InvalidOperationException($"Tensor {tensor}'s state is not stored as float32 (bfloat16, 8-bit or 4-bit); read it with CopyState.");
        }

        return _state.Plane(index).Slice(_state.OffsetOf(index, tensor, Layout), _state.LengthOf(index, tensor, Layout));
    }

    /// <summary>
    /// Drives a hyperparameter of every group by <paramref name="schedule"/>: before each step the value becomes
    /// <c>schedule.ValueAt(StepCount)</c> (the same value as a <c>torch.optim.lr_scheduler</c> at
    /// <c>last_epoch = StepCount</c>). Pass null to stop scheduling it.
    /// </summary>
    /// <exception cref="ArgumentException">The rule has no such hyperparameter.</exception>
    public void SetSchedule(string hyperparameter, Schedule? schedule) => SetSchedule(-1, hyperparameter, schedule);

    /// <summary>
    /// One step over every tensor of <see cref="Layout"/>, stored back to back in one arena each for the parameters and
    /// the gradients (tensor j at <see cref="ParameterLayout.ArenaOffsetOf"/>).
    /// </summary>
    /// <param name="parameters">The parameter arena; <see cref="Length"/> elements, updated in place.</param>
    /// <param name="gradients">The gradient arena; <see cref="Length"/> elements, not overlapping <paramref name="parameters"/>.</param>
    /// <param name="options">Unscaling, clipping, skipping and parallelism; null for <see cref="StepOptions.Default"/>.</param>
    /// <returns>Whether the step was taken, the gradient norm and the clip factor.</returns>
    /// <exception cref="ArgumentException">A length differs from <see cref="Length"/>, or the buffers overlap. Nothing is written.</exception>
    public StepResult Step(Span<float> parameters, ReadOnlySpan<float> gradients, StepOptions? options) =>
        StepArena<Float32Codec, Float32Codec, float, float>(parameters, gradients, options);

    /// <summary>One step over every tensor of <see cref="Layout"/>, each in its own buffer.</summary>
    /// <param name="parameters">One buffer per tensor, in <see cref="Layout"/> order, each of the tensor's length; updated in place.</param>
    /// <param name="gradients">One buffer per tensor, in the same order; none may overlap a parameter buffer.</param>
    /// <param name="options">Unscaling, clipping, skipping and parallelism; null for <see cref="StepOptions.Default"/>.</param>
    /// <returns>Whether the step was taken, the gradient norm and the clip factor.</returns>
    /// <exception cref="ArgumentException">
    /// The number of buffers or a length does not match <see cref="Layout"/>, or a parameter buffer overlaps another
    /// parameter or gradient buffer. Nothing is written.
    /// </exception>
    public StepResult Step(ReadOnlySpan<Memory<float>> parameters, ReadOnlySpan<ReadOnlyMemory<float>> gradients, StepOptions? options = null) =>
        StepTensors<Float32Codec, Float32Codec, float, float>(parameters, gradients, options);

    private StepResult StepTensors<TParameter, TGradient, TParameterElement, TGradientElement>(ReadOnlySpan<Memory<TParameterElement>> parameters, ReadOnlySpan<ReadOnlyMemory<TGradientElement>> gradients, StepOptions? options)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TParameterElement : unmanaged
        where TGradientElement : unmanaged =>
        StepTensors<TParameter, TGradient, TParameterElement, TGradientElement>(parameters, gradients, default, hasSquares: false, options);

    /// <summary>The per-tensor step; <paramref name="squares"/> (one buffer per tensor, stored like the gradients) when <paramref name="hasSquares"/>.</summary>
    private unsafe StepResult StepTensors<TParameter, TGradient, TParameterElement, TGradientElement>(ReadOnlySpan<Memory<TParameterElement>> parameters, ReadOnlySpan<ReadOnlyMemory<TGradientElement>> gradients, ReadOnlySpan<ReadOnlyMemory<TGradientElement>> squares, bool hasSquares, StepOptions? options)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TParameterElement : unmanaged
        where TGradientElement : unmanaged
    {
        options ??= StepOptions.Default;
        ThrowIfSquaresMismatch(hasSquares);
        int count = Layout.TensorCount;
        ThrowIfNotTensorsOf(Layout, parameters, gradients);

        if (hasSquares)
        {
            ThrowIfSquaresDoNotMatch(squares);
        }

        using StepGuard guard = EnterGuard(nameof(Step));
        MemoryHandle[] handles = _handles;
        Slot[] slots = _slots;
        int pinned = 0;
        try
        {
            for (int j = 0; j < count; j++)
            {
                // Each buffer is read from the caller's span once, and what is pinned is checked again: another thread
                // may have replaced an element of the caller's array since the checks above (the step would write the
                // layout's length into a shorter buffer).
                Memory<TParameterElement> parameter = parameters[j];
                ReadOnlyMemory<TGradientElement> gradient = gradients[j];
                ThrowIfNotTensorOf(Layout, j, parameter.Length, gradient.Length);
                handles[pinned++] = parameter.Pin();
                handles[pinned++] = gradient.Pin();
                slots[j] = new Slot((nint)handles[pinned - 2].Pointer, (nint)handles[pinned - 1].Pointer);
                if (hasSquares)
                {
                    ReadOnlyMemory<TGradientElement> square = squares[j];
                    ThrowIfSquaresNotTensorOf(j, square.Length);
                    handles[pinned++] = square.Pin();
                    slots[j] = slots[j] with { Inputs = (nint)handles[pinned - 1].Pointer };
                }
            }

            ThrowIfOverlapping(Layout, slots, sizeof(TParameterElement), sizeof(TGradientElement));
            return StepOnCpu<TParameter, TGradient>(slots, options);
        }
        finally
        {
            for (int h = 0; h < pinned; h++)
            {
                handles[h].Dispose();
                handles[h] = default;
            }
        }
    }

    internal double GetGroupHyperparameter(int group, string hyperparameter) => _groupHyperparameters[group][IndexOf(hyperparameter)];

    internal void SetGroupHyperparameter(int group, string hyperparameter, double value)
    {
        int index = IndexOf(hyperparameter);
        ThrowIfRejected(index, value);

        using StepGuard guard = EnterGuard("Setting a group's hyperparameter");
        _groupHyperparameters[group][index] = value;
    }

    internal void SetSchedule(int group, string hyperparameter, Schedule? schedule)
    {
        int index = IndexOf(hyperparameter);
        using StepGuard guard = EnterGuard(nameof(SetSchedule));

        // A schedule for every group replaces all schedules of that hyperparameter; a group's own schedule replaces
        // only that group's, and overrides the every-group schedule there (see ApplySchedules).
        _schedules?.RemoveAll(b => b.Hyperparameter == index && (group < 0 || b.Group == group));
        if (schedule is not null)
        {
            (_schedules ??= []).Add(new ScheduleBinding(group, index, schedule));
        }
        else if (_schedules is { Count: 0 })
        {
            _schedules = null;
        }
    }

    /// <summary>Per-group carried host scalars; group 0's is the optimizer's own array, so single-group steps see every change.</summary>
    private double[][] CreateGroupHostStates()
    {
        var groups = new double[Layout.GroupCount][];
        groups[0] = _hostState;
        for (int k = 1; k < groups.Length; k++)
        {
            groups[k] = new double[_hostState.Length];
        }

        return groups;
    }

    /// <summary>Per-group hyperparameter arrays; group 0's is the optimizer's own array, so single-group steps see every change.</summary>
    private double[][] CreateGroups()
    {
        var groups = new double[Layout.GroupCount][];
        groups[0] = _hyperparameters;
        for (int k = 1; k < groups.Length; k++)
        {
            groups[k] = (double[])_hyperparameters.Clone();
        }

        return groups;
    }

    private void SetInEveryGroup(int index, double value)
    {
        for (int k = 1; k < _groupHyperparameters.Length; k++)
        {
            _groupHyperparameters[k][index] = value;
        }
    }

    /// <summary>Fills every state plane of <paramref name="state"/> with each tensor's group's initial value.</summary>
    private void InitializeState(StateStorage state)
    {
        for (int k = 0; k < state.Count; k++)
        {
            int source = Descriptor.States[k].InitialValueHyperparameter;
            bool single = state.ElementSize == sizeof(float);
            if (single)
            {
                state.Elements<float>(k, 0, state.PlaneLength(k)).Clear();
            }
            else
            {
                state.Elements<ushort>(k, 0, state.PlaneLength(k)).Clear();
            }

            if (source < 0)
            {
                continue;
            }

            for (int j = 0; j < Layout.TensorCount; j++)
            {
                float value = (float)_groupHyperparameters[Layout.GroupOf(j)][source];
                if (single)
                {
                    state.Elements<float>(k, state.OffsetOf(k, j, Layout), state.LengthOf(k, j, Layout)).Fill(value);
                }
                else
                {
                    state.Elements<ushort>(k, state.OffsetOf(k, j, Layout), state.LengthOf(k, j, Layout)).Fill(BFloat16Codec.Narrow(value));
                }
            }
        }
    }

    private StepResult StepArena<TParameter, TGradient, TParameterElement, TGradientElement>(Span<TParameterElement> parameters, ReadOnlySpan<TGradientElement> gradients, StepOptions? options)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TParameterElement : unmanaged
        where TGradientElement : unmanaged =>
        StepArena<TParameter, TGradient, TParameterElement, TGradientElement>(parameters, gradients, default, hasSquares: false, options);

    /// <summary>The arena step; <paramref name="squares"/> (an arena stored like the gradients) when <paramref name="hasSquares"/>.</summary>
    private unsafe StepResult StepArena<TParameter, TGradient, TParameterElement, TGradientElement>(Span<TParameterElement> parameters, ReadOnlySpan<TGradientElement> gradients, ReadOnlySpan<TGradientElement> squares, bool hasSquares, StepOptions? options)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TParameterElement : unmanaged
        where TGradientElement : unmanaged
    {
        options ??= StepOptions.Default;
        ThrowIfSquaresMismatch(hasSquares);
        if (parameters.Length != Length)
        {
            throw new ArgumentException($"Expected {Length} parameters but got {parameters.Length}.", nameof(parameters));
        }

        if (gradients.Length != Length)
        {
            throw new ArgumentException($"Expected {Length} gradients but got {gradients.Length}.", nameof(gradients));
        }

        if (MemoryMarshal.AsBytes(parameters).Overlaps(MemoryMarshal.AsBytes(gradients)))
        {
            throw new ArgumentException("The gradients overlap the parameters; the update is in place and needs separate buffers.", nameof(gradients));
        }

        if (hasSquares)
        {
            ThrowIfSquaresDoNotMatch(MemoryMarshal.AsBytes(parameters), MemoryMarshal.AsBytes(squares), squares.Length);
        }

        using StepGuard guard = EnterGuard(nameof(Step));
        Slot[] slots = _slots;
        fixed (TParameterElement* p = parameters)
        fixed (TGradientElement* g = gradients)
        fixed (TGradientElement* q = squares)
        {
            for (int j = 0; j < slots.Length; j++)
            {
                int offset = Layout.ArenaOffsetOf(j);
                slots[j] = new Slot((nint)(p + offset), (nint)(g + offset), hasSquares ? (nint)(q + offset) : 0);
            }

            return StepOnCpu<TParameter, TGradient>(slots, options);
        }
    }

    /// <summary>Throws unless there is one parameter and one gradient buffer per tensor of <paramref name="layout"/>, each of the tensor's length.</summary>
    internal static void ThrowIfNotTensorsOf<TParameterElement, TGradientElement>(ParameterLayout layout, ReadOnlySpan<Memory<TParameterElement>> parameters, ReadOnlySpan<ReadOnlyMemory<TGradientElement>> gradients)
    {
        int count = layout.TensorCount;
        if (parameters.Length != count)
        {
            throw new ArgumentException($"Expected {count} parameter tensors but got {parameters.Length}.", nameof(parameters));
        }

        if (gradients.Length != count)
        {
            throw new ArgumentException($"Expected {count} gradient tensors but got {gradients.Length}.", nameof(gradients));
        }

        for (int j = 0; j < count; j++)
        {
            ThrowIfNotTensorOf(layout, j, parameters[j].Length, gradients[j].Length);
        }
    }

    /// <summary>Throws unless tensor <paramref name="j"/>'s parameter and gradient buffers have the layout's length (also for the sharded step, src/Distributed, on the buffers it pins).</summary>
    internal static void ThrowIfNotTensorOf(ParameterLayout layout, int j, int parameterLength, int gradientLength)
    {
        if (parameterLength != layout.LengthOf(j))
        {
            throw new ArgumentException($"Parameter tensor {j} has {parameterLength} elements; the layout says {layout.LengthOf(j)}.", "parameters");
        }

        if (gradientLength != layout.LengthOf(j))
        {
            throw new ArgumentException($"Gradient tensor {j} has {gradientLength} elements; the layout says {layout.LengthOf(j)}.", "gradients");
        }
    }

    /// <summary>
    /// Throws when a parameter buffer overlaps any other buffer of the step, or a gradient buffer a parameter buffer
    /// (two tensors may read the same gradients). Sorts the buffers by address and sweeps; allocates nothing after
    /// the first call. <paramref name="layout"/> gives the tensors' lengths: this optimizer's, or the whole model's
    /// for a sharded step (src/Distributed).
    /// </summary>
    internal void ThrowIfOverlapping(ParameterLayout layout, ReadOnlySpan<Slot> slots, int parameterSize, int gradientSize)
    {
        Interval[] intervals = _intervals is { } scratch && scratch.Length >= 3 * slots.Length ? scratch : (_intervals = new Interval[3 * slots.Length]);
        int n = 0;
        for (int j = 0; j < slots.Length; j++)
        {
            nuint length = (nuint)layout.LengthOf(j);
            if (length == 0)
            {
                continue;
            }

            intervals[n++] = new Interval((nuint)slots[j].Parameters, (nuint)slots[j].Parameters + (length * (nuint)parameterSize), j, IsParameter: true);
            intervals[n++] = new Interval((nuint)slots[j].Gradients, (nuint)slots[j].Gradients + (length * (nuint)gradientSize), j, IsParameter: false);
            if (slots[j].Inputs != 0)
            {
                intervals[n++] = new Interval((nuint)slots[j].Inputs, (nuint)slots[j].Inputs + (length * (nuint)gradientSize), j, IsParameter: false, IsInput: true);
            }
        }

        Span<Interval> sorted = intervals.AsSpan(0, n);
        sorted.Sort();
        nuint endAll = 0, endParameters = 0;
        int lastAll = -1, lastParameter = -1;
        foreach (Interval interval in sorted)
        {
            if (interval.IsParameter && interval.Start < endAll)
            {
                throw new ArgumentException($"Parameter tensor {interval.Tensor} overlaps another buffer of the step (tensor {lastAll}); the update is in place and needs separate buffers.", "parameters");
            }

            if (!interval.IsParameter && interval.Start < endParameters)
            {
                throw interval.IsInput
                    ? new ArgumentException($"Per-example squares tensor {interval.Tensor} overlaps parameter tensor {lastParameter}; the update is in place and needs separate buffers.", PerExampleSquaresArgument)
                    : new ArgumentException($"Gradient tensor {interval.Tensor} overlaps parameter tensor {lastParameter}; the update is in place and needs separate buffers.", "gradients");
            }

            if (interval.End > endAll)
            {
                endAll = interval.End;
                lastAll = interval.Tensor;
            }

            if (interval.IsParameter && interval.End > endParameters)
            {
                endParameters = interval.End;
                lastParameter = interval.Tensor;
            }
        }
    }

    /// <summary>Runs the step on the CPU backend with the state's codec; the caller holds the guard and has filled <paramref name="slots"/>.</summary>
    private StepResult StepOnCpu<TParameter, TGradient>(Slot[] slots, StepOptions options)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
    {
        double[] partialSums = _partialSums;
        if (_state.ElementSize == sizeof(float) || _blockwise is not null)
        {
            var backend = new CpuBackend<TParameter, TGradient, Float32Codec>(this, slots, partialSums);
            return RunStep(ref backend, options);
        }
        else
        {
            var backend = new CpuBackend<TParameter, TGradient, BFloat16Codec>(this, slots, partialSums);
            return RunStep(ref backend, options);
        }
    }

    /// <summary>
    /// Writes every scheduled hyperparameter's value for the coming step into the plan's per-group snapshot; checks
    /// every value before writing any.
    /// </summary>
    private void ApplySchedules(StepPlan plan)
    {
        List<ScheduleBinding> schedules = _schedules!;
        Span<double> values = schedules.Count <= 32 ? stackalloc double[schedules.Count] : ScheduleValues(schedules.Count);
        for (int b = 0; b < schedules.Count; b++)
        {
            ScheduleBinding binding = schedules[b];
            HyperparameterDescriptor descriptor = Descriptor.Hyperparameters[binding.Hyperparameter];
            values[b] = binding.Schedule.ValueAt(StepCount);
            if (!descriptor.Accepts(values[b]))
            {
                throw new InvalidOperationException($"The schedule of {descriptor.Name} gives {values[b]} at step {StepCount}, but {descriptor.Name} must be {descriptor.RangeText}. Nothing was written.");
            }

            if (RuleLimitProblem(binding.Hyperparameter, values[b]) is { } problem)
            {
                throw new InvalidOperationException($"The schedule of {descriptor.Name} gives {values[b]} at step {StepCount}: {problem} Nothing was written.");
            }
        }

        // Every-group schedules first, then each group's own, which therefore win for their group.
        foreach (bool everyGroup in (ReadOnlySpan<bool>)[true, false])
        {
            for (int b = 0; b < schedules.Count; b++)
            {
                ScheduleBinding binding = schedules[b];
                if ((binding.Group < 0) != everyGroup)
                {
                    continue;
                }

                for (int k = 0; k < Layout.GroupCount; k++)
                {
                    if (binding.Group < 0 || binding.Group == k)
                    {
                        plan.HyperparameterSnapshot(k)[binding.Hyperparameter] = values[b];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Makes the step plan and the CPU adapters' scratch, which depend only on the layout and the rule: called by the
    /// constructor, so the first step allocates no more than any step.
    /// </summary>
    [MemberNotNull(nameof(_slots), nameof(_partialSums), nameof(_intervals), nameof(_handles))]
    private void PrepareStepScratch()
    {
        int count = Layout.TensorCount;
        _slots = new Slot[count];
        _handles = new MemoryHandle[3 * count];
        _intervals = new Interval[3 * count];
        _partialSums = new double[Plan.NormPartialsLength];
    }

    /// <summary>The first <paramref name="count"/> elements of <see cref="_scheduleValues"/>, grown when it is shorter (so a warmed-up step allocates nothing).</summary>
    private Span<double> ScheduleValues(int count)
    {
        if (_scheduleValues is null || _scheduleValues.Length < count)
        {
            _scheduleValues = new double[count];
        }

        return _scheduleValues.AsSpan(0, count);
    }

    /// <summary>One buffer of the overlap check, ordered by start address.</summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly record struct Interval(nuint Start, nuint End, int Tensor, bool IsParameter, bool IsInput = false) : IComparable<Interval>
    {
        public int CompareTo(Interval other) => Start.CompareTo(other.Start);
    }

    private sealed record ScheduleBinding(int Group, int Hyperparameter, Schedule Schedule);
}
