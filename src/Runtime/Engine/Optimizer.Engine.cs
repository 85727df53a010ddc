using System;
using System.ComponentModel;
using System.Threading;
using OptGen.Engine;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// The step engine: the one place that plans a step (guard, schedules, carried host scalars, gradient scale,
/// norm → clip/skip decision, per-step scalar validation) and commits it. Every public <c>Step</c> overload, CPU or
/// device, is an adapter that checks its buffers and hands a backend (<see cref="IStepBackend"/>) to
/// <see cref="RunStep{TBackend}"/>, or calls the phases itself. See docs/architecture.md, "Step engine".
/// </summary>
public abstract partial class Optimizer
{
    // 1 while an operation that reads or replaces the state (a step, a precision change, a checkpoint, a reset) runs.
    private int _busy;
    private StepPlan? _plan;

    /// <summary>
    /// Checks the per-step scalars the rule computes from <paramref name="hyperparameters"/> (e.g. Adam's
    /// η/(1 − β₁ᵗ)): each must be finite in float32, and one the kernel divides by must not round to 0 unless it
    /// is 0 in double too (implemented by the generator; the engine calls it for every group before any element is
    /// written).
    /// </summary>
    /// <param name="hyperparameters">The group's hyperparameter values for this step, in descriptor order.</param>
    /// <param name="hostState">The group's carried host scalars after this step's advance.</param>
    /// <param name="step">The step number t = 1, 2, ….</param>
    /// <param name="gradientScale">The runtime's factor on every gradient element.</param>
    /// <exception cref="ArgumentOutOfRangeException">A per-step scalar is out of float32's range; named by its property name.</exception>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual void ValidateStepScalars(ReadOnlySpan<double> hyperparameters, ReadOnlySpan<double> hostState, long step, double gradientScale)
    {
    }

