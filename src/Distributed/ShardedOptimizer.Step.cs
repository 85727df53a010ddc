using System;
using System.Buffers;
using System.Runtime.InteropServices;
using OptGen.Engine;

namespace OptGen.Distributed;

/// <summary>
/// The step overloads: the single-process <see cref="Optimizer"/>'s surface (packed arenas and one buffer per tensor;
/// float32, float16 and bfloat16 parameters; float32 parameters with 16-bit gradients), all through one core.
/// </summary>
public sealed partial class ShardedOptimizer<TOptimizer>
{
    private Slot[]? _slots;           // each tensor's parameters and gradients for the step (arena offsets or pinned buffers)
    private MemoryHandle[]? _handles; // the per-tensor overloads' pins
    private float[]? _wide;           // the float32 arena: widened or packed gradients out, then packed parameters (any format)
    private ushort[]? _narrowShard;   // the 16-bit steps' averaged shard gradient

    /// <summary>
    /// One data-parallel step (a collective). <paramref name="gradients"/> are this process's gradients of the whole
    /// arena; the rule sees their average over the processes. <paramref name="parameters"/> must be the same on
    /// every process before the step and are the same after it.
    /// </summary>
    /// <param name="parameters">The whole parameter arena, <see cref="ParameterLayout.TotalLength"/> elements; updated in place.</param>
    /// <param name="gradients">This process's gradient arena, the same length, not overlapping <paramref name="parameters"/>.</param>
    /// <param name="options">As for <see cref="Optimizer.Step(Span{float}, ReadOnlySpan{float}, StepOptions?)"/>; the norm is the averaged gradient's.</param>
    /// <returns>The step's result, the same on every process.</returns>
    /// <exception cref="ArgumentException">A length differs from the layout's, or the buffers overlap. Nothing was communicated or written.</exception>
    public StepResult Step(Span<float> parameters, ReadOnlySpan<float> gradients, StepOptions? options = null) =>
        StepArena<float, Float32Width, float, Float32Width>(parameters, gradients, options);

    /// <summary>
    /// One data-parallel step on float32 (master) parameters with float16 gradients (a collective), as automatic
    /// mixed precision trains: the gradients are widened to float32 (exact) and the step is the float32 one, so the
    /// rule sees the float32 average of the processes' float16 gradients.
    /// </summary>
    /// <exception cref="ArgumentException">A length differs from the layout's, or the buffers overlap. Nothing was communicated or written.</exception>
    public StepResult Step(Span<float> parameters, ReadOnlySpan<Half> gradients, StepOptions? options = null) =>
        StepArena<float, Float32Width, Half, HalfWidth>(parameters, gradients, options);

    /// <summary>One data-parallel step on float32 (master) parameters with bfloat16 gradients (a collective); as the float16-gradient overload.</summary>
    /// <exception cref="ArgumentException">A length differs from the layout's, or the buffers overlap. Nothing was communicated or written.</exception>
    public StepResult Step(Span<float> parameters, ReadOnlySpan<BFloat16> gradients, StepOptions? options = null) =>
        StepArena<float, Float32Width, BFloat16, BFloat16Width>(parameters, gradients, options);

    /// <summary>
    /// One data-parallel step on float16 parameters and gradients (a collective), as
    /// <see cref="Step(Span{float}, ReadOnlySpan{float}, StepOptions?)"/>. The gradients are widened to float32 for the
    /// reduce-scatter (sum), each sum is divided by the number of processes in float32 and rounded to float16 (round to
    /// nearest even): the rule steps the shard on that averaged float16 gradient with the single-process float16 kernel,
    /// exactly as one process would step on it. The parameters are all-gathered as float16 (exact).
    /// </summary>
    /// <exception cref="ArgumentException">A length differs from the layout's, or the buffers overlap. Nothing was communicated or written.</exception>
    public StepResult Step(Span<Half> parameters, ReadOnlySpan<Half> gradients, StepOptions? options = null) =>
        StepArena<Half, HalfWidth, Half, HalfWidth>(parameters, gradients, options);

    /// <summary>
    /// One data-parallel step on bfloat16 parameters and gradients (a collective), as the float16 overload: float32
    /// sum, divided by the number of processes in float32, rounded to bfloat16 (nearest even), the single-process
    /// bfloat16 kernel on the shard. With <see cref="StepOptions.StochasticRounding"/> every element draws the bits one
    /// process draws for its arena position, so the result is one process's stochastically rounded step.
    /// </summary>
    /// <exception cref="ArgumentException">A length differs from the layout's, or the buffers overlap. Nothing was communicated or written.</exception>
    public StepResult Step(Span<BFloat16> parameters, ReadOnlySpan<BFloat16> gradients, StepOptions? options = null) =>
        StepArena<BFloat16, BFloat16Width, BFloat16, BFloat16Width>(parameters, gradients, options);

