using System;
using ILGPU.Runtime;

namespace OptGen.Gpu;

/// <summary>The rules with reductions (<see cref="MultiPassOptimizer"/>) on the device: which run, and their update.</summary>
public sealed partial class GpuOptimizer
{
    /// <summary>
    /// Refuses a rule with reductions that has no GPU passes: the catalog's <see cref="AdamMini"/>, <see cref="Adafactor"/>
    /// and <see cref="AdamWScheduleFree"/> (compact or swapped state the device path does not hold yet), and a declared
    /// rule generated without ILGPU.
    /// </summary>
    /// <exception cref="ArgumentException">The rule has no GPU passes.</exception>
    private static void ThrowIfNoGpuPasses(Optimizer optimizer)
    {
        if (optimizer is Lamb or Lars or (ReductionOptimizer and IGpuKernelSource))
        {
            return;
        }

        throw new ArgumentException(
            optimizer is ReductionOptimizer
                ? $"The optimizer '{optimizer.Descriptor.Name}' ({optimizer.GetType().FullName}) has no GPU kernel: it was generated in a project that does not reference ILGPU."
                : $"The optimizer '{optimizer.Descriptor.Name}' ({optimizer.GetType().FullName}) updates in several passes with reductions between them; the GPU backend runs LAMB, LARS and declared rules with tensor reductions, not this rule yet: step it on the CPU.",
            nameof(optimizer));
    }

    /// <summary>The multi-pass update of a rule that <see cref="ThrowIfNoGpuPasses"/> accepted, bound to the layout's chunks.</summary>
    private static GpuUpdate CreatePassUpdate(Optimizer optimizer, Accelerator accelerator, GpuChunk[] chunks)
    {
        int groups = optimizer.Layout.GroupCount;
        GpuUpdate update = optimizer switch
        {
            Lamb => new GpuLamb(accelerator, groups),
            Lars => new GpuLars(accelerator, groups),
            _ => ((IGpuKernelSource)optimizer).CreateGpuUpdate(accelerator, groups),
        };
        try
        {
            ((IGpuPassUpdate)update).Bind(optimizer.Layout, chunks);
        }
        catch
        {
            update.Dispose();
            throw;
        }

        return update;
    }

    /// <summary>
    /// Sets the group size and grid of the reducing passes (tests: the results do not depend on them). Only for a
    /// rule with reductions.
    /// </summary>
    internal void SetReductionLaunchShape(int groupSize, int gridGroups) =>
        ((IGpuPassUpdate)_update).SetLaunchShape(groupSize, gridGroups);
}

/// <summary>What <see cref="GpuOptimizer"/> calls on a multi-pass update beyond <see cref="GpuUpdate"/>.</summary>
internal interface IGpuPassUpdate
{
    /// <summary>Allocates the tensor table and the reduction buffers for the layout cut into <paramref name="chunks"/>.</summary>
    void Bind(ParameterLayout layout, GpuChunk[] chunks);

    /// <summary>Sets the reducing passes' group size and grid.</summary>
    void SetLaunchShape(int groupSize, int gridGroups);
}
