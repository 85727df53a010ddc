using System;
using System.Collections.Generic;
using System.IO;
using ILGPU.Runtime;
using OptGen.Runtime.Tests.Audit;
using Xunit;

namespace OptGen.Gpu.Tests;

/// <summary>
/// While a GpuOptimizer step runs (a schedule is read inside it), every other GpuOptimizer and host-optimizer call
/// — steps, Eval/Train of schedule-free, blockwise and precision changes, checkpoints, reloads — is an
/// <see cref="InvalidOperationException"/>, nothing deadlocks, and the step completes as the same step taken alone.
/// </summary>
public sealed class AuditReentrantGpuTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator = fixture.Accelerator;

    private static IEnumerable<(string What, Action Call)> Calls(GpuOptimizer gpu, Optimizer host, float[] p, float[] g)
    {
        yield return ("gpu.Step", () => gpu.Step(p, g));
        yield return ("gpu.ChangeStatePrecision", () => gpu.ChangeStatePrecision(host.StatePrecision == StatePrecision.Float32 ? StatePrecision.BFloat16 : StatePrecision.Float32));
        yield return ("gpu.SynchronizeHostState", gpu.SynchronizeHostState);
        yield return ("gpu.ReloadFromHost", gpu.ReloadFromHost);
        yield return ("gpu.Reset", gpu.Reset);
        yield return ("gpu.SaveCheckpoint", () => gpu.SaveCheckpoint(new MemoryStream()));
        yield return ("gpu.LoadCheckpoint", () => gpu.LoadCheckpoint(new MemoryStream([1, 2, 3])));
        yield return ("gpu.CopyState", () => gpu.CopyState(host.Descriptor.States[0].Name, 0, new float[host.StateLength(host.Descriptor.States[0].Name, 0)]));
        yield return ("host.Step", () => host.Step(p, g));
        yield return ("host group precision", () => host.Groups[0].StatePrecision = StatePrecision.Int8Blockwise);
        if (host is AdamWScheduleFree)
        {
            yield return ("gpu.Eval", () => gpu.Eval(p));
            yield return ("gpu.Train", () => gpu.Train(p));
        }
    }

    public static TheoryData<string> Rules() => new() { "Adam int8", "Adam int4", "schedule-free", "LAMB" };

    private static Optimizer Create(string rule)
    {
        var layout = new ParameterLayout([4100, 37], [300]);
        Optimizer optimizer = rule switch
        {
            "schedule-free" => new AdamWScheduleFree(layout) { WarmupSteps = 2 },
            "LAMB" => new Lamb(layout),
            _ => new Adam(layout),
        };
        if (rule.StartsWith("Adam int", StringComparison.Ordinal))
        {
            optimizer.ChangeStatePrecision(rule.EndsWith('8') ? StatePrecision.Int8Blockwise : StatePrecision.Int4Blockwise);
        }

        return optimizer;
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void EveryCallDuringAGpuStepIsRefusedAndTheStepIsUnchanged(string rule)
    {
        Optimizer host = Create(rule), aloneHost = Create(rule);
        using var gpu = new GpuOptimizer(host, _accelerator);
        using var alone = new GpuOptimizer(aloneHost, _accelerator);
        var random = new Random(4);
        float[] p = new float[host.Length], g = new float[host.Length];
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = (float)(random.NextDouble() - 0.5);
            g[i] = (float)(0.1 * (random.NextDouble() - 0.5));
        }

        float[] q = (float[])p.Clone();
        gpu.Step(p, g);
        alone.Step(q, g);

        var failures = new List<string>();
        int refused = 0;
        string lr = host.Descriptor.Hyperparameters[0].Name;
        double value = host.Groups[0][lr];
        host.SetSchedule(lr, new CallbackSchedule(value, () =>
        {
            foreach ((string what, Action call) in Calls(gpu, host, p, g))
            {
                try
                {
                    call();
                    failures.Add($"{what} ran during the step");
                }
                catch (InvalidOperationException)
                {
                    refused++;
                }
                catch (Exception e)
                {
                    failures.Add($"{what}: {e.GetType().Name}: {e.Message}");
                }
            }
        }));
        aloneHost.SetSchedule(lr, Schedule.Constant(value));
        gpu.Step(p, g);
        alone.Step(q, g);

        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(refused >= 10, $"{refused} refused");
        Assert.Equal(q, p);
        Assert.Equal(2, host.StepCount);
        var a = new MemoryStream();
        var b = new MemoryStream();
        gpu.SaveCheckpoint(a);
        alone.SaveCheckpoint(b);
        Assert.Equal(b.ToArray(), a.ToArray());
    }
}
