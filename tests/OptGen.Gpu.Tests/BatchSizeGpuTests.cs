using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace OptGen.Gpu.Tests;

/// <summary>The batch size on the GPU path: per-example units give the CPU's bits at every B; per-example squares are refused by name.</summary>
public sealed class BatchSizeGpuTests : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator;

    public BatchSizeGpuTests(CpuAcceleratorFixture fixture) => _accelerator = fixture.Accelerator;

    [Fact]
    public void PerExampleUnitsFollowTheBatchSizeBitForBit()
    {
        const int length = 1025;
        var cpu = new GpuPerExampleAdam(length);
        var host = new GpuPerExampleAdam(length);
        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(5);
        float[] p = Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        float[] g = new float[length];
        using MemoryBuffer1D<float, Stride1D.Dense> deviceP = _accelerator.Allocate1D(p);
        using MemoryBuffer1D<float, Stride1D.Dense> deviceG = _accelerator.Allocate1D<float>(length);
        int[] batches = [1, 16, 3, 64, 5000, 8];
        foreach (int batch in batches)
        {
            cpu.BatchSize = batch;
            host.BatchSize = batch;
            ParityTests.Gradients(random, g);
            cpu.Step(p, g);
            deviceG.CopyFromCPU(g);
            gpu.Step(deviceP, deviceG);
        }

        _accelerator.Synchronize();
        ParityTests.AssertBitIdentical(p, deviceP.GetAsArray1D(), "parameters");
        float[] m = new float[length];
        gpu.CopyState("FirstMoment", m);
        ParityTests.AssertBitIdentical(cpu.FirstMoment.ToArray(), m, "first moment");
    }

    [Fact]
    public void PerExampleSquaresAreRefusedByName()
    {
        var optimizer = new GpuPerExampleSquaresAdam(16);
        var error = Assert.Throws<ArgumentException>(() => new GpuOptimizer(optimizer, _accelerator));
        Assert.Equal("optimizer", error.ParamName);
        Assert.Contains("per-example squared gradients", error.Message, StringComparison.Ordinal);
    }
}
