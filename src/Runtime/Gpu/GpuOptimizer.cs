using System;
using System.IO;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Engine;
using Half = System.Half;

namespace OptGen.Gpu;

/// <summary>
/// Runs an optimizer's steps on an ILGPU accelerator (CUDA, OpenCL or the CPU accelerator), with the per-element
/// state in device memory: every tensor of the optimizer's <see cref="ParameterLayout"/>, in every parameter group,
/// in one kernel launch per step (two when 8-bit and 4-bit blockwise state meet in one layout), calling the same
/// generated per-element <c>Invoke</c> as the CPU path. Each parameter group's state keeps the host's precision
/// (<see cref="Optimizer.StatePrecisionOf"/>: float32, bfloat16, 8-bit or 4-bit blockwise), as on the CPU.
/// </summary>
/// <remarks>
/// <para>The host optimizer stays the owner of everything that is not per element: hyperparameters (per group),
/// schedules, carried host scalars, <see cref="Optimizer.StepCount"/> and <see cref="Optimizer.StatePrecision"/>.
/// Each step is prepared by the optimizer's own step preparation, as a CPU step is, so a schedule set with
/// <see cref="Optimizer.SetSchedule(string, Schedule?)"/> or <see cref="ParameterGroup.SetSchedule"/> applies, and the host optimizer's
/// <see cref="Optimizer.StepCount"/> counts the device steps. The per-element state lives on the device; the host
/// optimizer's own state buffers are its staging copy, written only by <see cref="SaveCheckpoint(Stream)"/> and
/// <see cref="SynchronizeHostState"/>. Step, reset, load and convert the host optimizer through this object while it
/// drives it: a step refuses to run when the host optimizer's step count or a state precision changed behind its back
/// (<see cref="ReloadFromHost"/> takes the host's state).</para>
/// <para>A step synchronises with the device only when <see cref="StepOptions.SkipNonFinite"/> is set (the skip
/// decision needs the norm on the host before the step is counted) or when <see cref="LastResult"/> is read;
/// otherwise every launch, the gradient-norm reduction and the clip factor included, is queued on the stream.</para>
/// <para>Not thread-safe. The kernel is compiled once per accelerator and rule and reused.</para>
/// </remarks>
public sealed partial class GpuOptimizer : IDisposable
{
    private readonly GpuUpdate _update;
    private readonly GpuGradientNorm.Kernels? _norm;
    private readonly MemoryBuffer1D<GpuChunk, Stride1D.Dense>? _chunks;
    private readonly MemoryBuffer1D<GpuPiece, Stride1D.Dense>? _pieces;
    private readonly MemoryBuffer1D<double, Stride1D.Dense>? _lanes;
    private readonly MemoryBuffer1D<double, Stride1D.Dense>? _partial;
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _results;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _factor;
    // Pinned: ILGPU's copies to and from a `ref T` do not pin, and may run on a stream thread while the GC moves things.
    private readonly double[] _resultsHost = GC.AllocateArray<double>(GpuGradientNorm.ResultCount, pinned: true);
    private readonly int _pieceCount;
    private readonly int _updateThreads;
    private MemoryBuffer1D<float, Stride1D.Dense>? _state32;
    private MemoryBuffer1D<ushort, Stride1D.Dense>? _state16;
    private MemoryBuffer1D<float, Stride1D.Dense>? _stagingParameters;
    private MemoryBuffer1D<float, Stride1D.Dense>? _stagingGradients;

    /// <summary>1 while a host-memory step uses the staging buffers (claimed before the first copy into them).</summary>
    private int _stagingBusy;
    // The last step's result and whether its norm fields are still on the device: written together under _lastLock
    // (a StepResult is several words; a read without the lock could see half of one step's and half of another's).
    private readonly object _lastLock = new();
    private StepResult _last;

    // The host optimizer's step count when the device state was last written by this object: a different count at
    // the next step means the host optimizer was stepped, reset or loaded directly, and the device state is stale.
    private long _deviceStepCount = -1;
    private bool _lastOnDevice;
    private bool _disposed;

