using System.ComponentModel;
using ILGPU.Runtime;

namespace OptGen.Gpu;

/// <summary>
/// Implemented by the generator on every optimizer declared in a project that references ILGPU: the bridge from
/// the optimizer's per-step scalars (its <c>CreateKernel</c>, the CPU path's host code) to its generated GPU kernel.
/// Use <see cref="GpuOptimizer"/> rather than this.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IGpuKernelSource
{
    /// <summary>
    /// The optimizer's update on <paramref name="accelerator"/> for <paramref name="groups"/> parameter groups. The
    /// kernel is compiled for an accelerator once and shared by every optimizer with the same per-element rule.
    /// </summary>
    /// <param name="accelerator">The accelerator to run on.</param>
    /// <param name="groups">The number of parameter groups (one kernel struct each).</param>
    GpuUpdate CreateGpuUpdate(Accelerator accelerator, int groups);
}
