using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using OptGen.Kernels;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Misuse from several threads is an exception, never corruption or silent loss: one thread steps while another
/// steps, changes the state precision, loads, saves or resets. Every test runs for a bounded time (0.35 s).
/// </summary>
/// <remarks>
/// Adam with no weight decay and one constant gradient keeps a state that depends only on the step count
/// (m and v after t steps), so the state a race leaves can be compared bit for bit with a serial replay.
/// </remarks>
public sealed class ConcurrencyTests
{
    // Above the parallel threshold, so steps also run on pool workers.
    private const int Length = 300_007;
    private static readonly TimeSpan Duration = TimeSpan.FromMilliseconds(350);

    private static readonly float[] Gradient = Random(new Random(11), Length, 0.1);

    private static Adam Create() => new(Length) { LearningRate = 1e-3, MaxDegreeOfParallelism = 2 };

    /// <summary>The state after <paramref name="steps"/> serial steps of <see cref="Gradient"/> from the initial state.</summary>
    private static float[][] Replay(long steps)
    {
        Adam adam = Create();
        float[] p = new float[Length];
        for (long s = 0; s < steps; s++)
        {
            adam.Step(p, Gradient);
        }

        return StateOf(adam);
    }

    /// <summary>Runs <paramref name="first"/> and <paramref name="second"/> in loops on two threads until the time is up; counts their successes.</summary>
    private static (int First, int Second) Race(Action first, Action second, ConcurrentBag<Exception> errors)
    {
        int[] successes = new int[2];
        using var start = new Barrier(2);
        var stopwatch = Stopwatch.StartNew();
        Thread[] threads = new[] { first, second }.Select((action, index) => new Thread(() =>
        {
            start.SignalAndWait();

            // Until the time is up and both have succeeded at least once (bounded at 4× the time). After a success a
            // thread yields, so that the other, which keeps finding the optimizer busy, gets its turn.
            while ((stopwatch.Elapsed < Duration || Volatile.Read(ref successes[1 - index]) == 0 || successes[index] == 0)
                && stopwatch.Elapsed < 4 * Duration)
            {
                try
                {
                    action();
                    Interlocked.Increment(ref successes[index]);
                    Thread.Sleep(0);
                }
                catch (Exception e)
                {
                    errors.Add(e);
                }
            }
        })).ToArray();
        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        return (successes[0], successes[1]);
    }

    private static void AssertOnlyBusyErrors(ConcurrentBag<Exception> errors)
    {
        foreach (Exception e in errors)
        {
            Assert.True(e is InvalidOperationException, $"unexpected {e.GetType().Name}: {e}");
            Assert.Contains("not thread-safe", e.Message, StringComparison.Ordinal);
        }
    }

    private static void AssertStateEquals(float[][] expected, Optimizer optimizer, string what)
    {
        float[][] actual = StateOf(optimizer);
        for (int k = 0; k < expected.Length; k++)
        {
            AssertBitwiseEqual(expected[k], actual[k], $"{what}: state {k}");
        }
    }

    [Fact]
    public void TwoThreadsSteppingLoseNoStep()
    {
        Adam adam = Create();
        float[] p1 = new float[Length];
        float[] p2 = new float[Length];
        var errors = new ConcurrentBag<Exception>();
        (int a, int b) = Race(() => adam.Step(p1, Gradient), () => adam.Step(p2, Gradient, options: null), errors);

        AssertOnlyBusyErrors(errors);
        Assert.True(a > 0 && b > 0, $"successes {a} and {b}");
        Assert.Equal(a + b, adam.StepCount);
        AssertStateEquals(Replay(a + b), adam, "after the race");
    }

    [Fact]
    public void StepAgainstChangeStatePrecisionThrowsInsteadOfCorrupting()
    {
        Adam adam = Create();
        float[] p = new float[Length];
        var errors = new ConcurrentBag<Exception>();
        bool narrow = true;
        (int steps, int changes) = Race(
            () => adam.Step(p, Gradient),
            () =>
            {
                adam.ChangeStatePrecision(narrow ? StatePrecision.BFloat16 : StatePrecision.Float32);
                narrow = !narrow;
            },
            errors);

        AssertOnlyBusyErrors(errors);
        Assert.True(steps > 0 && changes > 0, $"successes {steps} and {changes}");
        Assert.Equal(steps, adam.StepCount);
        Assert.All(p, x => Assert.True(float.IsFinite(x)));
        float[] m = new float[Length];
        foreach (string name in new[] { "FirstMoment", "SecondMoment" })
        {
            adam.CopyState(name, 0, m);
            Assert.All(m, x => Assert.True(float.IsFinite(x)));
        }
    }

