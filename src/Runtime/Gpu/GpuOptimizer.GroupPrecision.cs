using System;

namespace OptGen.Gpu;

/// <content>State precision per parameter group: the device state has one precision for every group.</content>
public sealed partial class GpuOptimizer
{
    /// <summary>
    /// Refuses a host optimizer with a parameter group whose state precision is not the optimizer's
    /// (<see cref="ParameterGroup.StatePrecision"/>): the device kernels take one state codec for every tensor.
    /// </summary>
    /// <exception cref="NotSupportedException">Some group has its own precision; nothing was changed.</exception>
    private static void ThrowIfGroupStatePrecision(Optimizer optimizer, string parameter)
    {
        if (optimizer.HasGroupStatePrecision)
        {
            throw new NotSupportedException(
                $"The GPU optimizer stores every group's state in one precision, but a parameter group of '{optimizer.Descriptor.Name}' has its own StatePrecision ({parameter}); " +
                "set every group's StatePrecision to null first. Nothing was changed.");
        }
    }
}
