using System;
using System.ComponentModel;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// The base of every generated optimizer: hyperparameters, the step counter, the per-element state of one
/// tensor, argument checks, and the hand-off to the generated fused kernel.
/// </summary>
/// <remarks>
/// <para>Derived classes are written by the OptGen generator from the attributes on a <c>partial class</c>; they add a
/// typed property per hyperparameter and state buffer and implement <see cref="RunKernel"/>.</para>
/// <para><b>Not thread-safe.</b> Use one optimizer from one thread at a time. Misuse is detected, not undefined: a
/// <c>Step</c>, <see cref="Reset"/>, <see cref="ChangeStatePrecision"/>, <c>SaveCheckpoint</c>, <c>LoadCheckpoint</c>,
/// <see cref="CopyState"/>, <c>GetState</c>, <see cref="SetSchedule(string, Schedule)"/> or a hyperparameter setter called while another of
/// them runs on another thread throws <see cref="InvalidOperationException"/> and changes nothing. A single step may
/// itself use several cores (<see cref="MaxDegreeOfParallelism"/>).</para>
/// </remarks>
public abstract partial class Optimizer
{
    private readonly double[] _hyperparameters;
    private readonly double[] _hostState;
    private StateStorage _state;
    private int _maxDegreeOfParallelism = -1;

    /// <summary>Creates the optimizer with state for <paramref name="length"/> parameters, every hyperparameter at its default.</summary>
    /// <param name="descriptor">The rule (generated).</param>
    /// <param name="length">The number of parameters, ≥ 0.</param>
    protected Optimizer(OptimizerDescriptor descriptor, int length)
        : this(descriptor, ParameterLayout.Single(length))
    {
    }

    /// <summary>Creates the optimizer for the tensors and parameter groups of <paramref name="layout"/>, every hyperparameter at its default.</summary>
    /// <param name="descriptor">The rule (generated).</param>
    /// <param name="layout">The tensors and groups to update.</param>
    protected Optimizer(OptimizerDescriptor descriptor, ParameterLayout layout)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(layout);
        Descriptor = descriptor;
        Layout = layout;
        _hyperparameters = new double[descriptor.Hyperparameters.Count];
        for (int i = 0; i < _hyperparameters.Length; i++)
        {
            _hyperparameters[i] = descriptor.Hyperparameters[i].DefaultValue;
        }

