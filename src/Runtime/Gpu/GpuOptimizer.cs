using System;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace OptGen.Gpu;

/// <summary>
/// Runs an optimizer's generated GPU kernel on an ILGPU accelerator (CUDA, OpenCL or the CPU accelerator), with
/// the optimizer state kept in device memory. Each <see cref="Step(ArrayView{float}, ArrayView{float}, AcceleratorStream?)"/>
/// is one kernel launch of <see cref="Threads"/> threads that walk the elements, calling the same scalar update as the
/// CPU path on each.
/// </summary>
/// <remarks>
/// <para>The hyperparameters are read from <see cref="Optimizer"/> at every step, so a schedule that sets
/// <c>LearningRate</c> on the host optimizer applies here too. The device state and <see cref="StepCount"/> are this
/// object's own: they start as a copy of the host optimizer's state and step count, and the host optimizer's state
/// is never written.</para>
/// <para>The kernel is compiled once per accelerator and per-element rule and reused. Launches are asynchronous on
/// the given stream (the accelerator's default stream when none is given). Not thread-safe.</para>
/// <para>The optimizer must have been generated in a project that references ILGPU (every catalog optimizer is).</para>
/// </remarks>
public sealed class GpuOptimizer : IDisposable
{
    private readonly GpuStepLauncher _launch;
    private readonly IGpuKernelSource _source;
    private readonly double[] _hostState;
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _state;
    private readonly ArrayView<float>[] _stateViews;
    private readonly double[] _hyperparameters;
    private MemoryBuffer1D<float, Stride1D.Dense>? _stagingParameters;
    private MemoryBuffer1D<float, Stride1D.Dense>? _stagingGradients;
    private bool _disposed;

