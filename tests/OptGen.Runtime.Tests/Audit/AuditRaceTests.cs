using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// Three threads call every public mutator of one optimizer at once (Step, SaveCheckpoint, LoadCheckpoint, Reset,
/// ChangeStatePrecision, a group's StatePrecision, hyperparameters of the optimizer and of a group, schedules,
/// BatchSize, MaxDegreeOfParallelism, schedule-free's Eval/Train), for every kind of <see cref="AuditKinds"/>. Each call
/// either completes or throws <see cref="InvalidOperationException"/> (the busy guard, or schedule-free's eval mode)
/// or, for a load, <see cref="CheckpointException"/> (the checkpoint's precisions are not the optimizer's at that
/// moment); nothing else is thrown. Afterwards the parameters and the checkpoint are bit for bit those of a sequential replay of
/// the calls that completed, on a fresh optimizer, and every checkpoint saved during the race is the one the replay
/// saves at that point. The calls' order: a completed call that ended before another began comes first; calls whose
/// spans overlap (one began its call while the other was returning) are tried in both orders.
/// </summary>
public sealed class AuditRaceTests
{
    private const int Threads = 3;
    private const int CallsPerThread = 14;

    public static TheoryData<string> Kinds() => new(AuditKinds.Names);

    /// <summary>One call: what it does to an optimizer and the parameters it is given; a checkpoint when it saves one.</summary>
    private sealed record Call(string Name, Func<Optimizer, float[], byte[]?> Run);

    /// <summary>A completed call, with the tickets drawn just before it began and just after it returned.</summary>
    private sealed record Completed(Call Call, long Start, long End, byte[]? Saved);