    /// <summary>Loads <paramref name="optimizer"/>'s kernel on <paramref name="accelerator"/> and copies its state there.</summary>
    /// <param name="optimizer">The optimizer whose rule, layout, hyperparameters, schedules, state and step count to drive.</param>
    /// <param name="accelerator">The accelerator to run on.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The optimizer was generated without ILGPU, so it has no GPU kernel (a rule with reductions included).</exception>
    /// <exception cref="NotSupportedException">The optimizer's state is stored per tensor (8-bit or 4-bit blockwise in some group, or groups of different precisions) and the rule has no blockwise GPU kernel (rules with reductions have none), or a declared rule has more than 8 reductions.</exception>
    public GpuOptimizer(Optimizer optimizer, Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(accelerator);
        IGpuKernelSource? source = optimizer as IGpuKernelSource;
        if (optimizer is MultiPassOptimizer)
        {
            ThrowIfNoGpuPasses(optimizer);
        }
        else if (source is null)
        {
            throw new ArgumentException(
                $"The optimizer '{optimizer.Descriptor.Name}' ({optimizer.GetType().FullName}) has no GPU kernel: it was generated in a project that does not reference ILGPU.",
                nameof(optimizer));
        }

        Optimizer = optimizer;
        Accelerator = accelerator;

        // The optimizer's plan (its pieces) and state are read inside its guard, like a step's.
        using Optimizer.StepGuard guard = optimizer.EnterGuard("new GpuOptimizer");
        ThrowIfDeviceCannotStore(optimizer, null, StoredPrecisions(optimizer), nameof(optimizer));
        ParameterLayout layout = optimizer.Layout;
        GpuChunk[] chunks = CreateChunks(layout);
        GpuPiece[] pieces = CreatePieces(optimizer);
        _pieceCount = pieces.Length;
        _updateThreads = (int)Math.Clamp(accelerator.MaxNumThreads, 1, Math.Max(1L, (long)chunks.Length << GpuChunk.Shift));
        _update = optimizer is MultiPassOptimizer ? CreatePassUpdate(optimizer, accelerator, chunks) : source!.CreateGpuUpdate(accelerator, layout.GroupCount);
        try
        {
            _results = accelerator.Allocate1D<double>(GpuGradientNorm.ResultCount);
            _factor = accelerator.Allocate1D<float>(1);
            if (chunks.Length > 0)
            {
                _chunks = accelerator.Allocate1D(chunks);
                _pieces = accelerator.Allocate1D(pieces);
                _lanes = accelerator.Allocate1D<double>(GpuGradientNorm.LanesLength(pieces.Length));
                _partial = accelerator.Allocate1D<double>(GpuGradientNorm.PartialLength(pieces.Length));
                _norm = GpuGradientNorm.Load(accelerator);
            }

            ThrowIfDeviceCannotStore(optimizer, _update, StoredPrecisions(optimizer), nameof(optimizer));
            UploadState();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The host optimizer: the rule, its hyperparameters, schedules, carried scalars and step count.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The accelerator the kernel runs on and the state lives on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The tensors and groups updated (the host optimizer's).</summary>
    public ParameterLayout Layout => Optimizer.Layout;

    /// <summary>The number of parameters updated: the length of the parameter and gradient arenas.</summary>
    public int Length => Optimizer.Length;

    /// <summary>
    /// The threads each update launch starts: as many as the accelerator keeps resident at once (one wave), at most
    /// one per element slot; each walks the tensor table in a grid-stride loop.
    /// </summary>
    public int Threads => _updateThreads;

    /// <summary>The number of steps taken: the host optimizer's <see cref="Optimizer.StepCount"/>.</summary>
    public long StepCount => Optimizer.StepCount;

    /// <summary>
    /// How the device state of the groups without a precision of their own is stored (the host optimizer's
    /// <see cref="Optimizer.StatePrecision"/>); each group's: <see cref="StatePrecisionOf"/>.
    /// </summary>
    public StatePrecision StatePrecision => Optimizer.StatePrecision;

    /// <summary>
    /// What the last step did. Reading it waits for the device when that step computed its gradient norm without
    /// synchronising (clipping or <see cref="StepOptions.ComputeGradientNorm"/> without <see cref="StepOptions.SkipNonFinite"/>).
    /// A consistent snapshot of one step's result: while another thread steps, the previous step's whole result (or,
    /// when that one's norm must still be read from the device, which the step in progress is using, an exception).
    /// </summary>
    /// <exception cref="InvalidOperationException">The last step's norm is still on the device and another thread is in a call of this object.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public StepResult LastResult
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            lock (_lastLock)
            {
                if (!_lastOnDevice)
                {
                    return _last;
                }
            }

            // The norm, clip factor and non-finite flag are in the device's results buffer, which a step writes: read
            // them back under the device guard.
            using DeviceGuard device = EnterDevice("GpuOptimizer.LastResult");
            lock (_lastLock)
            {
                if (_lastOnDevice)
                {
                    Accelerator.Synchronize();
                    ReadResults(Accelerator.DefaultStream);
                    _last = _last with { FoundNonFinite = !double.IsFinite(_resultsHost[0]), GradientNorm = _resultsHost[1], ClipFactor = _resultsHost[2] };
                    _lastOnDevice = false;
                }

                return _last;
            }
        }
    }

    /// <summary>Publishes a step's result (under <see cref="_lastLock"/>, with whether its norm is still on the device).</summary>
    private void PublishLast(StepResult result, bool onDevice)
    {
        lock (_lastLock)
        {
            _last = result;
            _lastOnDevice = onDevice;
        }
    }

    /// <summary>
    /// One step over float32 parameter and gradient arenas on the device (tensor j at
    /// <see cref="ParameterLayout.ArenaOffsetOf"/>): one update launch, plus the gradient-norm launches when
    /// <paramref name="options"/> clips, skips or asks for the norm. Asynchronous on <paramref name="stream"/> unless
    /// <see cref="StepOptions.SkipNonFinite"/> is set.
    /// </summary>
    /// <param name="parameters">The parameter arena, on <see cref="Accelerator"/>; <see cref="Length"/> elements.</param>
    /// <param name="gradients">The gradient arena; <see cref="Length"/> elements, not overlapping the parameters.</param>
    /// <param name="options">Unscaling, clipping, skipping; null for <see cref="StepOptions.Default"/>. <see cref="StepOptions.MaxDegreeOfParallelism"/> does not apply.</param>
    /// <param name="stream">The stream to launch on; the accelerator's default stream when null.</param>
    /// <exception cref="ArgumentException">A view is invalid, has the wrong length, lives on another accelerator, or overlaps another buffer. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">A schedule gives an out-of-range value, another thread is using the optimizer, or the host optimizer was stepped or converted behind this object. Nothing is written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A per-step scalar of the rule is not finite in float32. Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Step(ArrayView<float> parameters, ArrayView<float> gradients, StepOptions? options = null, AcceleratorStream? stream = null) =>
        StepCore(Operand.Of(parameters, nameof(parameters)), Operand.Of(gradients, nameof(gradients)), GpuCodec.Float32, GpuCodec.Float32, options, stream);

    /// <summary>One step over <see cref="Half"/> parameters and gradients; see <see cref="Step(ArrayView{float}, ArrayView{float}, StepOptions?, AcceleratorStream?)"/>.</summary>
    /// <param name="parameters">The parameter arena; rounded to nearest even when stored.</param>
    /// <param name="gradients">The gradient arena.</param>
    /// <param name="options">Unscaling, clipping, skipping; null for the defaults.</param>
    /// <param name="stream">The stream to launch on; the default stream when null.</param>
    /// <exception cref="ArgumentException">A view is invalid, has the wrong length, lives on another accelerator, or overlaps another buffer. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">A schedule gives an out-of-range value, another thread is using the optimizer, or the host optimizer was stepped or converted behind this object. Nothing is written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A per-step scalar of the rule is not finite in float32. Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Step(ArrayView<Half> parameters, ArrayView<Half> gradients, StepOptions? options = null, AcceleratorStream? stream = null) =>
        StepCore(Operand.Of(parameters, nameof(parameters)), Operand.Of(gradients, nameof(gradients)), GpuCodec.Half, GpuCodec.Half, options, stream);

    /// <summary>
    /// One step over <see cref="BFloat16"/> parameters and gradients; parameters are rounded to nearest even, or
    /// stochastically with <see cref="StepOptions.StochasticRounding"/> (the CPU path's random bits).
    /// </summary>
    /// <param name="parameters">The parameter arena.</param>
    /// <param name="gradients">The gradient arena.</param>
    /// <param name="options">Unscaling, clipping, skipping, rounding; null for the defaults.</param>
    /// <param name="stream">The stream to launch on; the default stream when null.</param>
    /// <exception cref="ArgumentException">A view is invalid, has the wrong length, lives on another accelerator, or overlaps another buffer. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">A schedule gives an out-of-range value, another thread is using the optimizer, or the host optimizer was stepped or converted behind this object. Nothing is written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A per-step scalar of the rule is not finite in float32. Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Step(ArrayView<BFloat16> parameters, ArrayView<BFloat16> gradients, StepOptions? options = null, AcceleratorStream? stream = null) =>
        StepCore(
            Operand.Of(parameters, nameof(parameters)),
            Operand.Of(gradients, nameof(gradients)),
            options is { StochasticRounding: true } ? GpuCodec.StochasticBFloat16 : GpuCodec.BFloat16,
            GpuCodec.BFloat16,
            options,
            stream);

    /// <summary>One step over float32 (master) parameters with <see cref="Half"/> gradients.</summary>
    /// <param name="parameters">The parameter arena.</param>
    /// <param name="gradients">The gradient arena.</param>
    /// <param name="options">Unscaling, clipping, skipping; null for the defaults.</param>
    /// <param name="stream">The stream to launch on; the default stream when null.</param>
    /// <exception cref="ArgumentException">A view is invalid, has the wrong length, lives on another accelerator, or overlaps another buffer. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">A schedule gives an out-of-range value, another thread is using the optimizer, or the host optimizer was stepped or converted behind this object. Nothing is written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A per-step scalar of the rule is not finite in float32. Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Step(ArrayView<float> parameters, ArrayView<Half> gradients, StepOptions? options = null, AcceleratorStream? stream = null) =>
        StepCore(Operand.Of(parameters, nameof(parameters)), Operand.Of(gradients, nameof(gradients)), GpuCodec.Float32, GpuCodec.Half, options, stream);

    /// <summary>One step over float32 (master) parameters with <see cref="BFloat16"/> gradients.</summary>
    /// <param name="parameters">The parameter arena.</param>
    /// <param name="gradients">The gradient arena.</param>
    /// <param name="options">Unscaling, clipping, skipping; null for the defaults.</param>
    /// <param name="stream">The stream to launch on; the default stream when null.</param>
    /// <exception cref="ArgumentException">A view is invalid, has the wrong length, lives on another accelerator, or overlaps another buffer. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">A schedule gives an out-of-range value, another thread is using the optimizer, or the host optimizer was stepped or converted behind this object. Nothing is written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A per-step scalar of the rule is not finite in float32. Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Step(ArrayView<float> parameters, ArrayView<BFloat16> gradients, StepOptions? options = null, AcceleratorStream? stream = null) =>
        StepCore(Operand.Of(parameters, nameof(parameters)), Operand.Of(gradients, nameof(gradients)), GpuCodec.Float32, GpuCodec.BFloat16, options, stream);

    /// <summary>One step over two float32 device buffers; see <see cref="Step(ArrayView{float}, ArrayView{float}, StepOptions?, AcceleratorStream?)"/>.</summary>
    /// <param name="parameters">The parameters; <see cref="Length"/> elements.</param>
    /// <param name="gradients">Their gradients; <see cref="Length"/> elements.</param>
    /// <param name="stream">The stream to launch on; the accelerator's default stream when null.</param>
    /// <exception cref="ArgumentNullException">A buffer is null.</exception>
    /// <exception cref="ArgumentException">A buffer has the wrong length, lives on another accelerator, or is the other buffer. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">A schedule gives an out-of-range value, another thread is using the optimizer, or the host optimizer was stepped or converted behind this object. Nothing is written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A per-step scalar of the rule is not finite in float32. Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Step(MemoryBuffer1D<float, Stride1D.Dense> parameters, MemoryBuffer1D<float, Stride1D.Dense> gradients, AcceleratorStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(gradients);
        Step(parameters.View.BaseView, gradients.View.BaseView, null, stream);
    }

