using System;
using System.Collections.Generic;
using System.IO;
using ILGPU.Runtime;
using OptGen.Runtime.Tests.Audit;
using Xunit;
using static OptGen.Gpu.Tests.GpuAuditData;

namespace OptGen.Gpu.Tests;

/// <summary>
/// Three threads call a <see cref="GpuOptimizer"/> (on ILGPU's CPU accelerator) at once: host-memory steps, checkpoint
/// saves and loads, Reset, precision changes of the optimizer and of a group, SynchronizeHostState, ReloadFromHost,
/// CopyState, Eval/Train of schedule-free, and the host optimizer's hyperparameters and schedules. Each call completes
/// or is refused (<see cref="InvalidOperationException"/>; <see cref="CheckpointException"/> for a load of other
/// precisions), and the outcome is a sequential replay of the completed calls on a fresh GpuOptimizer
/// (<see cref="RaceHarness"/>).
/// </summary>
public sealed class AuditGpuRaceTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator = fixture.Accelerator;

    public static TheoryData<string> Kinds() => new() { "Adam", "LAMB", "schedule-free" };

    private static Optimizer CreateHost(string kind) => kind switch
    {
        "LAMB" => new Lamb(new ParameterLayout([37, 5], [11])),
        "schedule-free" => new AdamWScheduleFree(new ParameterLayout([29], [6])) { WarmupSteps = 2 },
        _ => new Adam(new ParameterLayout([4100], [300])),
    };

    private static float[] Values(int length, int seed, double scale)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)(scale * (random.NextDouble() - 0.5));
        }

        return values;
    }

    private static List<RaceCall<GpuOptimizer>> Calls(string kind, int length, byte[] checkpoint)
    {
        var calls = new List<RaceCall<GpuOptimizer>>();
        for (int i = 0; i < 4; i++)
        {
            float[] g = Values(length, 100 + i, 0.1);
            calls.Add(new($"Step g{i}", (gpu, p) =>
            {
                gpu.Step(p, g);
                return null;
            }));
        }

        calls.Add(new("SaveCheckpoint", (gpu, _) => Save(gpu)));
        calls.Add(new("LoadCheckpoint", (gpu, _) =>
        {
            gpu.LoadCheckpoint(new MemoryStream(checkpoint));
            return null;
        }, typeof(CheckpointException)));
        calls.Add(new("Reset", (gpu, _) =>
        {
            gpu.Reset();
            return null;
        }));
        calls.Add(new("SynchronizeHostState", (gpu, _) =>
        {
            gpu.SynchronizeHostState();
            return null;
        }));
        calls.Add(new("ReloadFromHost", (gpu, _) =>
        {
            gpu.ReloadFromHost();
            return null;
        }));
        calls.Add(new("CopyState", (gpu, _) =>
        {
            string name = gpu.Optimizer.Descriptor.States[0].Name;
            gpu.CopyState(name, 0, new float[gpu.Optimizer.StateLength(name, 0)]);
            return null;
        }));
        calls.Add(new("LearningRate", (gpu, _) =>
        {
            gpu.Optimizer["LearningRate"] = gpu.Optimizer["LearningRate"] == 1e-3 ? 2e-3 : 1e-3;
            return null;
        }));
        calls.Add(new("SetSchedule", (gpu, _) =>
        {
            gpu.Optimizer.Groups[1].SetSchedule("LearningRate", gpu.StepCount % 2 == 0 ? Schedule.Exponential(1e-3, 0.5) : null);
            return null;
        }));
        StatePrecision[] precisions = kind == "Adam"
            ? [StatePrecision.Float32, StatePrecision.BFloat16, StatePrecision.Int8Blockwise, StatePrecision.Int4Blockwise]
            : [StatePrecision.Float32, StatePrecision.BFloat16];
        foreach (StatePrecision precision in precisions)
        {
            calls.Add(new($"ChangeStatePrecision {precision}", (gpu, _) =>
            {
                gpu.ChangeStatePrecision(precision);
                return null;
            }));
        }

        if (kind == "Adam")
        {
            calls.Add(new("group 0 Int8", (gpu, _) =>
            {
                gpu.SetGroupStatePrecision(0, StatePrecision.Int8Blockwise);
                return null;
            }));
            calls.Add(new("group 0 null", (gpu, _) =>
            {
                gpu.SetGroupStatePrecision(0, null);
                return null;
            }));
        }

        if (kind == "schedule-free")
        {
            calls.Add(new("Eval", (gpu, p) =>
            {
                gpu.Eval(p);
                return null;
            }));
            calls.Add(new("Train", (gpu, p) =>
            {
                gpu.Train(p);
                return null;
            }));
        }

        return calls;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryCallCompletesOrIsRefusedAndTheResultIsASequentialReplay(string kind)
    {
        byte[] checkpoint;
        using (var source = new GpuOptimizer(CreateHost(kind), _accelerator))
        {
            float[] p = Values(source.Length, 1, 1);
            source.Step(p, Values(source.Length, 2, 0.1));
            checkpoint = Save(source);
        }

        int length = CreateHost(kind).Length;
        List<RaceCall<GpuOptimizer>> calls = Calls(kind, length, checkpoint);
        for (int round = 0; round < 3; round++)
        {
            RaceHarness.Run($"{kind} round {round}", () => new GpuOptimizer(CreateHost(kind), _accelerator), calls, Save, Values(length, 3, 1), round, callsPerThread: 10);
        }
    }
}
