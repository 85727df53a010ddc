using System;
using System.ComponentModel;

namespace OptGen;

/// <summary>The batch size B the optimizer's per-example hyperparameters are scaled by (docs/attributes.md, "Per-example units").</summary>
public abstract partial class Optimizer
{
    private int _batchSize = 1;

    /// <summary>
    /// The batch size B of the coming steps: the number of examples each gradient averages over. A rule that declares
    /// a hyperparameter per example (<c>Units = BatchUnits.PerExample</c>, or <c>B</c> in an expression rule) turns it
    /// into its per-step value from B at every step: η = B·η′ (or √B·η′), N = max(1, N′/B). Set it before each step
    /// when the batch size changes, or give <see cref="StepOptions.BatchSize"/> for one step. Rules without
    /// per-example hyperparameters ignore it. Default 1; saved in checkpoints.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1; the property keeps its value.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer; the property keeps its value.</exception>
    public int BatchSize
    {
        get => _batchSize;
        set
        {
            ThrowIfInvalidBatchSize(value, nameof(BatchSize));
            using StepGuard guard = EnterGuard("Setting BatchSize");
            _batchSize = value;
        }
    }

    /// <summary>
    /// <see cref="ValidateStepScalars(ReadOnlySpan{double}, ReadOnlySpan{double}, long, double)"/> for a rule whose
    /// per-step scalars depend on the batch size (implemented by the generator for such rules; the engine calls this
    /// overload for every rule, and the base forwards to the one without B).
    /// </summary>
    /// <param name="hyperparameters">The group's hyperparameter values for this step, in descriptor order.</param>
    /// <param name="hostState">The group's carried host scalars after this step's advance.</param>
    /// <param name="step">The step number t = 1, 2, ….</param>
    /// <param name="gradientScale">The runtime's factor on every gradient element.</param>
    /// <param name="batchSize">The step's batch size B ≥ 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">A per-step scalar is out of float32's range; named by its property name.</exception>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual void ValidateStepScalars(ReadOnlySpan<double> hyperparameters, ReadOnlySpan<double> hostState, long step, double gradientScale, double batchSize) =>
        ValidateStepScalars(hyperparameters, hostState, step, gradientScale);

    /// <summary>The one check of a batch size: a whole number of examples, at least 1.</summary>
    internal static void ThrowIfInvalidBatchSize(int value, string name)
    {
        if (value < 1)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1 (the number of examples a gradient averages over).");
        }
    }
}