        _groupHyperparameters = CreateGroups();
        _state = NewState(_groupHyperparameters, sizeof(float));
        _hostState = new double[descriptor.HostStates.Count];
        _groupHostState = CreateGroupHostStates();
        InitializeState();
        PrepareStepScratch();
    }

    /// <summary>The rule: its name, hyperparameters, state buffers and memory traffic.</summary>
    public OptimizerDescriptor Descriptor { get; }

    /// <summary>The number of parameters this optimizer updates (over every tensor of <see cref="Layout"/>).</summary>
    public int Length => Layout.TotalLength;

    /// <summary>
    /// The most threads one step may use, for every <c>Step</c> overload: −1 (the default) follows
    /// <see cref="ParallelUpdate.DefaultMaxDegreeOfParallelism"/>, 1 keeps every step on the calling thread (no
    /// thread-pool work is queued). <see cref="StepOptions.MaxDegreeOfParallelism"/>, when not −1, overrides it for
    /// that step. A step uses one thread per <see cref="ParallelUpdate.MinimumElementsPerThread"/> elements (over all
    /// tensors), so steps below twice that run on the calling thread. Results are bit-identical for every value.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is 0 or less than −1; the property keeps its value.</exception>
    public int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        set
        {
            if (value == 0 || value < -1)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "MaxDegreeOfParallelism must be -1 (the process-wide default) or at least 1.");
            }

            _maxDegreeOfParallelism = value;
        }
    }

    /// <summary>The number of steps taken; the next step is t = <see cref="StepCount"/> + 1.</summary>
    public long StepCount { get; private set; }

    /// <summary>Gets or sets a hyperparameter by its property name (e.g. <c>"LearningRate"</c>).</summary>
    /// <exception cref="ArgumentException">The rule has no such hyperparameter.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The value is out of the hyperparameter's range.</exception>
    public double this[string hyperparameter]
    {
        get => GetHyperparameter(IndexOf(hyperparameter));
        set => SetHyperparameter(IndexOf(hyperparameter), value);
    }

    /// <summary>A read-only view of the state buffer called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">The rule has no such state buffer.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer.</exception>
    public ReadOnlySpan<float> GetState(string name) => GetState(StateIndexOf(name));

    /// <summary>The index of the state buffer called <paramref name="name"/>; the one check of a state name from a caller.</summary>
    /// <exception cref="ArgumentException">The rule has no such state buffer.</exception>
    private int StateIndexOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        int index = Descriptor.IndexOfState(name);
        if (index < 0)
        {
            throw new ArgumentException($"The rule '{Descriptor.Name}' has no state buffer '{name}'.", nameof(name));
        }

        return index;
    }

    /// <summary><see cref="StateIndexOf(string)"/>, with <paramref name="tensor"/> checked against <see cref="Layout"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tensor"/> is not a tensor of <see cref="Layout"/>.</exception>
    private int StateIndexOf(string name, int tensor)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentOutOfRangeException.ThrowIfNegative(tensor);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(tensor, Layout.TensorCount);
        return StateIndexOf(name);
    }

    /// <summary>
    /// One optimizer step: a single fused pass over <paramref name="parameters"/>, <paramref name="gradients"/> and
    /// the state, updating the parameters and state in place. The same step as
    /// <see cref="Step(Span{float}, ReadOnlySpan{float}, StepOptions?)"/> with no options, without the result.
    /// </summary>
    /// <param name="parameters">The parameters to update; <see cref="Length"/> elements.</param>
    /// <param name="gradients">Their gradients; <see cref="Length"/> elements, not overlapping <paramref name="parameters"/>.</param>
    /// <exception cref="ArgumentException">A length differs from <see cref="Length"/>, or the buffers overlap. Nothing is written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A per-step scalar computed from the hyperparameters is not finite in float32. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer, or a schedule gives a value out of range. Nothing is written.</exception>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients) =>
        StepArena<Float32Codec, Float32Codec, float, float>(parameters, gradients, options: null);

    /// <summary>Sets every state buffer and carried host scalar back to its initial value and the step count to zero; hyperparameters are kept.</summary>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer; nothing was changed.</exception>
    public void Reset()
    {
        using StepGuard guard = EnterGuard(nameof(Reset));
        ThrowIfStateHeld(nameof(Reset));
        InitializeState();
        StepCount = 0;
    }

    /// <summary>
    /// Refuses <paramref name="operation"/> (Reset, LoadCheckpoint, ChangeStatePrecision: it replaces the state) while
    /// the rule keeps something in its state that it must give back first (AdamWScheduleFree in eval mode keeps y).
    /// </summary>
    /// <exception cref="InvalidOperationException">The state may not be replaced now; nothing was changed.</exception>
    private protected virtual void ThrowIfStateHeld(string operation)
    {
    }

    /// <summary>
    /// A limit of the rule's own on hyperparameter <paramref name="index"/>, inside its descriptor range (Adafactor:
    /// c ≤ 0, d ≥ 1): what is wrong with <paramref name="value"/>, or null. Every way in applies it with the range:
    /// the typed setters, the indexers (optimizer and group), schedule values at the step and checkpoints.
    /// </summary>
    private protected virtual string? RuleLimitProblem(int index, double value) => null;

    /// <summary>Whether hyperparameter <paramref name="index"/> takes <paramref name="value"/>: its range, then the rule's own limit.</summary>
    internal bool Accepts(int index, double value) => Descriptor.Hyperparameters[index].Accepts(value) && RuleLimitProblem(index, value) is null;

    /// <summary>The setters' check of <paramref name="value"/> for hyperparameter <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is out of range; named after the hyperparameter.</exception>
    internal void ThrowIfRejected(int index, double value)
    {
        HyperparameterDescriptor descriptor = Descriptor.Hyperparameters[index];
        descriptor.ThrowIfRejected(value);
        if (RuleLimitProblem(index, value) is { } problem)
        {
            throw new ArgumentOutOfRangeException(descriptor.Name, value, problem);
        }
    }

    /// <summary>The value of hyperparameter <paramref name="index"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected double GetHyperparameter(int index) => _hyperparameters[index];

    /// <summary>Sets hyperparameter <paramref name="index"/>, rejecting values out of its range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is out of range; the hyperparameter keeps its value.</exception>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected void SetHyperparameter(int index, double value)
    {
        ThrowIfRejected(index, value);

        // A step works on its own copy and, with a schedule, writes the copy back when it commits: a value set meanwhile
        // would be lost, so a set while another call holds the optimizer is refused like every other concurrent call.
        using StepGuard guard = EnterGuard("Setting a hyperparameter");
        _hyperparameters[index] = value;
        SetInEveryGroup(index, value);
    }

    /// <summary>The value of carried host scalar <paramref name="index"/> (see <see cref="OptimizerDescriptor.HostStates"/>).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected double GetHostState(int index) => _hostState[index];

    /// <summary>
    /// Advances the carried host scalars from step t − 1 to step <paramref name="step"/>; called once per step, before
    /// the kernel runs (implemented by the generator for rules that carry any, e.g. NAdam's Πₜ).
    /// </summary>
    /// <param name="hostState">The values after step t − 1, overwritten with the values after step t.</param>
    /// <param name="hyperparameters">The hyperparameter values, in descriptor order.</param>
    /// <param name="step">The step number t = 1, 2, ….</param>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual void AdvanceHostState(Span<double> hostState, ReadOnlySpan<double> hyperparameters, long step)
    {
    }

    /// <summary>A read-only view of state buffer <paramref name="index"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected ReadOnlySpan<float> GetState(int index)
    {
        ThrowIfBusy(nameof(GetState));
        return _state.Plane(index);
    }

    /// <summary>
    /// Runs the generated fused kernel once over the tensor described by <paramref name="arguments"/>
    /// (implemented by the generator).
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected abstract void RunKernel<TParameter, TGradient, TState>(scoped in KernelArguments arguments)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec;

    private int IndexOf(string hyperparameter)
    {
        ArgumentNullException.ThrowIfNull(hyperparameter);
        int index = Descriptor.IndexOfHyperparameter(hyperparameter);
        if (index < 0)
        {
            throw new ArgumentException($"The rule '{Descriptor.Name}' has no hyperparameter '{hyperparameter}'.", nameof(hyperparameter));
        }

        return index;
    }

    private void InitializeState()
    {
        if (_blockwise is not null)
        {
            _blockwise = InitializedBlockwise();
        }
        else
        {
            // Compact state follows the hyperparameters it is shaped by (Adam-mini's BlockSize).
            if (!StateFits(StateView, null))
            {
                _state = NewState(_groupHyperparameters, _state.ElementSize);
            }

            InitializeState(_state);
        }

        foreach (double[] group in _groupHostState)
        {
            for (int k = 0; k < group.Length; k++)
            {
                group[k] = Descriptor.HostStates[k].InitialValue;
            }
        }
    }
}
