using System;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace OptGen.Gpu.Tests;

/// <summary>
/// ILGPU's CPU accelerator: the GPU kernels run as .NET code over simulated warps, so they are tested without a GPU.
/// One per test class (xunit class fixture): a kernel that failed to compile can leave an accelerator misbehaving.
/// </summary>
public sealed class CpuAcceleratorFixture : IDisposable
{
    public CpuAcceleratorFixture()
    {
        Context = Context.Create(builder => builder.DefaultCPU().Optimize(OptimizationLevel.O1));
        Accelerator = Context.CreateCPUAccelerator(0);
    }

    public Context Context { get; }

    public Accelerator Accelerator { get; }

    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }
}