    /// <summary>
    /// One data-parallel step over one buffer per tensor (a collective), otherwise as
    /// <see cref="Step(Span{float}, ReadOnlySpan{float}, StepOptions?)"/>. The collectives need packed arenas: the
    /// gradients are packed into a float32 arena of <see cref="ParameterLayout.TotalLength"/> elements (allocated on
    /// the first such step and reused), which then carries the parameters in the all-gather.
    /// </summary>
    /// <exception cref="ArgumentException">The number of buffers or a length does not match <see cref="Layout"/>, or a parameter buffer overlaps another buffer. Nothing was communicated or written.</exception>
    public StepResult Step(ReadOnlySpan<Memory<float>> parameters, ReadOnlySpan<ReadOnlyMemory<float>> gradients, StepOptions? options = null) =>
        StepTensors<float, Float32Width, float, Float32Width>(parameters, gradients, options);

    /// <summary>float32 parameters with float16 gradients, one buffer per tensor (a collective); see the arena overloads.</summary>
    /// <exception cref="ArgumentException">The number of buffers or a length does not match <see cref="Layout"/>, or a parameter buffer overlaps another buffer. Nothing was communicated or written.</exception>
    public StepResult Step(ReadOnlySpan<Memory<float>> parameters, ReadOnlySpan<ReadOnlyMemory<Half>> gradients, StepOptions? options = null) =>
        StepTensors<float, Float32Width, Half, HalfWidth>(parameters, gradients, options);

    /// <summary>float32 parameters with bfloat16 gradients, one buffer per tensor (a collective); see the arena overloads.</summary>
    /// <exception cref="ArgumentException">The number of buffers or a length does not match <see cref="Layout"/>, or a parameter buffer overlaps another buffer. Nothing was communicated or written.</exception>
    public StepResult Step(ReadOnlySpan<Memory<float>> parameters, ReadOnlySpan<ReadOnlyMemory<BFloat16>> gradients, StepOptions? options = null) =>
        StepTensors<float, Float32Width, BFloat16, BFloat16Width>(parameters, gradients, options);

    /// <summary>float16 parameters and gradients, one buffer per tensor (a collective); see the arena overloads.</summary>
    /// <exception cref="ArgumentException">The number of buffers or a length does not match <see cref="Layout"/>, or a parameter buffer overlaps another buffer. Nothing was communicated or written.</exception>
    public StepResult Step(ReadOnlySpan<Memory<Half>> parameters, ReadOnlySpan<ReadOnlyMemory<Half>> gradients, StepOptions? options = null) =>
        StepTensors<Half, HalfWidth, Half, HalfWidth>(parameters, gradients, options);

    /// <summary>bfloat16 parameters and gradients, one buffer per tensor (a collective); see the arena overloads.</summary>
    /// <exception cref="ArgumentException">The number of buffers or a length does not match <see cref="Layout"/>, or a parameter buffer overlaps another buffer. Nothing was communicated or written.</exception>
    public StepResult Step(ReadOnlySpan<Memory<BFloat16>> parameters, ReadOnlySpan<ReadOnlyMemory<BFloat16>> gradients, StepOptions? options = null) =>
        StepTensors<BFloat16, BFloat16Width, BFloat16, BFloat16Width>(parameters, gradients, options);

    private unsafe StepResult StepArena<TParameter, TParameterWidth, TGradient, TGradientWidth>(Span<TParameter> parameters, ReadOnlySpan<TGradient> gradients, StepOptions? options)
        where TParameter : unmanaged
        where TParameterWidth : IWidth<TParameter>
        where TGradient : unmanaged
        where TGradientWidth : IWidth<TGradient>
    {
        using BusyScope busy = Enter(nameof(Step));
        if (parameters.Length != Layout.TotalLength)
        {
            throw new ArgumentException($"Expected {Layout.TotalLength} parameters but got {parameters.Length}.", nameof(parameters));
        }

        if (gradients.Length != Layout.TotalLength)
        {
            throw new ArgumentException($"Expected {Layout.TotalLength} gradients but got {gradients.Length}.", nameof(gradients));
        }

        if (MemoryMarshal.AsBytes(parameters).Overlaps(MemoryMarshal.AsBytes(gradients)))
        {
            throw new ArgumentException("The gradients overlap the parameters; the update is in place and needs separate buffers.", nameof(gradients));
        }

        Slot[] slots = _slots ??= new Slot[Layout.TensorCount];
        fixed (TParameter* p = parameters)
        fixed (TGradient* g = gradients)
        {
            for (int j = 0; j < slots.Length; j++)
            {
                int offset = Layout.ArenaOffsetOf(j);
                slots[j] = new Slot((nint)(p + offset), (nint)(g + offset));
            }

            return StepCore<TParameter, TParameterWidth, TGradient, TGradientWidth>(p, g, options ?? StepOptions.Default);
        }
    }

