using System;
using System.Buffers;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Threading;
using System.Threading.Tasks;
using OptGen.Kernels;

namespace OptGen;

/// <summary>The training side of the optimizer: parameter groups, many tensors per step, norm, clipping, skipping, schedules.</summary>
public abstract partial class Optimizer
{
    /// <summary>
    /// Elements per work piece: the unit of work handed to a core and of the gradient-norm partial sums. A multiple
    /// of 16, so pieces start on 16-element boundaries and the only scalar tails are at tensor ends.
    /// </summary>
    internal const int PieceLength = 16384;

    /// <summary>Below this many elements a step runs on the calling thread only.</summary>
    internal const int ParallelThreshold = 65536;

    private double[][] _groupHyperparameters;

    // Carried host scalars per group (group 0 shares the single-tensor path's array); advanced once per step.
    private double[][] _groupHostState;
    private ParameterGroup[]? _groups;
    private Piece[]? _pieces;
    private double[]? _partialSums;
    private List<ScheduleBinding>? _schedules;

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
    public ReadOnlySpan<float> GetState(string name, int tensor)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentOutOfRangeException.ThrowIfNegative(tensor);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(tensor, Layout.TensorCount);
        int index = Descriptor.IndexOfState(name);
        if (index < 0)
        {
            throw new ArgumentException($"The rule '{Descriptor.Name}' has no state buffer '{name}'.", nameof(name));
        }

        return _state.Plane(index).Slice(Layout.StateOffsetOf(tensor), Layout.LengthOf(tensor));
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

    private unsafe StepResult StepTensors<TParameter, TGradient, TParameterElement, TGradientElement>(ReadOnlySpan<Memory<TParameterElement>> parameters, ReadOnlySpan<ReadOnlyMemory<TGradientElement>> gradients, StepOptions? options)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TParameterElement : unmanaged
        where TGradientElement : unmanaged
    {
        options ??= StepOptions.Default;
        int count = Layout.TensorCount;
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
            if (parameters[j].Length != Layout.LengthOf(j))
            {
                throw new ArgumentException($"Parameter tensor {j} has {parameters[j].Length} elements; the layout says {Layout.LengthOf(j)}.", nameof(parameters));
            }

            if (gradients[j].Length != Layout.LengthOf(j))
            {
                throw new ArgumentException($"Gradient tensor {j} has {gradients[j].Length} elements; the layout says {Layout.LengthOf(j)}.", nameof(gradients));
            }
        }

