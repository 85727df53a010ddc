using System;
using System.ComponentModel;
using ILGPU;
using ILGPU.Runtime;

namespace OptGen.Gpu;

/// <summary>
/// Launches one optimizer step on an accelerator: computes the per-step scalars from
/// <paramref name="hyperparameters"/> and <paramref name="step"/> (in double, as the CPU path does) and runs the
/// generated GPU kernel, one launch, over every element of <paramref name="parameters"/>.
/// </summary>
/// <param name="stream">The stream to launch on.</param>
/// <param name="threads">How many threads to launch, 1 to the number of parameters; each walks the elements in a grid-stride loop.</param>
/// <param name="hyperparameters">The hyperparameter values, in <see cref="OptimizerDescriptor.Hyperparameters"/> order.</param>
/// <param name="hostState">The carried host scalars after this step (<see cref="OptimizerDescriptor.HostStates"/>; empty for most rules).</param>
/// <param name="step">The step number t = 1, 2, ….</param>
/// <param name="gradientScale">A factor on every gradient element; 1 leaves the gradients exact.</param>
/// <param name="parameters">The parameters, updated in place; at least one element.</param>
/// <param name="gradients">The gradients, as many as parameters.</param>
/// <param name="states">One view per state buffer, in <see cref="OptimizerDescriptor.States"/> order, as many elements as parameters.</param>
public delegate void GpuStepLauncher(
    AcceleratorStream stream,
    int threads,
    ReadOnlySpan<double> hyperparameters,
    ReadOnlySpan<double> hostState,
    long step,
    double gradientScale,
    ArrayView<float> parameters,
    ArrayView<float> gradients,
    ReadOnlySpan<ArrayView<float>> states);

/// <summary>
/// Implemented by the generator on every optimizer declared in a project that references ILGPU: the bridge from
/// the optimizer's hyperparameters to its generated GPU kernel. Use <see cref="GpuOptimizer"/> rather than this.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IGpuKernelSource
{
    /// <summary>
    /// The optimizer's step on <paramref name="accelerator"/>. The kernel is compiled for an accelerator once and
    /// shared by every optimizer with the same per-element rule.
    /// </summary>
    /// <param name="accelerator">The accelerator to run on.</param>
    GpuStepLauncher LoadGpuKernel(Accelerator accelerator);

    /// <summary>Advances carried host scalars from step t − 1 to <paramref name="step"/>, as the CPU path does; nothing for rules without any.</summary>
    /// <param name="hostState">The values after step t − 1, overwritten with the values after step t.</param>
    /// <param name="hyperparameters">The hyperparameter values, in descriptor order.</param>
    /// <param name="step">The step number t = 1, 2, ….</param>
    void AdvanceGpuHostState(Span<double> hostState, ReadOnlySpan<double> hyperparameters, long step);

    /// <summary>Copies the optimizer's current carried host scalars into <paramref name="destination"/>.</summary>
    /// <param name="destination">One value per <see cref="OptimizerDescriptor.HostStates"/> entry.</param>
    void CopyHostState(Span<double> destination);
}
