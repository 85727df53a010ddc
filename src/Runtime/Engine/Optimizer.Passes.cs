using OptGen.Engine;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// The engine's hook for steps of several passes with reductions between them (LAMB's per-tensor trust ratio,
/// Adafactor's row and column means): a rule that overrides <see cref="UpdatesInPasses"/> runs its own passes over
/// the step's buffers instead of one kernel call per piece. See <see cref="MultiPassOptimizer"/>.
/// </summary>
public abstract partial class Optimizer
{
    /// <summary>Whether the CPU backend hands the whole update to <see cref="UpdateInPasses{TParameter, TGradient, TState}"/>.</summary>
    internal virtual bool UpdatesInPasses => false;

    /// <summary>
    /// The update of a multi-pass rule: every pass over every tensor of <paramref name="slots"/>, with the plan's
    /// per-group values. Called by the CPU backend inside the guard, after the plan is validated; must not throw.
    /// </summary>
    internal virtual void UpdateInPasses<TParameter, TGradient, TState>(StepPlan plan, Slot[] slots, nint state, nuint stride)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
    }
}