    /// <summary>
    /// One step over host memory: copies the parameters and gradients to the device, runs the step, waits for it and
    /// copies the parameters back. For tests and small problems; keep tensors on the device for speed.
    /// </summary>
    /// <param name="parameters">The parameter arena to update; <see cref="Length"/> elements.</param>
    /// <param name="gradients">Their gradients; <see cref="Length"/> elements, not overlapping <paramref name="parameters"/>.</param>
    /// <param name="options">Unscaling, clipping, skipping; null for <see cref="StepOptions.Default"/>.</param>
    /// <returns>What the step did (as <see cref="LastResult"/>).</returns>
    /// <exception cref="ArgumentException">A length differs from <see cref="Length"/>, or the buffers overlap. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">A schedule gives an out-of-range value, another thread is using the optimizer, or the host optimizer was stepped or converted behind this object. Nothing is written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A per-step scalar of the rule is not finite in float32. Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public StepResult Step(Span<float> parameters, ReadOnlySpan<float> gradients, StepOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ThrowIfNotHostBuffers(parameters, gradients);

        if (Length == 0)
        {
            Step(ArrayView<float>.Empty, ArrayView<float>.Empty, options);
            return LastResult;
        }

        EnterStaging();
        try
        {
            _stagingParameters ??= Accelerator.Allocate1D<float>(Length);
            _stagingGradients ??= Accelerator.Allocate1D<float>(Length);
            ArrayView<float> p = _stagingParameters.View.BaseView;
            ArrayView<float> g = _stagingGradients.View.BaseView;

            // ILGPU's copies from and to a `ref T` wait for the stream but do not pin: a managed array the GC moved
            // during the copy would be read or written at its old address. Pinned until every copy has completed.
            unsafe
            {
                fixed (float* hostParameters = parameters)
                fixed (float* hostGradients = gradients)
                {
                    p.CopyFromCPU(ref MemoryMarshal.GetReference(parameters), parameters.Length);
                    g.CopyFromCPU(ref MemoryMarshal.GetReference(gradients), gradients.Length);
                    Step(p, g, options);
                    p.CopyToCPU(ref MemoryMarshal.GetReference(parameters), parameters.Length);
                }
            }
        }
        finally
        {
            System.Threading.Volatile.Write(ref _stagingBusy, 0);
        }