    /// <summary>Loads <paramref name="optimizer"/>'s kernel on <paramref name="accelerator"/> and copies its state there.</summary>
    /// <param name="optimizer">The optimizer whose rule, hyperparameters, state and step count to start from.</param>
    /// <param name="accelerator">The accelerator to run on.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The optimizer was generated without ILGPU, so it has no GPU kernel.</exception>
    public GpuOptimizer(Optimizer optimizer, Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(accelerator);
        if (optimizer is not IGpuKernelSource source)
        {
            throw new ArgumentException(
                $"The optimizer '{optimizer.Descriptor.Name}' ({optimizer.GetType().FullName}) has no GPU kernel: it was generated in a project that does not reference ILGPU.",
                nameof(optimizer));
        }

        Optimizer = optimizer;
        Accelerator = accelerator;
        Length = optimizer.Length;
        StepCount = optimizer.StepCount;
        Threads = (int)Math.Clamp(accelerator.MaxNumThreads, 1, Math.Max(1, Length));
        _hyperparameters = new double[optimizer.Descriptor.Hyperparameters.Count];
        _source = source;
        _hostState = new double[optimizer.Descriptor.HostStates.Count];
        source.CopyHostState(_hostState);
        _launch = source.LoadGpuKernel(accelerator);

        int states = optimizer.Descriptor.States.Count;
        _state = new MemoryBuffer1D<float, Stride1D.Dense>[states];
        _stateViews = new ArrayView<float>[states];
        try
        {
            for (int k = 0; k < states; k++)
            {
                _state[k] = accelerator.Allocate1D<float>(Length);
                _stateViews[k] = _state[k].View;
                Upload(_stateViews[k], optimizer.GetState(optimizer.Descriptor.States[k].Name));
            }

            accelerator.DefaultStream.Synchronize();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The host optimizer: the rule and the hyperparameters read at every step.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The accelerator the kernel runs on and the state lives on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The number of parameters updated.</summary>
    public int Length { get; }

    /// <summary>
    /// The threads each step launches: as many as the accelerator keeps resident at once (one wave), at most one
    /// per element; each walks its elements in a grid-stride loop.
    /// </summary>
    public int Threads { get; }

    /// <summary>The number of steps taken; the next step is t = <see cref="StepCount"/> + 1.</summary>
    public long StepCount { get; private set; }

    /// <summary>
    /// One optimizer step on the device: a single kernel launch that updates <paramref name="parameters"/> and the
    /// state in place. Asynchronous on <paramref name="stream"/>.
    /// </summary>
    /// <param name="parameters">The parameters, on <see cref="Accelerator"/>; <see cref="Length"/> elements.</param>
    /// <param name="gradients">Their gradients, on <see cref="Accelerator"/>; <see cref="Length"/> elements, not overlapping the parameters.</param>
    /// <param name="stream">The stream to launch on; the accelerator's default stream when null.</param>
    /// <exception cref="ArgumentException">A view is invalid, has the wrong length, lives on another accelerator, or overlaps another buffer. Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Step(ArrayView<float> parameters, ArrayView<float> gradients, AcceleratorStream? stream = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Check(parameters, nameof(parameters));
        Check(gradients, nameof(gradients));
        if (stream is not null && stream.Accelerator != Accelerator)
        {
            throw new ArgumentException("The stream belongs to another accelerator.", nameof(stream));
        }

        if (Length > 0)
        {
            if (Overlaps(parameters, gradients))
            {
                throw new ArgumentException("The gradients overlap the parameters; the update is in place and needs separate buffers.", nameof(gradients));
            }

            foreach (ArrayView<float> state in _stateViews)
            {
                if (Overlaps(parameters, state))
                {
                    throw new ArgumentException("The parameters overlap the optimizer's own state.", nameof(parameters));
                }

                if (Overlaps(gradients, state))
                {
                    throw new ArgumentException("The gradients overlap the optimizer's own state.", nameof(gradients));
                }
            }
        }

        // Every check is done: from here on the step happens.
        for (int i = 0; i < _hyperparameters.Length; i++)
        {
            _hyperparameters[i] = Optimizer[Optimizer.Descriptor.Hyperparameters[i].Name];
        }

        long step = StepCount + 1;
        if (_hostState.Length > 0)
        {
            _source.AdvanceGpuHostState(_hostState, _hyperparameters, step);
        }

        if (Length > 0)
        {
            // Launching an empty grid throws in ILGPU: a step over no elements only counts.
            _launch(stream ?? Accelerator.DefaultStream, Threads, _hyperparameters, _hostState, step, 1.0, parameters, gradients, _stateViews);
        }

        StepCount = step;
    }

    /// <summary>One optimizer step on the device over two buffers; see <see cref="Step(ArrayView{float}, ArrayView{float}, AcceleratorStream?)"/>.</summary>
    /// <param name="parameters">The parameters; <see cref="Length"/> elements.</param>
    /// <param name="gradients">Their gradients; <see cref="Length"/> elements.</param>
    /// <param name="stream">The stream to launch on; the accelerator's default stream when null.</param>
    /// <exception cref="ArgumentNullException">A buffer is null.</exception>
    /// <exception cref="ArgumentException">A buffer has the wrong length, lives on another accelerator, or is the other buffer. Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Step(MemoryBuffer1D<float, Stride1D.Dense> parameters, MemoryBuffer1D<float, Stride1D.Dense> gradients, AcceleratorStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(gradients);
        Step(parameters.View.BaseView, gradients.View.BaseView, stream);
    }

    /// <summary>
    /// One step over host memory: copies the parameters and gradients to the device, launches the kernel, waits for
    /// it and copies the parameters back. For tests and small problems; keep tensors on the device for speed.
    /// </summary>
    /// <param name="parameters">The parameters to update; <see cref="Length"/> elements.</param>
    /// <param name="gradients">Their gradients; <see cref="Length"/> elements, not overlapping <paramref name="parameters"/>.</param>
    /// <exception cref="ArgumentException">A length differs from <see cref="Length"/>, or the buffers overlap. Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
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

        if (Length == 0)
        {
            Step(ArrayView<float>.Empty, ArrayView<float>.Empty);
            return;
        }

        _stagingParameters ??= Accelerator.Allocate1D<float>(Length);
        _stagingGradients ??= Accelerator.Allocate1D<float>(Length);
        ArrayView<float> p = _stagingParameters.View.BaseView;
        ArrayView<float> g = _stagingGradients.View.BaseView;

