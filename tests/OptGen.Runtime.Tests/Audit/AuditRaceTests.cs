using System;
using System.Collections.Generic;
using System.IO;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// Three threads call every public mutator of one optimizer at once (Step, SaveCheckpoint, LoadCheckpoint, Reset,
/// ChangeStatePrecision, a group's StatePrecision, hyperparameters of the optimizer and of a group, schedules,
/// BatchSize, MaxDegreeOfParallelism, schedule-free's Eval/Train), for every kind of <see cref="AuditKinds"/>. Each call
/// either completes or throws <see cref="InvalidOperationException"/> (the busy guard, or schedule-free's eval mode)
/// or, for a load, <see cref="CheckpointException"/> (the checkpoint's precisions are not the optimizer's at that
/// moment); nothing else is thrown, and the outcome is a sequential replay of the completed calls (see
/// <see cref="RaceHarness"/>).
/// </summary>
public sealed class AuditRaceTests
{
    public static TheoryData<string> Kinds() => new(AuditKinds.Names);

    private static List<RaceCall<Optimizer>> CallsFor(string kind, Optimizer probe, byte[] checkpoint)
    {
        int length = probe.Length;
        string rate = probe.Descriptor.Hyperparameters[0].Name;
        var calls = new List<RaceCall<Optimizer>>();
        for (int i = 0; i < 6; i++)
        {
            float[] g = Random(new Random(100 + i), length, 0.1);
            calls.Add(new RaceCall<Optimizer>($"Step g{i}", (o, p) =>
            {
                o.Step(p, g);
                return null;
            }));
        }

        calls.Add(new RaceCall<Optimizer>("SaveCheckpoint", (o, _) => AuditKinds.Save(o)));
        calls.Add(new RaceCall<Optimizer>("LoadCheckpoint", (o, _) =>
        {
            o.LoadCheckpoint(new MemoryStream(checkpoint));
            return null;
        }, typeof(CheckpointException))); // the checkpoint's precisions are not the optimizer's at this moment
        calls.Add(new RaceCall<Optimizer>("Reset", (o, _) =>
        {
            o.Reset();
            return null;
        }));
        double value = probe[rate];
        calls.Add(new RaceCall<Optimizer>($"{rate} ×0.5", (o, _) =>
        {
            o[rate] = value * 0.5;
            return null;
        }));
        calls.Add(new RaceCall<Optimizer>($"group {rate} ×0.25", (o, _) =>
        {
            o.Groups[o.Groups.Count - 1][rate] = value * 0.25;
            return null;
        }));
        calls.Add(new RaceCall<Optimizer>("SetSchedule", (o, _) =>
        {
            o.SetSchedule(rate, Schedule.Exponential(value, 0.9));
            return null;
        }));
        calls.Add(new RaceCall<Optimizer>("group SetSchedule null", (o, _) =>
        {
            o.Groups[0].SetSchedule(rate, null);
            o.SetSchedule(rate, null);
            return null;
        }));
        calls.Add(new RaceCall<Optimizer>("BatchSize", (o, _) =>
        {
            o.BatchSize = o.BatchSize == 8 ? 3 : 8;
            return null;
        }));
        calls.Add(new RaceCall<Optimizer>("MaxDegreeOfParallelism", (o, _) =>
        {
            o.MaxDegreeOfParallelism = o.MaxDegreeOfParallelism == 1 ? 2 : 1;
            return null;
        }));

        bool compact = kind is "Adafactor bf16" or "Adam-mini" or "attribute Adam-mini" or "declared NovoGrad" or "declared factored";
        StatePrecision[] precisions = compact ? [StatePrecision.Float32, StatePrecision.BFloat16]
            : [StatePrecision.Float32, StatePrecision.BFloat16, StatePrecision.Int8Blockwise, StatePrecision.Int4Blockwise];
        foreach (StatePrecision precision in precisions)
        {
            calls.Add(new RaceCall<Optimizer>($"ChangeStatePrecision {precision}", (o, _) =>
            {
                o.ChangeStatePrecision(precision);
                return null;
            }));
        }

        if (!compact && probe.Groups.Count > 1)
        {
            calls.Add(new RaceCall<Optimizer>("group 1 Int8", (o, _) =>
            {
                o.Groups[1].StatePrecision = StatePrecision.Int8Blockwise;
                return null;
            }));
            calls.Add(new RaceCall<Optimizer>("group 1 null", (o, _) =>
            {
                o.Groups[1].StatePrecision = null;
                return null;
            }));
        }

        if (probe is AdamWScheduleFree)
        {
            calls.Add(new RaceCall<Optimizer>("Eval", (o, p) =>
            {
                ((AdamWScheduleFree)o).Eval(p);
                return null;
            }));
            calls.Add(new RaceCall<Optimizer>("Train", (o, p) =>
            {
                ((AdamWScheduleFree)o).Train(p);
                return null;
            }));
        }

        return calls;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryCallCompletesOrIsRefusedAndTheResultIsASequentialReplay(string kind)
    {
        for (int round = 0; round < 4; round++)
        {
            Race(kind, round);
        }
    }

    private static void Race(string kind, int round)
    {
        byte[] checkpoint = AuditKinds.Save(AuditKinds.Trained(kind, 7, steps: 2));
        Optimizer probe = AuditKinds.Makers[kind]();
        RaceHarness.Run($"{kind} round {round}", AuditKinds.Makers[kind], CallsFor(kind, probe, checkpoint), AuditKinds.Save, Random(new Random(3), probe.Length), round);
    }
}
