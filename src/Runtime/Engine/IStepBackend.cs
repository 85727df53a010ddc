namespace OptGen.Engine;

/// <summary>
/// Where a planned step runs: the CPU SIMD driver (<see cref="CpuBackend{TParameter, TGradient, TState}"/>) or a
/// device. The engine (<see cref="Optimizer.RunStep{TBackend}"/>) calls it inside the optimizer's guard: first
/// <see cref="SumOfSquares"/> when the step needs the gradient norm, then <see cref="Update"/> unless the step is
/// skipped.
/// </summary>
/// <remarks>
/// A backend is a struct holding the step's buffers (pointers, device views), so the engine's generic call
/// allocates nothing. It never decides anything: the plan says which values to use.
/// </remarks>
internal interface IStepBackend
{
    /// <summary>
    /// Σ gᵢ² in double over every gradient element of every tensor, as stored (before
    /// <see cref="StepOptions.GradientScale"/>), summed in an order that does not depend on the thread count.
    /// A non-finite element makes the sum non-finite. Reads only the gradients.
    /// </summary>
    double SumOfSquares(StepPlan plan);

    /// <summary>
    /// Updates every tensor's parameters and state with <see cref="StepPlan.Hyperparameters"/>,
    /// <see cref="StepPlan.HostState"/>, <see cref="StepPlan.Step"/> and <see cref="StepPlan.GradientScale"/> of each
    /// tensor's group. The plan has been validated: this must not throw once it has written anything.
    /// </summary>
    void Update(StepPlan plan);
}