        // The host memory stays pinned until every copy has completed: ILGPU's copies from and to a `ref T` may run
        // on the stream after the call returns, and a managed array the GC moved meanwhile would be read or written
        // at its old address.
        unsafe
        {
            fixed (float* hostParameters = parameters)
            fixed (float* hostGradients = gradients)
            {
                Upload(p, parameters);
                Upload(g, gradients);
                Accelerator.DefaultStream.Synchronize();
                Step(p, g);
                Accelerator.DefaultStream.Synchronize();
                Download(p, parameters);
                Accelerator.DefaultStream.Synchronize();
            }
        }
    }

    /// <summary>The device view of the state buffer called <paramref name="name"/> (e.g. <c>"FirstMoment"</c>).</summary>
    /// <param name="name">The state buffer's name, as in <see cref="OptimizerDescriptor.States"/>.</param>
    /// <exception cref="ArgumentException">The rule has no such state buffer.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public ArrayView<float> GetState(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _stateViews[IndexOfState(name)];
    }

    /// <summary>Waits for the default stream and copies the state buffer called <paramref name="name"/> to host memory.</summary>
    /// <param name="name">The state buffer's name, as in <see cref="OptimizerDescriptor.States"/>.</param>
    /// <param name="destination">Where to copy it; <see cref="Length"/> elements.</param>
    /// <exception cref="ArgumentException">The rule has no such state buffer, or the destination has the wrong length.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void CopyState(string name, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int index = IndexOfState(name);
        if (destination.Length != Length)
        {
            throw new ArgumentException($"Expected {Length} elements but got {destination.Length}.", nameof(destination));
        }

        Accelerator.DefaultStream.Synchronize();
        Download(_stateViews[index], destination);
    }

    /// <summary>Sets every device state buffer to its initial value and the step count to zero; hyperparameters are kept.</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var initial = new float[Length];
        for (int k = 0; k < _stateViews.Length; k++)
        {
            int source = Optimizer.Descriptor.States[k].InitialValueHyperparameter;
            Array.Fill(initial, source < 0 ? 0f : (float)Optimizer[Optimizer.Descriptor.Hyperparameters[source].Name]);
            Upload(_stateViews[k], initial);
        }

        for (int i = 0; i < _hostState.Length; i++)
        {
            _hostState[i] = Optimizer.Descriptor.HostStates[i].InitialValue;
        }

        Accelerator.DefaultStream.Synchronize();
        StepCount = 0;
    }

    /// <summary>Frees the device memory of the state (the compiled kernel stays with the accelerator).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (MemoryBuffer1D<float, Stride1D.Dense>? buffer in _state)
        {
            buffer?.Dispose();
        }

        _stagingParameters?.Dispose();
        _stagingGradients?.Dispose();
    }

    private static void Upload(ArrayView<float> destination, ReadOnlySpan<float> source)
    {
        if (source.Length > 0)
        {
            destination.CopyFromCPU(ref MemoryMarshal.GetReference(source), source.Length);
        }
    }

    private static void Download(ArrayView<float> source, Span<float> destination)
    {
        if (destination.Length > 0)
        {
            source.CopyToCPU(ref MemoryMarshal.GetReference(destination), destination.Length);
        }
    }

    private static bool Overlaps(ArrayView<float> a, ArrayView<float> b) =>
        ReferenceEquals(BufferOf(a), BufferOf(b)) && IndexOf(a) < IndexOf(b) + b.Length && IndexOf(b) < IndexOf(a) + a.Length;

    // ArrayView<T> exposes its buffer and offset only through these interfaces.
    private static MemoryBuffer BufferOf<TView>(TView view)
        where TView : IArrayView => view.Buffer;

    private static long IndexOf<TView>(TView view)
        where TView : IContiguousArrayView => view.Index;

    private void Check(ArrayView<float> view, string name)
    {
        if (view.Length != Length)
        {
            throw new ArgumentException($"Expected {Length} elements but got {view.Length}.", name);
        }

        if (Length > 0 && (!view.IsValid || BufferOf(view).Accelerator != Accelerator))
        {
            throw new ArgumentException("The view is not memory of this optimizer's accelerator.", name);
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
}
