using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Xunit;
using Half = System.Half;

namespace OptGen.Gpu.Tests;

/// <summary>The batch size and the per-example squares on the GPU path (ILGPU's CPU accelerator) against the CPU SIMD path.</summary>
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

    [Theory]
    [InlineData(1025)]
    [InlineData(5000)]
    public void PerExampleSquaresGiveTheCpusBits(int length)
    {
        var cpu = new GpuPerExampleSquaresAdam(length);
        var host = new GpuPerExampleSquaresAdam(length);
        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(length);
        float[] p = Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        float[] g = new float[length], q = new float[length];
        using MemoryBuffer1D<float, Stride1D.Dense> deviceP = _accelerator.Allocate1D(p);
        using MemoryBuffer1D<float, Stride1D.Dense> deviceG = _accelerator.Allocate1D<float>(length);
        using MemoryBuffer1D<float, Stride1D.Dense> deviceQ = _accelerator.Allocate1D<float>(length);
        for (int step = 1; step <= 20; step++)
        {
            ParityTests.Gradients(random, g);
            for (int i = 0; i < length; i++)
            {
                q[i] = (g[i] * g[i]) + (float)random.NextDouble();
            }

            cpu.Step(p, g, q);
            deviceG.CopyFromCPU(g);
            deviceQ.CopyFromCPU(q);
            gpu.Step(deviceP.View.BaseView, deviceG.View.BaseView, deviceQ.View.BaseView);
        }

        _accelerator.Synchronize();
        ParityTests.AssertBitIdentical(p, deviceP.GetAsArray1D(), "parameters");
        float[] v = new float[length];
        gpu.CopyState("SecondMoment", v);
        ParityTests.AssertBitIdentical(cpu.SecondMoment.ToArray(), v, "second moment");
        Assert.Equal(20, gpu.StepCount);
    }

    [Fact]
    public void HostAndSixteenBitStepsWithSquaresFollowTheCpu()
    {
        const int length = 300;
        var random = new Random(9);
        float[] p0 = Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        float[] g = new float[length], q = new float[length];
        ParityTests.Gradients(random, g);
        for (int i = 0; i < length; i++)
        {
            q[i] = (g[i] * g[i]) + 0.25f;
        }

        // Host memory, with unscaling: the squares scale by the factor's square (close, not bitwise: the device
        // multiplies by the float32 factor twice, the CPU by the float32 of its double square).
        var cpu = new GpuPerExampleSquaresAdam(length);
        var host = new GpuPerExampleSquaresAdam(length);
        using var gpu = new GpuOptimizer(host, _accelerator);
        float[] a = (float[])p0.Clone(), b = (float[])p0.Clone();
        var options = new StepOptions { GradientScale = 0.5 };
        cpu.Step(a, g, q, options);
        gpu.Step(b, g, q, options);
        for (int i = 0; i < length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6 * Math.Max(1, Math.Abs(a[i])), $"element {i}: {a[i]} vs {b[i]}");
        }

        // Half parameters, gradients and squares: the CPU's bits.
        var cpuHalf = new GpuPerExampleSquaresAdam(length);
        var hostHalf = new GpuPerExampleSquaresAdam(length);
        using var gpuHalf = new GpuOptimizer(hostHalf, _accelerator);
        Half[] ph = p0.Select(x => (Half)x).ToArray(), gh = g.Select(x => (Half)x).ToArray(), qh = q.Select(x => (Half)x).ToArray();
        using MemoryBuffer1D<Half, Stride1D.Dense> deviceP = _accelerator.Allocate1D(ph);
        using MemoryBuffer1D<Half, Stride1D.Dense> deviceG = _accelerator.Allocate1D(gh);
        using MemoryBuffer1D<Half, Stride1D.Dense> deviceQ = _accelerator.Allocate1D(qh);
        cpuHalf.Step(ph.AsSpan(), gh, qh);
        gpuHalf.Step(deviceP.View.BaseView, deviceG.View.BaseView, deviceQ.View.BaseView);
        _accelerator.Synchronize();
        Assert.Equal(ph, deviceP.GetAsArray1D());
    }

    [Fact]
    public void MissingOrUnneededSquaresAreRefusedByNameAndChangeNothing()
    {
        const int length = 64;
        var host = new GpuPerExampleSquaresAdam(length);
        using var gpu = new GpuOptimizer(host, _accelerator);
        using MemoryBuffer1D<float, Stride1D.Dense> deviceP = _accelerator.Allocate1D<float>(length);
        using MemoryBuffer1D<float, Stride1D.Dense> deviceG = _accelerator.Allocate1D<float>(length);
        using MemoryBuffer1D<float, Stride1D.Dense> deviceShort = _accelerator.Allocate1D<float>(length - 1);
        Assert.Equal("perExampleSquares", Assert.Throws<ArgumentException>(() => gpu.Step(deviceP.View.BaseView, deviceG.View.BaseView)).ParamName);
        Assert.Equal("perExampleSquares", Assert.Throws<ArgumentException>(() => gpu.Step(deviceP.View.BaseView, deviceG.View.BaseView, deviceShort.View.BaseView)).ParamName);
        Assert.Equal("perExampleSquares", Assert.Throws<ArgumentException>(() => gpu.Step(deviceP.View.BaseView, deviceG.View.BaseView, deviceP.View.BaseView)).ParamName);
        Assert.Equal(0, gpu.StepCount);

        var plainHost = new GpuPerExampleAdam(length);
        using var plain = new GpuOptimizer(plainHost, _accelerator);
        Assert.Equal("perExampleSquares", Assert.Throws<ArgumentException>(() => plain.Step(deviceP.View.BaseView, deviceG.View.BaseView, deviceG.View.BaseView)).ParamName);
        Assert.Equal(0, plain.StepCount);
    }

    /// <summary>
    /// A per-example square that is NaN or ±∞ (float16 squares overflow at |g| = 256 under loss scaling while g stays
    /// finite) makes the step non-finite on the device as on the CPU: skipped with SkipNonFinite (parameters and state
    /// as they were), reported without it; in a piece's vector lanes, its tail, and on host and device memory.
    /// </summary>
    [Theory]
    [InlineData(3, float.PositiveInfinity)]
    [InlineData(40, float.NaN)]
    [InlineData(16_390, float.NegativeInfinity)]
    public void ANonFiniteSquareSkipsTheStepAsOnTheCpu(int at, float bad)
    {
        const int length = 16_400; // two engine pieces; element 16 390 is in the second one's tail
        var random = new Random(at);
        float[] p0 = Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        float[] g = new float[length], q = new float[length];
        ParityTests.Gradients(random, g);
        for (int i = 0; i < length; i++)
        {
            q[i] = (g[i] * g[i]) + 0.25f;
        }

        q[at] = bad;
        foreach (bool clip in new[] { false, true })
        {
            var options = new StepOptions { SkipNonFinite = true, MaxGradientNorm = clip ? 1.0 : double.PositiveInfinity };
            var cpu = new GpuPerExampleSquaresAdam(length);
            StepResult onCpu = cpu.Step((float[])p0.Clone(), g, q, options);
            Assert.True(onCpu.Skipped && onCpu.FoundNonFinite, "the CPU skips");

            var host = new GpuPerExampleSquaresAdam(length);
            using var gpu = new GpuOptimizer(host, _accelerator);
            float[] onHost = (float[])p0.Clone();
            StepResult result = gpu.Step(onHost, g, q, options);
            Assert.True(result.Skipped && result.FoundNonFinite, $"host memory, clip {clip}: skipped {result.Skipped}, found {result.FoundNonFinite}");
            Assert.Equal(p0, onHost);

            using MemoryBuffer1D<float, Stride1D.Dense> deviceP = _accelerator.Allocate1D(p0);
            using MemoryBuffer1D<float, Stride1D.Dense> deviceG = _accelerator.Allocate1D(g);
            using MemoryBuffer1D<float, Stride1D.Dense> deviceQ = _accelerator.Allocate1D(q);
            gpu.Step(deviceP.View.BaseView, deviceG.View.BaseView, deviceQ.View.BaseView, options);
            _accelerator.Synchronize();
            result = gpu.LastResult;
            Assert.True(result.Skipped && result.FoundNonFinite, $"device memory, clip {clip}");
            Assert.Equal(p0, deviceP.GetAsArray1D());
            Assert.Equal(0, gpu.StepCount);
            float[] v = new float[length];
            gpu.CopyState("SecondMoment", v);
            Assert.All(v, x => Assert.Equal(0f, x));

            // Without skipping the device reports it as the CPU does (the step runs, as in torch).
            var reported = new GpuPerExampleSquaresAdam(length);
            using var gpuReported = new GpuOptimizer(reported, _accelerator);
            gpuReported.Step((float[])p0.Clone(), g, q, new StepOptions { ComputeGradientNorm = true });
            StepResult taken = gpuReported.LastResult; // the norm stays on the device until read
            Assert.True(taken.FoundNonFinite && !taken.Skipped, "reported without SkipNonFinite");
        }
    }
}
