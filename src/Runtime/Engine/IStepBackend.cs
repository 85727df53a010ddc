using System;
using OptGen.Kernels;

namespace OptGen.Engine;

/// <summary>
/// Where a planned step runs: the CPU SIMD driver (<see cref="CpuBackend{TParameter, TGradient, TState}"/>) or a
/// device. The engine (<see cref="Optimizer.RunStep{TBackend}"/>) calls it inside the optimizer's guard: first
/// <see cref="Summarize"/> when the step needs the gradient norm, then <see cref="Update"/> unless the step is
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
    /// <see cref="StepOptions.GradientScale"/>), summed in an order that does not depend on the thread count, and
    /// max |gᵢ| in the same pass. A non-finite element makes the sum non-finite. Reads only the gradients.
    /// </summary>
    GradientSummary Summarize(StepPlan plan);

    /// <summary>
    /// Updates every tensor's parameters and state with <see cref="StepPlan.Hyperparameters"/>,
    /// <see cref="StepPlan.HostState"/>, <see cref="StepPlan.Step"/> and <see cref="StepPlan.GradientScale"/> of each
    /// tensor's group. The plan has been validated: this must not throw once it has written anything.
    /// </summary>
    void Update(StepPlan plan);
}

/// <summary>
/// What the norm pass learns of the raw gradients (as stored, before <see cref="StepOptions.GradientScale"/>): the
/// input of <see cref="Optimizer.Decide"/>.
/// </summary>
/// <param name="SumOfSquares">Σ gᵢ² in double; non-finite when an element is NaN or ±∞ (squares of float32 values cannot overflow a double sum).</param>
/// <param name="MaxMagnitude">
/// max |gᵢ|, exact (a float32 value; 0 for no elements), the largest non-NaN magnitude by <see cref="LargestMagnitude"/> wherever it is computed. Meaningful only when <paramref name="SumOfSquares"/> is
/// finite. The kernels compute gᵢ·f in float32 with f = float32(GradientScale × clip), and rounding is monotone, so
/// some product is ±∞ exactly when MaxMagnitude·f is.
/// </param>
internal readonly record struct GradientSummary(double SumOfSquares, float MaxMagnitude)
{
    /// <summary>
    /// The summary of every part (shards): the sums added in the order given, the largest magnitude (<see cref="LargestMagnitude"/>). Identical on
    /// every process that combines the same parts in the same order.
    /// </summary>
    public static GradientSummary Combine(ReadOnlySpan<GradientSummary> parts)
    {
        double sum = 0;
        float max = 0;
        foreach (GradientSummary part in parts)
        {
            sum += part.SumOfSquares;
            max = LargestMagnitude.Combine(max, part.MaxMagnitude);
        }

        return new GradientSummary(sum, max);
    }
}