        MemoryHandle[] handles = ArrayPool<MemoryHandle>.Shared.Rent(2 * count);
        Slot[] slots = ArrayPool<Slot>.Shared.Rent(count);
        int pinned = 0;
        try
        {
            for (int j = 0; j < count; j++)
            {
                handles[pinned++] = parameters[j].Pin();
                handles[pinned++] = gradients[j].Pin();
                slots[j] = new Slot((nint)handles[pinned - 2].Pointer, (nint)handles[pinned - 1].Pointer);
            }

            ThrowIfOverlapping(slots.AsSpan(0, count), sizeof(TParameterElement), sizeof(TGradientElement));
            return StepDispatch<TParameter, TGradient>(slots, options);
        }
        finally
        {
            for (int h = 0; h < pinned; h++)
            {
                handles[h].Dispose();
            }

            ArrayPool<MemoryHandle>.Shared.Return(handles, clearArray: true);
            ArrayPool<Slot>.Shared.Return(slots);
        }
    }

    internal double GetGroupHyperparameter(int group, string hyperparameter) => _groupHyperparameters[group][IndexOf(hyperparameter)];

    internal void SetGroupHyperparameter(int group, string hyperparameter, double value)
    {
        int index = IndexOf(hyperparameter);
        HyperparameterDescriptor descriptor = Descriptor.Hyperparameters[index];
        if (!descriptor.Accepts(value))
        {
            throw new ArgumentOutOfRangeException(descriptor.Name, value, $"{descriptor.Name} ({descriptor.Symbol}) must be {descriptor.RangeText}.");
        }

        _groupHyperparameters[group][index] = value;
    }

    internal void SetSchedule(int group, string hyperparameter, Schedule? schedule)
    {
        int index = IndexOf(hyperparameter);
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

    /// <summary>Group hyperparameter arrays; group 0's is the optimizer's own array, so single-group steps see every change.</summary>
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
                state.Elements<float>(k, 0, state.Length).Clear();
            }
            else
            {
                state.Elements<ushort>(k, 0, state.Length).Clear();
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
                    state.Elements<float>(k, Layout.StateOffsetOf(j), Layout.LengthOf(j)).Fill(value);
                }
                else
                {
                    state.Elements<ushort>(k, Layout.StateOffsetOf(j), Layout.LengthOf(j)).Fill(BFloat16Codec.Narrow(value));
                }
            }
        }
    }

    private unsafe StepResult StepArena<TParameter, TGradient, TParameterElement, TGradientElement>(Span<TParameterElement> parameters, ReadOnlySpan<TGradientElement> gradients, StepOptions? options)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TParameterElement : unmanaged
        where TGradientElement : unmanaged
    {
        options ??= StepOptions.Default;
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

        int count = Layout.TensorCount;
        Slot[] slots = ArrayPool<Slot>.Shared.Rent(count);
        try
        {
            fixed (TParameterElement* p = parameters)
            fixed (TGradientElement* g = gradients)
            {
                for (int j = 0; j < count; j++)
                {
                    int offset = Layout.ArenaOffsetOf(j);
                    slots[j] = new Slot((nint)(p + offset), (nint)(g + offset));
                }

                return StepDispatch<TParameter, TGradient>(slots, options);
            }
        }
        finally
        {
            ArrayPool<Slot>.Shared.Return(slots);
        }
    }

    private void ThrowIfOverlapping(ReadOnlySpan<Slot> slots, int parameterSize, int gradientSize)
    {
        // Sort every non-empty buffer by address and sweep: a parameter buffer may overlap nothing, a gradient buffer
        // no parameter buffer (two tensors may read the same gradients).
        var intervals = new (nuint Start, nuint End, int Tensor, bool IsParameter)[2 * slots.Length];
        int n = 0;
        for (int j = 0; j < slots.Length; j++)
        {
            nuint length = (nuint)Layout.LengthOf(j);
            if (length == 0)
            {
                continue;
            }

            intervals[n++] = ((nuint)slots[j].Parameters, (nuint)slots[j].Parameters + (length * (nuint)parameterSize), j, true);
            intervals[n++] = ((nuint)slots[j].Gradients, (nuint)slots[j].Gradients + (length * (nuint)gradientSize), j, false);
        }

        Span<(nuint Start, nuint End, int Tensor, bool IsParameter)> sorted = intervals.AsSpan(0, n);
        sorted.Sort(static (a, b) => a.Start.CompareTo(b.Start));
        nuint endAll = 0, endParameters = 0;
        int lastAll = -1, lastParameter = -1;
        foreach (var interval in sorted)
        {
            if (interval.IsParameter && interval.Start < endAll)
            {
                throw new ArgumentException($"Parameter tensor {interval.Tensor} overlaps another buffer of the step (tensor {lastAll}); the update is in place and needs separate buffers.", "parameters");
            }

            if (!interval.IsParameter && interval.Start < endParameters)
            {
                throw new ArgumentException($"Gradient tensor {interval.Tensor} overlaps parameter tensor {lastParameter}; the update is in place and needs separate buffers.", "gradients");
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

    private StepResult StepDispatch<TParameter, TGradient>(Slot[] slots, StepOptions options)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec =>
        _state.ElementSize == sizeof(float)
            ? StepCore<TParameter, TGradient, Float32Codec>(slots, options)
            : StepCore<TParameter, TGradient, BFloat16Codec>(slots, options);

    private unsafe StepResult StepCore<TParameter, TGradient, TState>(Slot[] slots, StepOptions options)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
        Piece[] pieces = _pieces ??= CreatePieces(Layout);
        int workers = options.MaxDegreeOfParallelism < 0 ? Environment.ProcessorCount : options.MaxDegreeOfParallelism;
        if (Length < ParallelThreshold)
        {
            workers = 1;
        }

        workers = Math.Min(workers, pieces.Length);
        double norm = double.NaN, clip = 1.0;
        bool nonFinite = false;
        if (options.NeedsNorm)
        {
            double[] partial = _partialSums ??= new double[pieces.Length];
            Run(workers, pieces.Length, k =>
            {
                Piece piece = pieces[k];
                partial[k] = SumOfSquares<TGradient>(ref *(byte*)(slots[piece.Tensor].Gradients + ((nint)piece.Start * TGradient.ElementSize)), piece.Length);
            });

            // Fixed blocks summed in a fixed order: the norm does not depend on the number of threads.
            double sum = 0;
            for (int k = 0; k < partial.Length; k++)
            {
                sum += partial[k];
            }

            // Squares of float32 values cannot overflow a double sum, so a non-finite sum means a non-finite gradient.
            nonFinite = !double.IsFinite(sum);
            norm = Math.Sqrt(sum) * options.GradientScale;
            if (nonFinite && options.SkipNonFinite)
            {
                return new StepResult(Skipped: true, FoundNonFinite: true, norm, ClipFactor: 1.0, StepCount);
            }

            if (!double.IsPositiveInfinity(options.MaxGradientNorm) && double.IsFinite(norm))
            {
                clip = Math.Min(1.0, options.MaxGradientNorm / (norm + 1e-6));
            }
        }

        ApplySchedules();
        long step = StepCount + 1;
        if (_hostState.Length > 0)
        {
            for (int k = 0; k < _groupHostState.Length; k++)
            {
                AdvanceHostState(_groupHostState[k], _groupHyperparameters[k], step);
            }
        }

        double gradientScale = options.GradientScale * clip;
        nint state = (nint)Unsafe.AsPointer(ref _state.Base);
        nuint stride = (nuint)_state.Stride;
        Run(workers, pieces.Length, k =>
        {
            Piece piece = pieces[k];
            Slot slot = slots[piece.Tensor];
            if (typeof(TParameter) == typeof(StochasticBFloat16Codec))
            {
                StochasticRounding.SetSeed(options.RoundingSeed, step, piece.Tensor, piece.Start);
            }

            var arguments = new KernelArguments
            {
                Hyperparameters = _groupHyperparameters[Layout.GroupOf(piece.Tensor)],
                HostState = _groupHostState[Layout.GroupOf(piece.Tensor)],
                Step = step,
                GradientScale = gradientScale,
                Parameters = ref *(byte*)(slot.Parameters + ((nint)piece.Start * TParameter.ElementSize)),
                Gradients = ref *(byte*)(slot.Gradients + ((nint)piece.Start * TGradient.ElementSize)),
                State = ref *(byte*)(state + (((nint)Layout.StateOffsetOf(piece.Tensor) + piece.Start) * TState.ElementSize)),
                StateStride = stride,
                ElementOffset = (ulong)(Layout.StateOffsetOf(piece.Tensor) + piece.Start),
                Length = (nuint)piece.Length,
            };
            RunKernel<TParameter, TGradient, TState>(in arguments);
        });

        StepCount = step;
        return new StepResult(Skipped: false, nonFinite, norm, clip, step);
    }

    /// <summary>Sets every scheduled hyperparameter to its value for the coming step; checks all before setting any.</summary>
    private void ApplySchedules()
    {
        if (_schedules is null)
        {
            return;
        }

        Span<double> values = _schedules.Count <= 32 ? stackalloc double[_schedules.Count] : new double[_schedules.Count];
        for (int b = 0; b < _schedules.Count; b++)
        {
            ScheduleBinding binding = _schedules[b];
            HyperparameterDescriptor descriptor = Descriptor.Hyperparameters[binding.Hyperparameter];
            values[b] = binding.Schedule.ValueAt(StepCount);
            if (!descriptor.Accepts(values[b]))
            {
                throw new InvalidOperationException($"The schedule of {descriptor.Name} gives {values[b]} at step {StepCount}, but {descriptor.Name} must be {descriptor.RangeText}. Nothing was written.");
            }
        }

        // Every-group schedules first, then each group's own, which therefore win for their group.
        foreach (bool everyGroup in (ReadOnlySpan<bool>)[true, false])
        {
            for (int b = 0; b < _schedules.Count; b++)
            {
                ScheduleBinding binding = _schedules[b];
                if ((binding.Group < 0) != everyGroup)
                {
                    continue;
                }

                for (int k = 0; k < _groupHyperparameters.Length; k++)
                {
                    if (binding.Group < 0 || binding.Group == k)
                    {
                        _groupHyperparameters[k][binding.Hyperparameter] = values[b];
                    }
                }
            }
        }
    }

    /// <summary>Runs <paramref name="body"/> for 0 ≤ k &lt; <paramref name="count"/> on up to <paramref name="workers"/> threads; which thread runs k does not matter.</summary>
    private static void Run(int workers, int count, Action<int> body)
    {
        if (workers <= 1)
        {
            for (int k = 0; k < count; k++)
            {
                body(k);
            }

            return;
        }

        int next = -1;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ =>
        {
            int k;
            while ((k = Interlocked.Increment(ref next)) < count)
            {
                body(k);
            }
        });
    }

    private static Piece[] CreatePieces(ParameterLayout layout)
    {
        var pieces = new List<Piece>();
        for (int j = 0; j < layout.TensorCount; j++)
        {
            int length = layout.LengthOf(j);
            for (int start = 0; start < length; start += PieceLength)
            {
                pieces.Add(new Piece(j, start, Math.Min(PieceLength, length - start)));
            }
        }

        return [.. pieces];
    }

    /// <summary>
    /// Σ gᵢ² in double. Each square of a float32 is exact in double; lane j of the 16 accumulators sums the elements
    /// i ≡ j (mod 16) in order, and the lanes are added in a fixed order, so the result depends only on the data.
    /// </summary>
    internal static double SumOfSquares<TGradient>(ref byte g, int n)
        where TGradient : struct, IElementCodec
    {
        Vector256<double> a0 = Vector256<double>.Zero, a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (; i <= n - 16; i += 16)
        {
            (Vector256<double> lo0, Vector256<double> hi0) = Vector256.Widen(TGradient.Load256(ref g, (nuint)i));
            (Vector256<double> lo1, Vector256<double> hi1) = Vector256.Widen(TGradient.Load256(ref g, (nuint)i + 8));
            a0 += lo0 * lo0;
            a1 += hi0 * hi0;
            a2 += lo1 * lo1;
            a3 += hi1 * hi1;
        }

        double tail = 0;
        for (; i < n; i++)
        {
            double x = TGradient.Load(ref g, (nuint)i);
            tail += x * x;
        }

        Vector256<double> sum = (a0 + a1) + (a2 + a3);
        return ((sum.GetElement(0) + sum.GetElement(1)) + (sum.GetElement(2) + sum.GetElement(3))) + tail;
    }

    [StructLayout(LayoutKind.Auto)]
    private readonly record struct Slot(nint Parameters, nint Gradients);

    [StructLayout(LayoutKind.Auto)]
    private readonly record struct Piece(int Tensor, int Start, int Length);

    private sealed record ScheduleBinding(int Group, int Hyperparameter, Schedule Schedule);
}