    [Fact]
    public void StepAgainstLoadCheckpointLeavesAConsistentState()
    {
        Adam adam = Create();
        var initial = new MemoryStream();
        adam.SaveCheckpoint(initial);
        byte[] checkpoint = initial.ToArray();
        float[] p = new float[Length];
        var errors = new ConcurrentBag<Exception>();
        (int steps, int loads) = Race(() => adam.Step(p, Gradient), () => adam.LoadCheckpoint(new MemoryStream(checkpoint)), errors);

        AssertOnlyBusyErrors(errors);
        Assert.True(steps > 0 && loads > 0, $"successes {steps} and {loads}");
        Assert.InRange(adam.StepCount, 0, steps);

        // Each load put the state back to step 0; the steps after the last one built it up again.
        AssertStateEquals(Replay(adam.StepCount), adam, $"at step count {adam.StepCount}");
    }

    [Fact]
    public void StepAgainstSaveCheckpointSavesConsistentCheckpoints()
    {
        Adam adam = Create();
        float[] p = new float[Length];
        byte[]? last = null;
        var errors = new ConcurrentBag<Exception>();
        (int steps, int saves) = Race(
            () => adam.Step(p, Gradient),
            () =>
            {
                var stream = new MemoryStream();
                adam.SaveCheckpoint(stream);
                last = stream.ToArray();
            },
            errors);

        AssertOnlyBusyErrors(errors);
        Assert.True(steps > 0 && saves > 0, $"successes {steps} and {saves}");
        Assert.Equal(steps, adam.StepCount);

        // A checkpoint is never torn: the state it holds is the state of the step count it holds.
        Adam restored = Create();
        restored.LoadCheckpoint(new MemoryStream(last!));
        AssertStateEquals(Replay(restored.StepCount), restored, $"checkpoint at step count {restored.StepCount}");
    }

    [Fact]
    public void StepAgainstResetLeavesAConsistentState()
    {
        Adam adam = Create();
        float[] p = new float[Length];
        var errors = new ConcurrentBag<Exception>();
        (int steps, int resets) = Race(() => adam.Step(p, Gradient), adam.Reset, errors);

        AssertOnlyBusyErrors(errors);
        Assert.True(steps > 0 && resets > 0, $"successes {steps} and {resets}");
        Assert.InRange(adam.StepCount, 0, steps);
        AssertStateEquals(Replay(adam.StepCount), adam, $"at step count {adam.StepCount}");
    }

    [Fact]
    public void ABusyOptimizerRejectsEveryStateOperationAndChangesNothing()
    {
        Adam adam = Create();
        float[] p = new float[Length];
        adam.Step(p, Gradient);
        float[] parameters = (float[])p.Clone();

        // A schedule runs inside the step's guard: from there, every other call finds the optimizer busy.
        var calls = new (string Name, Action Call)[]
        {
            ("Step", () => adam.Step(p, Gradient)),
            ("Step", () => adam.Step(p, Gradient, new StepOptions { MaxGradientNorm = 1 })),
            ("Reset", adam.Reset),
            ("ChangeStatePrecision", () => adam.ChangeStatePrecision(StatePrecision.BFloat16)),
            ("Setting a group's StatePrecision", () => adam.Groups[0].StatePrecision = StatePrecision.Int8Blockwise),
            ("SaveCheckpoint", () => adam.SaveCheckpoint(new MemoryStream())),
            ("LoadCheckpoint", () => adam.LoadCheckpoint(new MemoryStream([1, 2, 3]))),
            ("CopyState", () => adam.CopyState("FirstMoment", 0, new float[Length])),
            ("GetState", () => _ = adam.GetState("FirstMoment").Length),
            ("SetSchedule", () => adam.SetSchedule("Beta1", null)),
            ("Setting a hyperparameter", () => adam.Beta1 = 0.5),
            ("Setting a hyperparameter", () => adam["WeightDecay"] = 0.5),
            ("Setting a group's hyperparameter", () => adam.Groups[0]["Beta2"] = 0.5),
        };
        var seen = new System.Collections.Generic.List<string>();
        adam.SetSchedule("LearningRate", new ReentrantSchedule(() =>
        {
            foreach ((string name, Action call) in calls)
            {
                var e = Assert.Throws<InvalidOperationException>(call);
                Assert.StartsWith(name + " was called while", e.Message, StringComparison.Ordinal);
                seen.Add(name);
            }
        }));

        adam.Step(p, Gradient);
        Assert.Equal(calls.Length, seen.Count);
        Assert.Equal(2, adam.StepCount);
        Assert.Equal(StatePrecision.Float32, adam.StatePrecision);
        Assert.Null(adam.Groups[0].StatePrecision);
        Assert.Equal((0.9, 0.0, 0.999), (adam.Beta1, adam.WeightDecay, adam.Groups[0]["Beta2"]));
        AssertStateEquals(Replay(2), adam, "after the rejected calls");
        Assert.NotEqual(parameters[0], p[0]);
    }