        return LastResult;
    }

    /// <summary>
    /// Claims the staging buffers of the host-memory steps: a second thread's host step must be refused before its
    /// copy overwrites the data of the step in flight (the optimizer's guard is taken only later, inside the step).
    /// </summary>
    /// <exception cref="InvalidOperationException">Another thread is in a host-memory step of this object.</exception>
    private void EnterStaging()
    {
        if (System.Threading.Interlocked.CompareExchange(ref _stagingBusy, 1, 0) != 0)
        {
            throw new InvalidOperationException("Another thread is stepping this GpuOptimizer from host memory; calls on one optimizer must not overlap. Nothing was written.");
        }

        if (_disposed)
        {
            System.Threading.Volatile.Write(ref _stagingBusy, 0);
            throw new ObjectDisposedException(nameof(GpuOptimizer));
        }
    }

    /// <summary>
    /// The device view of the float32 state buffer called <paramref name="name"/> (e.g. <c>"FirstMoment"</c>): every
    /// tensor's state at its <see cref="Optimizer"/> state offset (for one tensor, exactly <see cref="Length"/> elements).
    /// </summary>
    /// <param name="name">The state buffer's name, as in <see cref="OptimizerDescriptor.States"/>.</param>
    /// <exception cref="ArgumentException">The rule has no such state buffer.</exception>
    /// <exception cref="InvalidOperationException">The state is not float32 in every group (bfloat16, blockwise, or a precision per group): read it with <see cref="CopyState(string, int, Span{float})"/>.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public ArrayView<float> GetState(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int index = IndexOfState(name);
        if (_state32 is null)
        {
            throw new InvalidOperationException($"The optimizer's state is stored as {Describe(_deviceGroupPrecisions)}, not float32 in one buffer; read it with CopyState.");
        }

        return _state32.View.BaseView.SubView(index * StateStride, Optimizer.StateStorage.PlaneLength(index));
    }

    /// <summary>Waits for the default stream and copies the state buffer called <paramref name="name"/> of a single-tensor layout, widened to float32.</summary>
    /// <param name="name">The state buffer's name, as in <see cref="OptimizerDescriptor.States"/>.</param>
    /// <param name="destination">Where to copy it; <see cref="Length"/> elements.</param>
    /// <exception cref="ArgumentException">The rule has no such state buffer, or the destination has the wrong length.</exception>
    /// <exception cref="InvalidOperationException">The layout has more than one tensor: name the tensor.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void CopyState(string name, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Layout.TensorCount != 1)
        {
            throw new InvalidOperationException($"The layout has {Layout.TensorCount} tensors; use CopyState(name, tensor, destination).");
        }

        CopyState(name, 0, destination);
    }

    /// <summary>Waits for the default stream and copies tensor <paramref name="tensor"/>'s part of state buffer <paramref name="name"/>, widened to float32.</summary>
    /// <param name="name">The state buffer's name.</param>
    /// <param name="tensor">The tensor, in <see cref="Layout"/> order.</param>
    /// <param name="destination">Where to copy it; the tensor's length.</param>
    /// <exception cref="ArgumentException">The rule has no such state buffer, or the destination is not the tensor's length.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tensor"/> is not a tensor of <see cref="Layout"/>.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void CopyState(string name, int tensor, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int index = IndexOfState(name);
        ArgumentOutOfRangeException.ThrowIfNegative(tensor);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(tensor, Layout.TensorCount);
        int length = Optimizer.StateLength(name, tensor);
        if (destination.Length != length)
        {
            throw new ArgumentException($"Tensor {tensor} has {length} values in '{name}'; the destination has {destination.Length}.", nameof(destination));
        }

        if (destination.IsEmpty)
        {
            return;
        }

        if (DeviceIsBlockwise)
        {
            CopyBlockwiseState(name, tensor, destination);
            return;
        }

        // Under the device guard: a Dispose of another thread must not free the state during the copy.
        using DeviceGuard device = EnterDevice("GpuOptimizer.CopyState");
        long start = (index * StateStride) + Optimizer.StateStorage.OffsetOf(index, tensor, Layout);
        Accelerator.Synchronize();
        if (_state32 is not null)
        {
            unsafe
            {
                // Pinned for the copy (see Step over host memory).
                fixed (float* pinned = destination)
                {
                    _state32.View.BaseView.SubView(start, destination.Length).CopyToCPU(ref MemoryMarshal.GetReference(destination), destination.Length);
                }
            }

            return;
        }

        ushort[] bits = GC.AllocateUninitializedArray<ushort>(destination.Length, pinned: true);
        _state16!.View.BaseView.SubView(start, bits.Length).CopyToCPU(ref bits[0], bits.Length);
        for (int i = 0; i < bits.Length; i++)
        {
            destination[i] = GpuElements.WidenBFloat16(bits[i]);
        }
    }

    /// <summary>Waits for the default stream and copies the device state into the host optimizer's state buffers.</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void SynchronizeHostState()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using DeviceGuard device = EnterDevice("GpuOptimizer.SynchronizeHostState");
        SynchronizeHostStateCore();
    }

    /// <summary><see cref="SynchronizeHostState"/> inside a call that holds the device guard.</summary>
    private void SynchronizeHostStateCore()
    {
        using Optimizer.StepGuard guard = Optimizer.EnterGuard("GpuOptimizer.SynchronizeHostState");
        SynchronizeHostStateGuarded();
    }

    /// <summary><see cref="SynchronizeHostState"/> for a caller that holds the optimizer's guard.</summary>
    private void SynchronizeHostStateGuarded()
    {
        ThrowIfHostChanged();
        StateStorage host = Optimizer.StateStorage;
        Accelerator.Synchronize();
        if (DeviceIsBlockwise)
        {
            DownloadBlockwise();
            return;
        }

        for (int k = 0; k < host.Count; k++)
        {
            // A plane's length: the layout's state length, or its compact extents (Adam-mini's v_b).
            int length = host.PlaneLength(k);
            if (length == 0)
            {
                continue;
            }

            if (_state32 is not null)
            {
                _state32.View.BaseView.SubView(k * StateStride, length).CopyToCPU(ref MemoryMarshal.GetReference(host.Elements<float>(k, 0, length)), length);
            }
            else
            {
                _state16!.View.BaseView.SubView(k * StateStride, length).CopyToCPU(ref MemoryMarshal.GetReference(host.Elements<ushort>(k, 0, length)), length);
            }
        }
    }

    /// <summary>
    /// Copies the host optimizer's state buffers to the device and takes its step count: after the host optimizer was
    /// stepped, reset, loaded or converted directly, which makes <c>Step</c> refuse to run on the stale device state.
    /// </summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void ReloadFromHost()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using DeviceGuard device = EnterDevice("GpuOptimizer.ReloadFromHost");
        using Optimizer.StepGuard guard = Optimizer.EnterGuard("GpuOptimizer.ReloadFromHost");
        ThrowIfDeviceCannotStore(Optimizer, _update, StoredPrecisions(Optimizer), nameof(Optimizer));
        Accelerator.Synchronize();
        UploadState();
    }

    /// <summary>
    /// Writes a checkpoint of the device state with the host optimizer's hyperparameters, carried scalars and step
    /// count: the host optimizer's own checkpoint format, so either side can load it.
    /// </summary>
    /// <param name="stream">A writable stream.</param>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void SaveCheckpoint(Stream stream)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using DeviceGuard device = EnterDevice("GpuOptimizer.SaveCheckpoint");
        SynchronizeHostStateCore();
        Optimizer.SaveCheckpoint(stream);
    }

    /// <summary>Writes a checkpoint of the device state to a file, atomically, as <see cref="Optimizer.SaveCheckpoint(string)"/> does.</summary>
    /// <param name="path">The file to write (replaced only once the new checkpoint is complete).</param>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void SaveCheckpoint(string path)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using DeviceGuard device = EnterDevice("GpuOptimizer.SaveCheckpoint");
        SynchronizeHostStateCore();
        Optimizer.SaveCheckpoint(path);
    }

    /// <summary>Loads a checkpoint file into the host optimizer, then its state onto the device; see <see cref="LoadCheckpoint(Stream)"/>.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <exception cref="CheckpointException">The checkpoint is malformed or of another rule or layout.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void LoadCheckpoint(string path) =>
        ReplaceHostState(path, static (optimizer, file) => optimizer.LoadCheckpoint(file), "GpuOptimizer.LoadCheckpoint");

    /// <summary>
    /// Loads a checkpoint (written by <see cref="SaveCheckpoint(Stream)"/> or by <see cref="Optimizer.SaveCheckpoint(Stream)"/>
    /// of the same rule and layout) into the host optimizer, then its state onto the device. A checkpoint the host
    /// optimizer refuses leaves the host optimizer and the device state as they were.
    /// </summary>
    /// <param name="stream">A readable stream.</param>
    /// <exception cref="CheckpointException">The checkpoint is malformed or of another rule or layout.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void LoadCheckpoint(Stream stream) =>
        ReplaceHostState(stream, static (optimizer, source) => optimizer.LoadCheckpoint(source), "GpuOptimizer.LoadCheckpoint");

    /// <summary>
    /// Converts the device state of every group without a precision of its own to <paramref name="precision"/>, as
    /// <see cref="Optimizer.ChangeStatePrecision"/> converts the host's (groups of their own precision keep their
    /// state bit for bit; see <see cref="SetGroupStatePrecision"/>).
    /// </summary>
    /// <param name="precision">The new precision.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="precision"/> is not a defined value; nothing was changed.</exception>
    /// <exception cref="NotSupportedException">The state would be stored per tensor (8-bit or 4-bit blockwise, or groups of different precisions) and the rule has no blockwise GPU kernel (a rule with reductions), or the host optimizer refuses it; nothing was changed.</exception>
    /// <exception cref="InvalidOperationException">The host optimizer was changed behind this object, or another thread uses it; nothing was changed.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void ChangeStatePrecision(StatePrecision precision)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        OptGen.Optimizer.ThrowIfUndefined(precision, nameof(precision));
        if (precision == StatePrecision)
        {
            return;
        }

        // The device guard and the optimizer's guard over the copy to the host, the conversion and the upload: a step
        // of another thread between them would be overwritten by the converted copy from before it, yet stay counted.
        using DeviceGuard device = EnterDevice("GpuOptimizer.ChangeStatePrecision");
        using Optimizer.StepGuard guard = Optimizer.EnterGuard("GpuOptimizer.ChangeStatePrecision");
        ThrowIfDeviceCannotStore(Optimizer, _update, PrecisionsWith(precision), nameof(precision));
        SynchronizeHostStateGuarded();
        Optimizer.ChangeStatePrecisionGuarded(precision);
        UploadState();
    }

    /// <summary>Resets the host optimizer (state, carried scalars, step count) and the device state to their initial values; hyperparameters are kept.</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Reset() =>
        ReplaceHostState(0, static (optimizer, _) => optimizer.Reset(), "GpuOptimizer.Reset");

    /// <summary>
    /// Waits for the device, lets <paramref name="replace"/> replace the host optimizer's state (under the host's own
    /// guard; one that throws leaves host and device as they were), then uploads the new state under the guard,
    /// naming <paramref name="operation"/>.
    /// </summary>
    private void ReplaceHostState<TArgument>(TArgument argument, Action<Optimizer, TArgument> replace, string operation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using DeviceGuard device = EnterDevice(operation);
        Accelerator.Synchronize();
        replace(Optimizer, argument);
        using Optimizer.StepGuard guard = Optimizer.EnterGuard(operation);
        UploadState();
    }

    /// <summary>
    /// Copies the device state into the host optimizer's state buffers (unless the host optimizer was changed
    /// directly), so that it, or a new <see cref="GpuOptimizer"/> over it, continues where the device left off; then
    /// frees the device memory of the state and tables (the compiled kernels stay with the accelerator).
    /// </summary>
    /// <exception cref="InvalidOperationException">Another thread is in a call of this object; nothing was freed (dispose it once that call returned).</exception>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        ClaimForDispose();
        try
        {
            // The host's state buffers were only a staging copy while this object drove it: without this copy the
            // host optimizer, stepped on after Dispose, would take its step count from the device's run and its state
            // from before it.
            if (DeviceHoldsHostState)
            {
                using Optimizer.StepGuard guard = Optimizer.EnterGuard("GpuOptimizer.Dispose");
                SynchronizeHostStateGuarded();
            }
        }
        finally
        {
            FreeDevice();
        }
    }

    /// <summary>Marks this object disposed and frees its device memory; <see cref="Dispose"/> holds both guards.</summary>
    private void FreeDevice()
    {
        _disposed = true;
        _update?.Dispose();
        _chunks?.Dispose();
        _pieces?.Dispose();
        _lanes?.Dispose();
        _partial?.Dispose();
        _results?.Dispose();
        _factor?.Dispose();
        _state32?.Dispose();
        _state16?.Dispose();
        FreeBlockwise();
        _stagingParameters?.Dispose();
        _stagingGradients?.Dispose();
        _stagingSquares?.Dispose();

        // Released for the calls that follow: each now finds _disposed inside its guard and throws ObjectDisposedException.
        System.Threading.Volatile.Write(ref _deviceBusy, 0);
        System.Threading.Volatile.Write(ref _stagingBusy, 0);
    }

    /// <summary>
    /// Elements between device state planes: the layout's state length (or a longer compact plane: an empty tensor
    /// still has its tensor value and its columns) rounded up to 64 (256-byte aligned planes).
    /// </summary>
    private long StateStride => (Math.Max(Layout.StateLength, LongestStatePlane()) + 63L) & ~63L;

    /// <summary>The device tensor table: every tensor cut into chunks of <see cref="GpuChunk.Capacity"/> elements.</summary>
    private static GpuChunk[] CreateChunks(ParameterLayout layout)
    {
        long count = 0;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            count += (layout.LengthOf(j) + GpuChunk.Capacity - 1L) / GpuChunk.Capacity;
        }

        var chunks = new GpuChunk[count];
        long c = 0;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            for (int start = 0; start < layout.LengthOf(j); start += GpuChunk.Capacity)
            {
                chunks[c++] = new GpuChunk(j, layout.GroupOf(j), Math.Min(GpuChunk.Capacity, layout.LengthOf(j) - start), start, (long)layout.ArenaOffsetOf(j) + start, (long)layout.StateOffsetOf(j) + start);
            }
        }

        return chunks;
    }

    /// <summary>The gradient-norm pieces: the CPU engine's work pieces (<see cref="StepPlan.Pieces"/>), in its order.</summary>
    private static GpuPiece[] CreatePieces(Optimizer optimizer)
    {
        ParameterLayout layout = optimizer.Layout;
        Piece[] pieces = optimizer.Plan.Pieces;
        var table = new GpuPiece[pieces.Length];
        for (int k = 0; k < pieces.Length; k++)
        {
            table[k] = new GpuPiece((long)layout.ArenaOffsetOf(pieces[k].Tensor) + pieces[k].Start, pieces[k].Length);
        }

        return table;
    }

    private static bool Overlaps(in Operand a, in Operand b) =>
        a.Length > 0 && b.Length > 0 && ReferenceEquals(a.Buffer, b.Buffer) && a.ByteStart < b.ByteEnd && b.ByteStart < a.ByteEnd;

    private void StepCore(Operand parameters, Operand gradients, int parameterCodec, int gradientCodec, StepOptions? options, AcceleratorStream? stream) =>
        StepCore(parameters, gradients, default, hasSquares: false, parameterCodec, gradientCodec, options, stream);

    /// <summary>The step; <paramref name="squares"/> (stored like the gradients) when <paramref name="hasSquares"/>.</summary>
    private void StepCore(Operand parameters, Operand gradients, Operand squares, bool hasSquares, int parameterCodec, int gradientCodec, StepOptions? options, AcceleratorStream? stream)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        options ??= StepOptions.Default;
        Check(parameters);
        Check(gradients);
        Optimizer.ThrowIfSquaresMismatch(hasSquares);
        if (hasSquares)
        {
            Check(squares);
        }

        if (stream is not null && stream.Accelerator != Accelerator)
        {
            throw new ArgumentException("The stream belongs to another accelerator.", nameof(stream));
        }

        if (Overlaps(parameters, gradients))
        {
            throw new ArgumentException("The gradients overlap the parameters; the update is in place and needs separate buffers.", gradients.Name);
        }

        Operand state = _state32 is not null ? Operand.Of(_state32.View.BaseView, "state") : _state16 is not null ? Operand.Of(_state16.View.BaseView, "state") : default;
        if (Overlaps(parameters, state))
        {
            throw new ArgumentException("The parameters overlap the optimizer's own state.", parameters.Name);
        }

        if (Overlaps(gradients, state))
        {
            throw new ArgumentException("The gradients overlap the optimizer's own state.", gradients.Name);
        }

        if (hasSquares && (Overlaps(parameters, squares) || Overlaps(squares, state)))
        {
            throw new ArgumentException("The per-example squares overlap the parameters or the optimizer's own state.", squares.Name);
        }

        // Every argument check is done: from here on the engine plans the step, and it happens or is skipped as a whole.
        using DeviceGuard device = EnterDevice("GpuOptimizer.Step");
        using Optimizer.StepGuard guard = Optimizer.EnterGuard("GpuOptimizer.Step");
        ThrowIfHostChanged();

        stream ??= Accelerator.DefaultStream;
        var backend = new GpuBackend(this, stream, parameters, gradients, squares, parameterCodec, gradientCodec);
        try
        {
            if (!options.NeedsNorm || options.SkipNonFinite || _norm is null)
            {
                // The engine's own sequence. With skipping, the norm is read back: the skip decides whether the step is
                // counted (and t of the bias corrections), so the host needs the sum before it plans the rest.
                PublishLast(Optimizer.RunStep(ref backend, options), onDevice: false);
                _deviceStepCount = Optimizer.StepCount;
                return;
            }

            // Clipping or the norm without skipping: the same phases, but the norm, the clip factor and the gradient
            // factor stay on the device (GpuGradientNorm.Finish: the formulas of Optimizer.Decide), so nothing waits.
            StepPlan plan = Optimizer.BeginStep(options);
            LaunchNorm(stream, gradients, squares, gradientCodec, options);
            Optimizer.PrepareGroups(plan);
            LaunchUpdate(plan, stream, parameters, gradients, squares, parameterCodec, gradientCodec, deviceFactor: !double.IsPositiveInfinity(options.MaxGradientNorm));
            PublishLast(Optimizer.CommitStep(plan), onDevice: true);
            _deviceStepCount = Optimizer.StepCount;
        }
        catch (Exception)
        {
            // A failed step may have launched the norm into the results buffer: the previous step's norm is gone.
            lock (_lastLock)
            {
                _lastOnDevice = false;
            }

            throw;
        }
    }

    /// <summary>The update launch of a planned step: each group's kernel struct from the plan, then one launch over every chunk.</summary>
    private void LaunchUpdate(StepPlan plan, AcceleratorStream stream, in Operand parameters, in Operand gradients, in Operand squares, int parameterCodec, int gradientCodec, bool deviceFactor)
    {
        if (_chunks is null)
        {
            // Launching an empty grid throws in ILGPU: a step over no elements only counts.
            return;
        }

        for (int k = 0; k < Layout.GroupCount; k++)
        {
            _update.SetGroup(k, plan.Hyperparameters(k), plan.HostState(k), plan.Step, plan.BatchSize);
        }

        var views = new GpuUpdateViews
        {
            Chunks = _chunks.View.BaseView,
            Factor = _factor.View.BaseView,
            Parameters32 = parameters.Wide,
            Parameters16 = parameters.Narrow,
            Gradients32 = gradients.Wide,
            Gradients16 = gradients.Narrow,
            State32 = _state32 is null ? ArrayView<float>.Empty : _state32.View.BaseView,
            State16 = _state16 is null ? ArrayView<ushort>.Empty : _state16.View.BaseView,
            Inputs32 = squares.Wide,
            Inputs16 = squares.Narrow,
        };
        var launch = new GpuLaunch
        {
            ParameterCodec = parameterCodec,
            GradientCodec = gradientCodec,
            StateCodec = _state32 is null ? GpuCodec.BFloat16 : GpuCodec.Float32,
            StateStride = StateStride,
            Step = plan.Step,
            RoundingSeed = plan.Options.RoundingSeed,
            GradientFactor = (float)plan.GradientScale,
            DeviceFactor = deviceFactor ? 1 : 0,
        };
        if (DeviceIsBlockwise)
        {
            LaunchBlockwise(stream, views, launch);
            return;
        }

        _update.Launch(stream, _updateThreads, views, launch);
    }

    /// <summary>The norm's three launches; <paramref name="squares"/> (empty views without per-example squares) are only checked for NaN/±∞.</summary>
    private void LaunchNorm(AcceleratorStream stream, in Operand gradients, in Operand squares, int gradientCodec, StepOptions options)
    {
        _norm!.LaneSums(stream, _pieceCount * GpuGradientNorm.Lanes, _pieces!.View.BaseView, gradients.Wide, gradients.Narrow, squares.Wide, squares.Narrow, _lanes!.View.BaseView, gradientCodec);
        _norm.PieceSums(stream, _pieceCount, _lanes.View.BaseView, _partial!.View.BaseView);
        var normOptions = new GpuGradientNorm.NormOptions
        {
            GradientScale = options.GradientScale,
            MaxGradientNorm = options.MaxGradientNorm,
            Clip = double.IsPositiveInfinity(options.MaxGradientNorm) ? 0 : 1,
        };
        _norm.Finish(stream, 1, _partial.View.BaseView, _results.View.BaseView, _factor.View.BaseView, normOptions);
    }

    private void ReadResults(AcceleratorStream stream) =>
        _results.View.BaseView.CopyToCPU(stream, ref _resultsHost[0], _resultsHost.Length);

    /// <summary>
    /// Throws unless the device state is the host optimizer's: the same step count, the same state precisions (the
    /// optimizer's and every group's) and the same per-tensor state object. The host changed directly (stepped,
    /// reset, loaded or converted while this object drives it), or an upload that failed half-way
    /// (<see cref="UploadState"/>), makes the device state stale: a step on it, or a copy of it over the host's,
    /// would lose the host's change silently.
    /// </summary>
    private void ThrowIfHostChanged()
    {
        if (!DeviceHoldsHostState)
        {
            throw new InvalidOperationException(
                $"The host optimizer was changed directly (step count {Optimizer.StepCount}, {Describe(StoredPrecisions(Optimizer))} state; the device state is at step {_deviceStepCount}, {Describe(_deviceGroupPrecisions)}): " +
                "while a GpuOptimizer drives it, step, reset, load and convert it through the GpuOptimizer. Call ReloadFromHost to take the host optimizer's state. Nothing was written.");
        }
    }

    /// <summary>Whether the device state is the host optimizer's (see <see cref="ThrowIfHostChanged"/>); false before the first upload completes.</summary>
    private bool DeviceHoldsHostState =>
        Optimizer.StepCount == _deviceStepCount && ReferenceEquals(Optimizer.Blockwise, _hostBlockwise) && HostPrecisionsMatchDevice();

    /// <summary>(Re)allocates the device state in the host optimizer's precisions and copies the host state there; inside the optimizer's guard.</summary>
    private void UploadState()
    {
        // Until the copy is complete the device state matches no host state (step count −1): if an allocation or copy
        // fails half-way, Step and SynchronizeHostState refuse until ReloadFromHost succeeds.
        _deviceStepCount = -1;
        if (Optimizer.Blockwise is { Count: > 0 } blockwise)
        {
            UploadBlockwise(blockwise);
        }
        else
        {
            FreeBlockwise();
            UploadFlatState();
        }

        _devicePrecision = Optimizer.StatePrecision;
        _deviceGroupPrecisions = StoredPrecisions(Optimizer);
        _hostBlockwise = Optimizer.Blockwise;
        _deviceStepCount = Optimizer.StepCount;
    }

    /// <summary>The float32 or bfloat16 part of <see cref="UploadState"/>.</summary>
    private void UploadFlatState()
    {
        StateStorage host = Optimizer.StateStorage;
        long size = Math.Max(1, host.Count * StateStride);
        bool single = host.ElementSize == sizeof(float);
        if (single && _state32 is null)
        {
            _state16?.Dispose();
            _state16 = null;
            _state32 = Accelerator.Allocate1D<float>(size);
        }
        else if (!single && _state16 is null)
        {
            _state32?.Dispose();
            _state32 = null;
            _state16 = Accelerator.Allocate1D<ushort>(size);
        }

        for (int k = 0; k < host.Count; k++)
        {
            int length = host.PlaneLength(k);
            if (length == 0)
            {
                continue;
            }

            if (single)
            {
                _state32!.View.BaseView.SubView(k * StateStride, length).CopyFromCPU(ref MemoryMarshal.GetReference(host.Elements<float>(k, 0, length)), length);
            }
            else
            {
                _state16!.View.BaseView.SubView(k * StateStride, length).CopyFromCPU(ref MemoryMarshal.GetReference(host.Elements<ushort>(k, 0, length)), length);
            }
        }
    }

    private void Check(in Operand view)
    {
        if (view.Length != Length)
        {
            throw new ArgumentException($"Expected {Length} elements but got {view.Length}.", view.Name);
        }

        if (Length > 0 && (view.Buffer is null || view.Buffer.Accelerator != Accelerator))
        {
            throw new ArgumentException("The view is not memory of this optimizer's accelerator.", view.Name);
        }
    }

    /// <summary>Checks the host buffers of a host-memory step: <see cref="Length"/> parameters and gradients, not overlapping.</summary>
    /// <exception cref="ArgumentException">A length differs from <see cref="Length"/>, or the gradients overlap the parameters.</exception>
    private void ThrowIfNotHostBuffers(ReadOnlySpan<float> parameters, ReadOnlySpan<float> gradients)
    {
        if (parameters.Length != Length)
        {
            throw new ArgumentException($"Expected {Length} parameters but got {parameters.Length}.", nameof(parameters));
        }

        if (gradients.Length != Length)
        {
            throw new ArgumentException($"Expected {Length} gradients but got {gradients.Length}.", nameof(gradients));
        }

        if (parameters.Overlaps(gradients))
        {
            throw new ArgumentException("The gradients overlap the parameters; the update is in place and needs separate buffers.", nameof(gradients));
        }
    }

    private int IndexOfState(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        int index = Optimizer.Descriptor.IndexOfState(name);
        if (index < 0)
        {
            throw new ArgumentException($"The rule '{Optimizer.Descriptor.Name}' has no state buffer '{name}'.", nameof(name));
        }

        return index;
    }

    /// <summary>The GPU backend of the step engine for one step's buffers: the norm reduction read back, and the update launch.</summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly struct GpuBackend(GpuOptimizer owner, AcceleratorStream stream, Operand parameters, Operand gradients, Operand squares, int parameterCodec, int gradientCodec) : IStepBackend
    {
        /// <inheritdoc/>
        public GradientSummary Summarize(StepPlan plan)
        {
            if (owner._norm is null)
            {
                return default;
            }

            owner.LaunchNorm(stream, gradients, squares, gradientCodec, plan.Options);
            owner.ReadResults(stream);
            return new GradientSummary(owner._resultsHost[0], (float)owner._resultsHost[3]);
        }

        /// <inheritdoc/>
        public void Update(StepPlan plan) =>
            owner.LaunchUpdate(plan, stream, parameters, gradients, squares, parameterCodec, gradientCodec, deviceFactor: false);
    }

    /// <summary>A parameter or gradient arena as the kernel takes it: a float32 view or a 16-bit view, with its buffer and byte range for the checks.</summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly struct Operand
    {
        public ArrayView<float> Wide { get; init; }

        public ArrayView<ushort> Narrow { get; init; }

        public long Length { get; init; }

        public MemoryBuffer? Buffer { get; init; }

        public long ByteStart { get; init; }

        public long ByteEnd { get; init; }

        public string Name { get; init; }

        public static Operand Of(ArrayView<float> view, string name) => Describe(view, name) with { Wide = view, Narrow = ArrayView<ushort>.Empty };

        public static Operand Of(ArrayView<ushort> view, string name) => Describe(view, name) with { Wide = ArrayView<float>.Empty, Narrow = view };

        public static Operand Of(ArrayView<Half> view, string name) => Describe(view, name) with { Wide = ArrayView<float>.Empty, Narrow = view.IsValid ? view.Cast<ushort>() : ArrayView<ushort>.Empty };

        public static Operand Of(ArrayView<BFloat16> view, string name) => Describe(view, name) with { Wide = ArrayView<float>.Empty, Narrow = view.IsValid ? view.Cast<ushort>() : ArrayView<ushort>.Empty };

        private static Operand Describe<T>(ArrayView<T> view, string name)
            where T : unmanaged
        {
            if (!view.IsValid || view.Length == 0)
            {
                return new Operand { Length = view.IsValid ? view.Length : 0, Name = name };
            }

            long start = IndexOf(view) * ArrayView<T>.ElementSize;
            return new Operand { Length = view.Length, Buffer = BufferOf(view), ByteStart = start, ByteEnd = start + view.LengthInBytes, Name = name };
        }

        // ArrayView<T> exposes its buffer and offset only through these interfaces.
        private static MemoryBuffer BufferOf<TView>(TView view)
            where TView : IArrayView => view.Buffer;

        private static long IndexOf<TView>(TView view)
            where TView : IContiguousArrayView => view.Index;
    }
}
