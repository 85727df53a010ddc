using System;
using System.IO;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Runtime.Tests.Audit;
using Xunit;
using static OptGen.Gpu.Tests.GpuAuditData;

namespace OptGen.Gpu.Tests;

/// <summary>
/// <see cref="GpuOptimizer.Dispose"/> while another call of the same object runs (a device step over host memory, a
/// device step over device views, a checkpoint save or load; the call is interrupted from a schedule or a stream, so
/// the overlap is deterministic): the dispose is refused with an <see cref="InvalidOperationException"/> and frees
/// nothing, the interrupted call completes exactly as the same call alone, and a later dispose works. Before, the
/// dispose freed the state and staging buffers under the running call.
/// </summary>
public sealed class AuditDisposeGpuTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator = fixture.Accelerator;

    [Theory]
    [InlineData(false, StatePrecision.Float32)]
    [InlineData(true, StatePrecision.Float32)]
    [InlineData(false, StatePrecision.Int8Blockwise)]
    [InlineData(true, StatePrecision.BFloat16)]
    public void DisposeDuringAStepIsRefusedAndTheStepCompletes(bool deviceViews, StatePrecision precision)
    {
        var layout = new ParameterLayout([4100, 37], [300]);
        var host = new Adam(layout);
        var aloneHost = new Adam(layout);
        host.ChangeStatePrecision(precision);
        aloneHost.ChangeStatePrecision(precision);
        var gpu = new GpuOptimizer(host, _accelerator);
        using var alone = new GpuOptimizer(aloneHost, _accelerator);
        (float[] p, float[] g) = Data(host.Length, 11);
        float[] q = (float[])p.Clone();

        Exception? refusal = null;
        host.SetSchedule("LearningRate", new CallbackSchedule(1e-3, () => refusal = Record(gpu.Dispose)));
        aloneHost.SetSchedule("LearningRate", Schedule.Constant(1e-3));
        if (deviceViews)
        {
            using MemoryBuffer1D<float, Stride1D.Dense> dp = _accelerator.Allocate1D(p);
            using MemoryBuffer1D<float, Stride1D.Dense> dg = _accelerator.Allocate1D(g);
            gpu.Step(dp.View.BaseView, dg.View.BaseView);
            _accelerator.Synchronize();
            dp.View.BaseView.CopyToCPU(p);
        }
        else
        {
            gpu.Step(p, g);
        }

        alone.Step(q, g);
        Assert.IsType<InvalidOperationException>(refusal);
        Assert.Equal(q, p);
        Assert.Equal(Save(alone), Save(gpu));
        gpu.Step(p, g);
        alone.Step(q, g);
        Assert.Equal(q, p);
        gpu.Dispose();
        Assert.Throws<ObjectDisposedException>(() => gpu.Step(p, g));
        gpu.Dispose();
    }

    [Fact]
    public void DisposeDuringACheckpointSaveOrLoadIsRefused()
    {
        var layout = new ParameterLayout([5000, 40]);
        var host = new Adam(layout);
        using var gpu = new GpuOptimizer(host, _accelerator);
        (float[] p, float[] g) = Data(host.Length, 11);
        gpu.Step(p, g);
        byte[] saved = Save(gpu);

        Exception? refusal = null;
        gpu.LoadCheckpoint(new CallbackStream(new MemoryStream(saved), () => refusal = Record(gpu.Dispose)));
        Assert.IsType<InvalidOperationException>(refusal);
        Assert.Equal(saved, Save(gpu));

        refusal = null;
        var written = new MemoryStream();
        gpu.SaveCheckpoint(new CallbackStream(written, () => refusal = Record(gpu.Dispose)));
        Assert.IsType<InvalidOperationException>(refusal);
        Assert.Equal(saved, written.ToArray());
        float[] q = (float[])p.Clone();
        var resumed = new Adam(layout);
        resumed.LoadCheckpoint(new MemoryStream(saved));
        gpu.Step(p, g);
        resumed.Step(q, g);
        Assert.Equal(q, p);
    }

    private static Exception? Record(Action call)
    {
        try
        {
            call();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }
}