    /// <summary>
    /// Marks the optimizer busy for <paramref name="operation"/> until the returned guard is disposed. Every operation
    /// that reads or replaces the state storage, and every step, runs inside a guard; no pointer to the state is taken
    /// outside one.
    /// </summary>
    /// <param name="operation">The public member being called, for the exception message.</param>
    /// <exception cref="InvalidOperationException">Another operation holds the guard (a second thread is using the optimizer); nothing was changed.</exception>
    internal StepGuard EnterGuard(string operation)
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            ThrowBusy(operation);
        }

        return new StepGuard(this);
    }

    /// <summary>
    /// Runs one step on <paramref name="backend"/>: <see cref="BeginStep"/>, the norm pass and <see cref="Decide"/> when
    /// the options need it, <see cref="PrepareGroups"/>, <see cref="IStepBackend.Update"/>, <see cref="CommitStep"/>.
    /// The caller holds the guard (<see cref="EnterGuard"/>) and has checked its buffers.
    /// </summary>
    /// <exception cref="InvalidOperationException">A schedule gives a value out of range, or the step count is at its maximum. Nothing was written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A per-step scalar is out of float32's range. Nothing was written.</exception>
    internal StepResult RunStep<TBackend>(ref TBackend backend, StepOptions options)
        where TBackend : struct, IStepBackend
    {
        StepPlan plan = BeginStep(options);
        if (plan.NeedsNorm && !Decide(plan, ReduceGradientSummary(backend.Summarize(plan))))
        {
            return SkippedResult(plan);
        }

        PrepareGroups(plan);
        backend.Update(plan);
        return CommitStep(plan);
    }

    /// <summary>
    /// Phase 1: starts planning step t = <see cref="StepCount"/> + 1 with <paramref name="options"/>: resolves
    /// <see cref="StepPlan.MaxDegreeOfParallelism"/> and <see cref="StepPlan.Threads"/>. Changes nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">The step count is at its maximum.</exception>
    internal StepPlan BeginStep(StepOptions options)
    {
        if (StepCount == long.MaxValue)
        {
            throw new InvalidOperationException($"The step count is at its maximum ({long.MaxValue}); no further step can be numbered. Nothing was written.");
        }

        StepPlan plan = Plan;
        int limit = options.MaxDegreeOfParallelism != -1 ? options.MaxDegreeOfParallelism : _maxDegreeOfParallelism;
        int threads = Math.Min(ParallelUpdate.ThreadsFor((nuint)Length, limit), Math.Max(1, plan.Pieces.Length));
        plan.Begin(options, StepCount + 1, limit, threads);
        plan.BatchSize = options.BatchSize != 0 ? options.BatchSize : _batchSize;
        return plan;
    }

    /// <summary>
    /// Phase 2 (only when <see cref="StepPlan.NeedsNorm"/>): turns Σ g² and max |g| of the raw gradients into the
    /// norm of the unscaled gradients, the clip factor, and the skip decision.
    /// </summary>
    /// <returns>False when the step is skipped: return <see cref="SkippedResult"/> and write nothing.</returns>
    internal bool Decide(StepPlan plan, GradientSummary gradients)
    {
        StepOptions options = plan.Options;

        // Squares of float32 values cannot overflow a double sum, so a non-finite sum means a non-finite gradient.
        double sumOfSquares = gradients.SumOfSquares;
        bool nonFinite = !double.IsFinite(sumOfSquares);
        double norm = Math.Sqrt(sumOfSquares) * options.GradientScale;
        double clip = 1.0;
        if (!double.IsPositiveInfinity(options.MaxGradientNorm) && double.IsFinite(norm))
        {
            clip = Math.Min(1.0, options.MaxGradientNorm / (norm + 1e-6));
        }

        if (options.SkipNonFinite && (nonFinite || ScaledGradientOverflows(gradients.MaxMagnitude, options.GradientScale * clip)))
        {
            plan.SetDecision(norm, nonFinite: true, clip: 1.0);
            return false;
        }

        plan.SetDecision(norm, nonFinite, clip);
        return true;
    }

    /// <summary>
    /// Whether a finite float32 gradient becomes ±∞ when the kernels multiply it by the step's gradient factor
    /// (<paramref name="factor"/> = GradientScale × clip, the plan's <see cref="StepPlan.GradientScale"/>): every
    /// kernel computes gᵢ·float32(factor) in float32, and rounding is monotone, so some product overflows exactly
    /// when the largest magnitude's does. With <see cref="StepOptions.SkipNonFinite"/> such a step is skipped as a
    /// non-finite one: the rule would see ∞, as torch's GradScaler finds inf in the unscaled gradients.
    /// </summary>
    /// <param name="maxMagnitude">max |gᵢ| of the raw gradients (finite: the caller checked the sum).</param>
    /// <param name="factor">The gradient factor in double, as the kernels receive it.</param>
    internal static bool ScaledGradientOverflows(float maxMagnitude, double factor) =>
        float.IsInfinity(maxMagnitude * (float)factor);

    /// <summary>
    /// Phase 3: each group's hyperparameters for this step (schedules applied, every scheduled value checked before
    /// any is used), its carried host scalars advanced to this step, and its per-step scalars validated
    /// (<see cref="ValidateStepScalars(ReadOnlySpan{double}, ReadOnlySpan{double}, long, double, double)"/>), all into the plan. Changes nothing in the optimizer.
    /// </summary>
    /// <exception cref="InvalidOperationException">A schedule gives a value out of range.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A per-step scalar is out of float32's range.</exception>
    internal void PrepareGroups(StepPlan plan)
    {
        int groups = _groupHyperparameters.Length;
        for (int k = 0; k < groups; k++)
        {
            _groupHyperparameters[k].CopyTo(plan.HyperparameterSnapshot(k), 0);
        }

        if (_schedules is not null)
        {
            ApplySchedules(plan);
        }

        if (_hostState.Length > 0)
        {
            for (int k = 0; k < groups; k++)
            {
                double[] hostState = plan.HostStateSnapshot(k);
                _groupHostState[k].CopyTo(hostState, 0);
                AdvanceHostState(hostState, plan.Hyperparameters(k), plan.Step);
            }
        }

        for (int k = 0; k < groups; k++)
        {
            ValidateStepScalars(plan.Hyperparameters(k), plan.HostState(k), plan.Step, plan.GradientScale, plan.BatchSize);
        }
    }

    /// <summary>
    /// Phase 4, after the backend has updated every tensor: the scheduled hyperparameter values and the advanced host
    /// scalars become the optimizer's, and <see cref="StepCount"/> becomes <see cref="StepPlan.Step"/>.
    /// </summary>
    internal StepResult CommitStep(StepPlan plan)
    {
        if (_schedules is not null)
        {
            for (int k = 0; k < _groupHyperparameters.Length; k++)
            {
                plan.Hyperparameters(k).CopyTo(_groupHyperparameters[k]);
            }
        }

        if (_hostState.Length > 0)
        {
            for (int k = 0; k < _groupHostState.Length; k++)
            {
                plan.HostState(k).CopyTo(_groupHostState[k]);
            }
        }

        StepCount = plan.Step;
        return new StepResult(Skipped: false, plan.FoundNonFinite, plan.GradientNorm, plan.ClipFactor, plan.Step);
    }

    /// <summary>The result of a step <see cref="Decide"/> skipped: nothing written, the step count unchanged.</summary>
    internal StepResult SkippedResult(StepPlan plan) =>
        new(Skipped: true, FoundNonFinite: true, plan.GradientNorm, ClipFactor: 1.0, StepCount);

    /// <summary>The optimizer's reusable plan (created on first use); meaningful only inside the guard.</summary>
    internal StepPlan Plan => _plan ??= new StepPlan(Layout, Descriptor.Hyperparameters.Count, Descriptor.HostStates.Count);

    /// <summary>Throws when another thread holds the guard; for read-only members that hand out views of the state.</summary>
    internal void ThrowIfBusy(string operation)
    {
        if (Volatile.Read(ref _busy) != 0)
        {
            ThrowBusy(operation);
        }
    }

    /// <summary>The state storage; read only inside the guard.</summary>
    internal StateStorage StateStorage => _state;

    /// <summary>Calls the generated kernel (<see cref="RunKernel"/>) for a backend.</summary>
    internal void RunKernelOn<TParameter, TGradient, TState>(scoped in KernelArguments arguments)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec =>
        RunKernel<TParameter, TGradient, TState>(in arguments);

    private void ExitGuard() => Volatile.Write(ref _busy, 0);

    private void ThrowBusy(string operation) =>
        throw new InvalidOperationException(
            $"{operation} was called while another call on this {Descriptor.Name} optimizer was running (a Step, ChangeStatePrecision, " +
            "LoadCheckpoint, SaveCheckpoint, Reset, CopyState, SetSchedule or a hyperparameter setter on another thread). An optimizer is not thread-safe: " +
            "use it from one thread at a time. Nothing was changed by this call.");

    /// <summary>Holds the optimizer's guard until disposed (use with <c>using</c>).</summary>
    internal ref struct StepGuard
    {
        private Optimizer? _owner;

        internal StepGuard(Optimizer owner) => _owner = owner;

        /// <summary>Releases the guard; a second call does nothing.</summary>
        public void Dispose()
        {
            _owner?.ExitGuard();
            _owner = null;
        }
    }
}
