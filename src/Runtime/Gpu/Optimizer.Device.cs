using System;

namespace OptGen;

/// <summary>What the GPU backend needs of the optimizer: the host step preparation and the host copy of the state.</summary>
public abstract partial class Optimizer
{
    /// <summary>The host state planes: the staging copy of a <see cref="Gpu.GpuOptimizer"/>'s device state (checkpoints, precision changes).</summary>
    internal StateStorage HostState => _state;

    /// <summary>
    /// Prepares step t = <see cref="StepCount"/> + 1 for a device launch, exactly as the CPU engine does after its
    /// clip/skip decision: applies the schedules (checking every value before setting any) and advances every
    /// group's carried host scalars. Returns t; call <see cref="CompleteDeviceStep"/> once the launch is queued.
    /// </summary>
    /// <exception cref="InvalidOperationException">A schedule gives a value out of range; nothing was written.</exception>
    internal long PrepareDeviceStep()
    {
        ApplySchedules();
        long step = StepCount + 1;
        if (_hostState.Length > 0)
        {
            for (int k = 0; k < _groupHostState.Length; k++)
            {
                AdvanceHostState(_groupHostState[k], _groupHyperparameters[k], step);
            }
        }

        return step;
    }

    /// <summary>Group <paramref name="group"/>'s hyperparameters for the prepared step.</summary>
    internal ReadOnlySpan<double> GroupHyperparameters(int group) => _groupHyperparameters[group];

    /// <summary>Group <paramref name="group"/>'s carried host scalars after the prepared step's advance.</summary>
    internal ReadOnlySpan<double> GroupHostState(int group) => _groupHostState[group];

    /// <summary>Counts the prepared step.</summary>
    internal void CompleteDeviceStep(long step) => StepCount = step;
}