    [Fact]
    public void AnExceptionOnAPoolWorkerReachesTheCallerInsteadOfEndingTheProcess()
    {
        const int length = 8 * ParallelUpdate.MinimumElementsPerThread;
        float[] p = new float[length];
        float[] g = new float[length];
        float[] s = new float[length];
        ThrowingOffCallerKernel.Caller = Environment.CurrentManagedThreadId;

        // A worker that starts late is revoked and the caller does its chunks; retry until one joins (bounded).
        Exception? caught = null;
        long deadline = Environment.TickCount64 + 20000;
        for (int attempt = 0; caught is null && (attempt < 20 || Environment.TickCount64 < deadline) && attempt < 2000; attempt++)
        {
            var arguments = new KernelArguments
            {
                Step = 1,
                GradientScale = 1,
                Parameters = ref Unsafe.As<float, byte>(ref p[0]),
                Gradients = ref Unsafe.As<float, byte>(ref g[0]),
                State = ref Unsafe.As<float, byte>(ref s[0]),
                StateStride = (nuint)length,
                Length = (nuint)length,
                MaxDegreeOfParallelism = 2,
            };
            try
            {
                UpdateDriver.Run<ThrowingOffCallerKernel, Float32Codec, Float32Codec, Float32Codec>(default, in arguments);
            }
            catch (InvalidOperationException e)
            {
                caught = e;
            }
        }

        Assert.True(caught is not null || Environment.ProcessorCount == 1, "no pool worker joined a 2-thread update");
        if (caught is not null)
        {
            Assert.Equal("thrown on a pool worker", caught.Message);
        }
    }

    /// <summary>A kernel that throws when run on any thread but <see cref="Caller"/>.</summary>
    private readonly struct ThrowingOffCallerKernel : IUpdateKernel
    {
        public static int Caller;

        public static int StateCount => 1;

        public void Step<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
            where TP : struct, IElementCodec
            where TG : struct, IElementCodec
            where TS : struct, IElementCodec
        {
            if (Environment.CurrentManagedThreadId != Volatile.Read(ref Caller))
            {
                throw new InvalidOperationException("thrown on a pool worker");
            }

            // The caller pauses at the start of each chunk, so a worker queued on a loaded machine (or behind other
            // tests' pool work) has time to start and claim a chunk before the caller has done them all.
            if (i % ParallelUpdate.ChunkElements == 0)
            {
                Thread.Sleep(1);
            }
        }

        public void Step128<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
            where TP : struct, IElementCodec
            where TG : struct, IElementCodec
            where TS : struct, IElementCodec => Step<TP, TG, TS>(ref p, ref g, ref s, stride, i);

        public void Step256<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
            where TP : struct, IElementCodec
            where TG : struct, IElementCodec
            where TS : struct, IElementCodec => Step<TP, TG, TS>(ref p, ref g, ref s, stride, i);

        public void Step512<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
            where TP : struct, IElementCodec
            where TG : struct, IElementCodec
            where TS : struct, IElementCodec => Step<TP, TG, TS>(ref p, ref g, ref s, stride, i);
    }

    /// <summary>A schedule that runs <paramref name="inside"/> (while the step holds the guard) and gives 1e-3.</summary>
    private sealed class ReentrantSchedule(Action inside) : Schedule
    {
        public override double ValueAt(long step)
        {
            inside();
            return 1e-3;
        }
    }
}
