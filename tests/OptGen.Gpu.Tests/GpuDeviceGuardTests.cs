using System;
using System.IO;
using ILGPU.Runtime;
using OptGen.Runtime.Tests.Audit;
using Xunit;

namespace OptGen.Gpu.Tests;

/// <summary>
/// GpuOptimizer calls made of several host steps (synchronize, load or save the host, upload) hold the device guard
/// from first to last: a step arriving while the host part runs is refused by the GpuOptimizer itself, so it cannot
/// slip in between the host part and the upload (where its update would be overwritten by the upload of a host state
/// taken before it). The checkpoint stream's callbacks run inside the host part and try the calls there.
/// </summary>
public sealed class GpuDeviceGuardTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator = fixture.Accelerator;

    [Theory]
    [InlineData(StatePrecision.Float32)]
    [InlineData(StatePrecision.Int8Blockwise)]
    public void CallsDuringACheckpointLoadOrSaveAreRefusedByTheDeviceGuardAndChangeNothing(StatePrecision precision)
    {
        var layout = new ParameterLayout([5000, 40]);
        var host = new Adam(layout);
        host.ChangeStatePrecision(precision);
        using var gpu = new GpuOptimizer(host, _accelerator);
        float[] p = new float[host.Length], g = new float[host.Length];
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = MathF.Sin(i);
            g[i] = 0.01f * MathF.Cos(3 * i);
        }

        gpu.Step(p, g);
        var saved = new MemoryStream();
        gpu.SaveCheckpoint(saved);
        gpu.Step(p, g);
        float[] before = (float[])p.Clone();

        string? refusal = null;
        void TryCalls()
        {
            foreach (Action call in new Action[]
            {
                () => gpu.Step(p, g),
                gpu.SynchronizeHostState,
                gpu.ReloadFromHost,
                () => gpu.ChangeStatePrecision(StatePrecision.BFloat16),
                () => gpu.SetGroupStatePrecision(0, StatePrecision.Int4Blockwise),
                gpu.Reset,
            })
            {
                InvalidOperationException e = Assert.Throws<InvalidOperationException>(call);
                Assert.Contains("another thread is in a call of this GpuOptimizer", e.Message, StringComparison.Ordinal);
                refusal = e.Message;
            }
        }

        // Loading: the host part reads the stream; every call made from inside it is refused by the device guard.
        saved.Position = 0;
        gpu.LoadCheckpoint(new CallbackStream(new MemoryStream(saved.ToArray()), TryCalls));
        Assert.NotNull(refusal);
        Assert.Equal(1, host.StepCount);
        Assert.Equal(before, p);

        // Saving: the same from inside the host's write.
        refusal = null;
        gpu.SaveCheckpoint(new CallbackStream(new MemoryStream(), TryCalls));
        Assert.NotNull(refusal);

        // The loaded state is the one the device runs: one more step equals a fresh host resumed from the file and
        // stepped on the CPU.
        var resumed = new Adam(layout);
        resumed.ChangeStatePrecision(precision);
        saved.Position = 0;
        resumed.LoadCheckpoint(saved);
        float[] q = (float[])p.Clone();
        gpu.Step(p, g);
        resumed.Step(q, g);
        Assert.Equal(q, p);
    }
}