    private unsafe StepResult StepTensors<TParameter, TParameterWidth, TGradient, TGradientWidth>(ReadOnlySpan<Memory<TParameter>> parameters, ReadOnlySpan<ReadOnlyMemory<TGradient>> gradients, StepOptions? options)
        where TParameter : unmanaged
        where TParameterWidth : IWidth<TParameter>
        where TGradient : unmanaged
        where TGradientWidth : IWidth<TGradient>
    {
        using BusyScope busy = Enter(nameof(Step));
        Optimizer.ThrowIfNotTensorsOf(Layout, parameters, gradients);
        Slot[] slots = _slots ??= new Slot[Layout.TensorCount];
        MemoryHandle[] handles = _handles ??= new MemoryHandle[2 * Layout.TensorCount];
        int pinned = 0;
        try
        {
            for (int j = 0; j < slots.Length; j++)
            {
                // Each buffer is read from the caller's span once, and what is pinned is checked again: another thread
                // may have replaced an element of the caller's array since the checks above (the step would write the
                // layout's length into a shorter buffer, or read past a shorter gradient).
                Memory<TParameter> parameter = parameters[j];
                ReadOnlyMemory<TGradient> gradient = gradients[j];
                Optimizer.ThrowIfNotTensorOf(Layout, j, parameter.Length, gradient.Length);
                handles[pinned++] = parameter.Pin();
                handles[pinned++] = gradient.Pin();
                slots[j] = new Slot((nint)handles[pinned - 2].Pointer, (nint)handles[pinned - 1].Pointer);
            }

            Local.ThrowIfOverlapping(Layout, slots, sizeof(TParameter), sizeof(TGradient));
            return StepCore<TParameter, TParameterWidth, TGradient, TGradientWidth>(null, null, options ?? StepOptions.Default);
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

    /// <summary>
    /// The step over the buffers in <see cref="_slots"/> (checked): reduce-scatter, the shard's step, all-gather.
    /// <paramref name="parameterArena"/> and <paramref name="gradientArena"/> are the packed arenas when the caller
    /// passed arenas (so float32 ones are used in place), else null.
    /// </summary>
    private unsafe StepResult StepCore<TParameter, TParameterWidth, TGradient, TGradientWidth>(TParameter* parameterArena, TGradient* gradientArena, StepOptions options)
        where TParameter : unmanaged
        where TParameterWidth : IWidth<TParameter>
        where TGradient : unmanaged
        where TGradientWidth : IWidth<TGradient>
    {
        if (Local.HasGroupStatePrecision)
        {
            // A shard's groups would need their own codecs on every rank: one precision for the whole model only.
            throw new NotSupportedException("Sharded steps store every group's state in one precision, but a parameter group of Local has its own StatePrecision; set every group's StatePrecision to null. Nothing was changed.");
        }

        bool float32 = typeof(TParameter) == typeof(float);

        // The float32 step's options (1/R in the gradient factor), made before any collective: a GradientScale that
        // divided by R is 0 in float32 is refused here, on every rank alike, not after the reduce-scatter.
        StepOptions shardOptions = float32 ? Averaged(options) : options;

        // 1. The sum of every process's gradients, this shard's part: from a float32 arena as it is, else from the
        //    float32 arena they are widened or packed into.
        ReadOnlySpan<float> send = typeof(TGradient) == typeof(float) && gradientArena is not null
            ? new ReadOnlySpan<float>(gradientArena, Layout.TotalLength)
            : Pack<TGradient, TGradientWidth>();
        _communicator.ReduceScatterSum(send, _shardGradients, _counts);

        // 2. This shard's parameters, contiguous: in the caller's arena, or packed from the tensors into their place
        //    in a parameter arena (the float32 arena's memory, free after the reduce-scatter), which all-gathers them.
        Span<TParameter> arena = parameterArena is not null
            ? new Span<TParameter>(parameterArena, Layout.TotalLength)
            : MemoryMarshal.Cast<float, TParameter>(Wide().AsSpan())[..Layout.TotalLength];
        Span<TParameter> own = arena.Slice(ShardStart, ShardLength);
        if (parameterArena is null)
        {
            CopyOwnShard(own);
        }

        // 3. The rule on the shard: float32 parameters see the float32 sum with the 1/R in the gradient factor; 16-bit
        //    parameters the 16-bit kernel on the sum divided by R in float32 and rounded to their format.
        StepResult result = float32
            ? TParameterWidth.StepShard(Local, own, MemoryMarshal.Cast<float, TParameter>(_shardGradients.AsSpan()), shardOptions)
            : TParameterWidth.StepShard(Local, own, AveragedShardGradients<TParameter, TParameterWidth>(), options);
        if (result.Skipped)
        {
            return result;
        }

        // 4. Every shard's parameters to every process, in their own format (exact), then into the tensors.
        if (float32)
        {
            _communicator.AllGather(MemoryMarshal.Cast<TParameter, float>(arena), _counts);
        }
        else
        {
            _communicator.AllGather(MemoryMarshal.Cast<TParameter, ushort>(arena), _counts);
        }

        if (parameterArena is null)
        {
            for (int j = 0; j < _slots!.Length; j++)
            {
                arena.Slice(Layout.ArenaOffsetOf(j), Layout.LengthOf(j)).CopyTo(new Span<TParameter>((void*)_slots[j].Parameters, Layout.LengthOf(j)));
            }
        }

        return result;
    }

    /// <summary>Every tensor's gradients, widened (or copied), packed into the float32 arena.</summary>
    private unsafe float[] Pack<TGradient, TGradientWidth>()
        where TGradient : unmanaged
        where TGradientWidth : IWidth<TGradient>
    {
        float[] wide = Wide();
        for (int j = 0; j < _slots!.Length; j++)
        {
            var tensor = new ReadOnlySpan<TGradient>((void*)_slots[j].Gradients, Layout.LengthOf(j));
            Span<float> packed = wide.AsSpan(Layout.ArenaOffsetOf(j), tensor.Length);
            for (int i = 0; i < tensor.Length; i++)
            {
                packed[i] = TGradientWidth.Widen(tensor[i]);
            }
        }

        return wide;
    }

    /// <summary>Copies this shard's parameters from the per-tensor buffers into <paramref name="own"/>.</summary>
    private unsafe void CopyOwnShard<TParameter>(Span<TParameter> own)
        where TParameter : unmanaged
    {
        int start = ShardStart, end = ShardStart + ShardLength;
        for (int j = 0; j < _slots!.Length; j++)
        {
            int offset = Layout.ArenaOffsetOf(j);
            int lo = Math.Max(start, offset), hi = Math.Min(end, offset + Layout.LengthOf(j));
            if (hi > lo)
            {
                new ReadOnlySpan<TParameter>((TParameter*)_slots[j].Parameters + (lo - offset), hi - lo).CopyTo(own.Slice(lo - start));
            }
        }
    }

    /// <summary>This shard's summed gradients divided by the number of processes in float32, rounded to the 16-bit format.</summary>
    private ReadOnlySpan<T> AveragedShardGradients<T, TWidth>()
        where T : unmanaged
        where TWidth : IWidth<T>
    {
        Span<T> averaged = MemoryMarshal.Cast<ushort, T>((_narrowShard ??= new ushort[ShardLength]).AsSpan());
        float ranks = _communicator.Size;
        for (int i = 0; i < averaged.Length; i++)
        {
            averaged[i] = TWidth.Narrow(_shardGradients[i] / ranks);
        }

        return averaged;
    }

    private float[] Wide() => _wide ??= new float[Layout.TotalLength];

    /// <summary>A storage format of parameters or gradients: its exact widening to float32, rounding back, and the shard's step on it.</summary>
    private interface IWidth<T>
        where T : unmanaged
    {
        static abstract float Widen(T value);

        static abstract T Narrow(float value);

        /// <summary>The shard optimizer's single-process step on parameters and gradients stored as <typeparamref name="T"/>.</summary>
        static abstract StepResult StepShard(Optimizer optimizer, Span<T> parameters, ReadOnlySpan<T> gradients, StepOptions options);
    }

    private readonly struct Float32Width : IWidth<float>
    {
        public static float Widen(float value) => value;

        public static float Narrow(float value) => value;

        public static StepResult StepShard(Optimizer optimizer, Span<float> parameters, ReadOnlySpan<float> gradients, StepOptions options) =>
            optimizer.Step(parameters, gradients, options);
    }

    private readonly struct HalfWidth : IWidth<Half>
    {
        public static float Widen(Half value) => (float)value;

        public static Half Narrow(float value) => (Half)value;

        public static StepResult StepShard(Optimizer optimizer, Span<Half> parameters, ReadOnlySpan<Half> gradients, StepOptions options) =>
            optimizer.Step(parameters, gradients, options);
    }

    private readonly struct BFloat16Width : IWidth<BFloat16>
    {
        public static float Widen(BFloat16 value) => (float)value;

        public static BFloat16 Narrow(float value) => (BFloat16)value;

        public static StepResult StepShard(Optimizer optimizer, Span<BFloat16> parameters, ReadOnlySpan<BFloat16> gradients, StepOptions options) =>
            optimizer.Step(parameters, gradients, options);
    }
}