    private static List<Call> CallsFor(string kind, Optimizer probe, byte[] checkpoint)
    {
        int length = probe.Length;
        string rate = probe.Descriptor.Hyperparameters[0].Name;
        var calls = new List<Call>();
        for (int i = 0; i < 6; i++)
        {
            float[] g = Random(new Random(100 + i), length, 0.1);
            calls.Add(new Call($"Step g{i}", (o, p) =>
            {
                o.Step(p, g);
                return null;
            }));
        }

        calls.Add(new Call("SaveCheckpoint", (o, _) => AuditKinds.Save(o)));
        calls.Add(new Call("LoadCheckpoint", (o, _) =>
        {
            o.LoadCheckpoint(new MemoryStream(checkpoint));
            return null;
        }));
        calls.Add(new Call("Reset", (o, _) =>
        {
            o.Reset();
            return null;
        }));
        double value = probe[rate];
        calls.Add(new Call($"{rate} ×0.5", (o, _) =>
        {
            o[rate] = value * 0.5;
            return null;
        }));
        calls.Add(new Call($"group {rate} ×0.25", (o, _) =>
        {
            o.Groups[o.Groups.Count - 1][rate] = value * 0.25;
            return null;
        }));
        calls.Add(new Call("SetSchedule", (o, _) =>
        {
            o.SetSchedule(rate, Schedule.Exponential(value, 0.9));
            return null;
        }));
        calls.Add(new Call("group SetSchedule null", (o, _) =>
        {
            o.Groups[0].SetSchedule(rate, null);
            o.SetSchedule(rate, null);
            return null;
        }));
        calls.Add(new Call("BatchSize", (o, _) =>
        {
            o.BatchSize = o.BatchSize == 8 ? 3 : 8;
            return null;
        }));
        calls.Add(new Call("MaxDegreeOfParallelism", (o, _) =>
        {
            o.MaxDegreeOfParallelism = o.MaxDegreeOfParallelism == 1 ? 2 : 1;
            return null;
        }));

        bool compact = kind is "Adafactor bf16" or "Adam-mini" or "attribute Adam-mini" or "declared NovoGrad" or "declared factored";
        StatePrecision[] precisions = compact ? [StatePrecision.Float32, StatePrecision.BFloat16]
            : [StatePrecision.Float32, StatePrecision.BFloat16, StatePrecision.Int8Blockwise, StatePrecision.Int4Blockwise];
        foreach (StatePrecision precision in precisions)
        {
            calls.Add(new Call($"ChangeStatePrecision {precision}", (o, _) =>
            {
                o.ChangeStatePrecision(precision);
                return null;
            }));
        }

        if (!compact && probe.Groups.Count > 1)
        {
            calls.Add(new Call("group 1 Int8", (o, _) =>
            {
                o.Groups[1].StatePrecision = StatePrecision.Int8Blockwise;
                return null;
            }));
            calls.Add(new Call("group 1 null", (o, _) =>
            {
                o.Groups[1].StatePrecision = null;
                return null;
            }));
        }

        if (probe is AdamWScheduleFree)
        {
            calls.Add(new Call("Eval", (o, p) =>
            {
                ((AdamWScheduleFree)o).Eval(p);
                return null;
            }));
            calls.Add(new Call("Train", (o, p) =>
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
        Optimizer optimizer = AuditKinds.Makers[kind]();
        List<Call> calls = CallsFor(kind, optimizer, checkpoint);
        float[] initial = Random(new Random(3), optimizer.Length);
        float[] p = (float[])initial.Clone();
        long ticket = 0;
        var completed = new List<Completed>[Threads];
        var unexpected = new List<string>();
        using var start = new Barrier(Threads);
        var threads = new Thread[Threads];
        for (int t = 0; t < Threads; t++)
        {
            int thread = t;
            completed[thread] = [];
            var random = new Random((round * 31) + thread);
            Call[] mine = Enumerable.Range(0, CallsPerThread).Select(_ => calls[random.Next(calls.Count)]).ToArray();
            threads[t] = new Thread(() =>
            {
                start.SignalAndWait();
                foreach (Call call in mine)
                {
                    long begin = Interlocked.Increment(ref ticket);
                    try
                    {
                        byte[]? saved = call.Run(optimizer, p);
                        long end = Interlocked.Increment(ref ticket);
                        completed[thread].Add(new Completed(call, begin, end, saved));
                    }
                    catch (InvalidOperationException)
                    {
                    }
                    catch (CheckpointException) when (call.Name == "LoadCheckpoint")
                    {
                        // The checkpoint's precisions are not the optimizer's at this moment: refused, nothing changed.
                    }
                    catch (Exception e)
                    {
                        lock (unexpected)
                        {
                            unexpected.Add($"{call.Name}: {e.GetType().Name}: {e.Message}");
                        }
                    }
                }
            });
            threads[t].Start();
        }

        foreach (Thread thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(60)), $"{kind}: a thread hung");
        }

        Assert.True(unexpected.Count == 0, $"{kind} round {round}:\n" + string.Join("\n", unexpected));
        Completed[] done = completed.SelectMany(c => c).OrderBy(c => c.End).ToArray();
        byte[] final = AuditKinds.Save(optimizer);
        var tried = new List<string>();
        foreach (Completed[] order in Linearizations(done).Take(64))
        {
            string? mismatch = Replay(kind, order, initial, p, final);
            if (mismatch is null)
            {
                return;
            }

            tried.Add(mismatch);
        }

        Assert.Fail($"{kind} round {round}: no order of the {done.Length} completed calls gives the result:\n{string.Join("\n", tried.Take(4))}");
    }

    /// <summary>The replay of <paramref name="order"/> on a fresh optimizer, or why it differs from the race.</summary>
    private static string? Replay(string kind, Completed[] order, float[] initial, float[] p, byte[] final)
    {
        Optimizer optimizer = AuditKinds.Makers[kind]();
        float[] q = (float[])initial.Clone();
        foreach (Completed call in order)
        {
            byte[]? saved;
            try
            {
                saved = call.Call.Run(optimizer, q);
            }
            catch (Exception e) when (e is InvalidOperationException or CheckpointException)
            {
                return $"{string.Join(", ", order.Select(c => c.Call.Name))}: {call.Call.Name} refused in the replay: {e.Message}";
            }

            if (call.Saved is not null && !call.Saved.AsSpan().SequenceEqual(saved))
            {
                return $"{string.Join(", ", order.Select(c => c.Call.Name))}: the checkpoint saved by {call.Call.Name} differs";
            }
        }

        if (!q.AsSpan().SequenceEqual(p))
        {
            return $"{string.Join(", ", order.Select(c => c.Call.Name))}: the parameters differ";
        }

        return AuditKinds.Save(optimizer).AsSpan().SequenceEqual(final) ? null : $"{string.Join(", ", order.Select(c => c.Call.Name))}: the final checkpoint differs";
    }

    /// <summary>Every order of <paramref name="calls"/> (sorted by end ticket) in which a call that ended before another began stays first.</summary>
    private static IEnumerable<Completed[]> Linearizations(Completed[] calls)
    {
        var used = new bool[calls.Length];
        var order = new Completed[calls.Length];
        return Extend(0);

        IEnumerable<Completed[]> Extend(int depth)
        {
            if (depth == calls.Length)
            {
                yield return (Completed[])order.Clone();
                yield break;
            }

            for (int i = 0; i < calls.Length; i++)
            {
                // i may come next if no unused call ended before it began.
                if (used[i] || Enumerable.Range(0, calls.Length).Any(j => !used[j] && j != i && calls[j].End < calls[i].Start))
                {
                    continue;
                }

                used[i] = true;
                order[depth] = calls[i];
                foreach (Completed[] result in Extend(depth + 1))
                {
                    yield return result;
                }

                used[i] = false;
            }
        }
    }
}
