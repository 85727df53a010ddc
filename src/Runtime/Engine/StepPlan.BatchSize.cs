namespace OptGen.Engine;

internal sealed partial class StepPlan
{
    /// <summary>
    /// The step's batch size B: <see cref="StepOptions.BatchSize"/> when given (not 0), else
    /// <see cref="Optimizer.BatchSize"/>. Set by <see cref="Optimizer.BeginStep"/>; the kernels of rules with
    /// per-example hyperparameters read it (<see cref="Kernels.KernelArguments.BatchSize"/>).
    /// </summary>
    public int BatchSize { get; internal set; } = 1;
}
