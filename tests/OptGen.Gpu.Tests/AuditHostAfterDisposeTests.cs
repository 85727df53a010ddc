using System;
using System.IO;
using Xunit;
using static OptGen.Gpu.Tests.GpuAuditData;

namespace OptGen.Gpu.Tests;

/// <summary>
/// The host optimizer after its <see cref="GpuOptimizer"/> is disposed. While the GPU optimizer drives it, the host's
/// state buffers are only a staging copy; Dispose freed the device state without copying it back, so a run moved back
/// to the CPU (or to a new GpuOptimizer over the same host) took its step count from the device's run and its moments
/// from before it: a silently wrong step (Adam at t = 4 with m = v = 0). Dispose now leaves the device's state on
/// the host, unless the host was changed directly, whose change it keeps.
/// </summary>
public sealed class AuditHostAfterDisposeTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    [Theory]
    [InlineData(StatePrecision.Float32)]
    [InlineData(StatePrecision.BFloat16)]
    [InlineData(StatePrecision.Int8Blockwise)]
    public void TheHostContinuesWhereTheDeviceLeftOff(StatePrecision precision)
    {
        var layout = new ParameterLayout([4100, 37], [300]);
        var host = new Adam(layout);
        var reference = new Adam(layout);
        host.ChangeStatePrecision(precision);
        reference.ChangeStatePrecision(precision);
        (float[] p, float[] g) = Data(host.Length, 3);
        float[] q = (float[])p.Clone();
        var gpu = new GpuOptimizer(host, fixture.Accelerator);
        for (int t = 0; t < 3; t++)
        {
            gpu.Step(p, g);
            reference.Step(q, g);
        }

        gpu.Dispose();
        host.Step(p, g);
        reference.Step(q, g);
        Assert.Equal(q, p);
        Assert.Equal(Save(reference), Save(host));

        // And a new GpuOptimizer over the same host picks the run up again.
        using var again = new GpuOptimizer(host, fixture.Accelerator);
        again.Step(p, g);
        reference.Step(q, g);
        Assert.Equal(q, p);
    }

    [Fact]
    public void AHostChangedDirectlyKeepsItsChange()
    {
        var host = new Adam(new ParameterLayout([64]));
        (float[] p, float[] g) = Data(host.Length, 4);
        var gpu = new GpuOptimizer(host, fixture.Accelerator);
        gpu.Step(p, g);
        host.Reset();
        byte[] reset = Save(host);
        gpu.Dispose();
        Assert.Equal(reset, Save(host));
        Assert.Throws<ObjectDisposedException>(() => gpu.Step(p, g));
    }

    private static byte[] Save(Optimizer optimizer)
    {
        var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }
}
