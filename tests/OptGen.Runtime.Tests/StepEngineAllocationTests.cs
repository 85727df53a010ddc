using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using OptGen.Kernels;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// The step engine's contract on every CPU path: no allocation after warm-up at 1 and 2 threads, and one meaning
/// of MaxDegreeOfParallelism (1 queues no thread-pool work, whatever else is set).
/// </summary>
[Collection(nameof(AllocationCollection))]
public sealed class StepEngineAllocationTests
{
    // Two groups, odd sizes (every SIMD tail runs), 270 051 elements in all: ThreadsFor gives 2 threads at limit 2.
    private static readonly int[] Group0 = [150_000, 70_001, 33];
    private static readonly int[] Group1 = [50_000, 17];
    private static readonly int Total = Group0.Sum() + Group1.Sum();

    public static TheoryData<string, int> Paths()
    {
        var data = new TheoryData<string, int>();
        foreach (string path in new[] { "plain", "plain-schedule", "arena", "tensors", "schedule", "groups", "clip-skip", "half", "bfloat16", "bfloat16-stochastic", "half-gradients", "bfloat16-state", "int8-state", "int4-state", "int8-state-arena", "group-precisions", "host-state", "training", "many-schedules", "lamb", "lars", "adam-mini", "adafactor", "adamw-schedulefree", "lamb-bfloat16-state", "lamb-int8-state", "lars-int4-state", "adamw-schedulefree-int8-state", "lamb-group-precisions" })
        {
            data.Add(path, 1);
            data.Add(path, 2);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void WarmedUpStepAllocatesNothing(string path, int threads)
    {
        Assert.Equal(2, ParallelUpdate.ThreadsFor((nuint)Total, 2));
        Action step = CreatePath(path, threads);
        for (int s = 0; s < 8; s++)
        {
            step();
        }

        // Two measures, each the least of many short windows: the calling thread's bytes, and every thread's (pool
        // workers run pieces). The process may allocate meanwhile (the test host, a GC's bookkeeping after the
        // large arrays above); a step that allocates makes every window non-zero, however many there are.
        long leastHere = long.MaxValue, leastAll = long.MaxValue;
        for (int attempt = 0; attempt < 25 && (leastHere | leastAll) != 0; attempt++)
        {
            long here = GC.GetAllocatedBytesForCurrentThread();
            long all = GC.GetTotalAllocatedBytes(precise: true);
            step();
            step();
            leastAll = Math.Min(leastAll, GC.GetTotalAllocatedBytes(precise: true) - all);
            leastHere = Math.Min(leastHere, GC.GetAllocatedBytesForCurrentThread() - here);
        }

        Assert.Equal(0, leastHere);
        Assert.Equal(0, leastAll);
    }

    private static Action CreatePath(string path, int threads)
    {
        var random = new Random(7);
        var layout = new ParameterLayout(Group0, Group1);
        float[] p = Random(random, Total);
        float[] g = Random(random, Total, 0.1);
        var plain = new StepOptions();
        var clip = new StepOptions { MaxGradientNorm = 1, SkipNonFinite = true };
        switch (path)
        {
            case "plain":
            {
                var adam = new Adam(Total) { MaxDegreeOfParallelism = threads };
                return () => adam.Step(p, g);
            }

            case "plain-schedule":
            {
                var adam = new Adam(Total) { MaxDegreeOfParallelism = threads };
                adam.SetSchedule("LearningRate", Schedule.Cosine(1e-3, 1000));
                return () => adam.Step(p, g);
            }

            case "arena":
            {
                var adam = new Adam(layout) { MaxDegreeOfParallelism = threads };
                return () => adam.Step(p, g, plain);
            }

            case "tensors":
            {
                var adam = new Adam(layout) { MaxDegreeOfParallelism = threads };
                float[][] ps = Tensors(random, [.. Group0, .. Group1]);
                float[][] gs = Tensors(random, [.. Group0, .. Group1], 0.1);
                Memory<float>[] pm = AsMemory(ps);
                ReadOnlyMemory<float>[] gm = AsReadOnly(gs);
                return () => adam.Step(pm, gm);
            }

            case "schedule":
            {
                var adam = new Adam(layout) { MaxDegreeOfParallelism = threads };
                adam.SetSchedule("LearningRate", Schedule.Cosine(1e-3, 1000).WithWarmup(3));
                return () => adam.Step(p, g, plain);
            }

            case "many-schedules":
            {
                // 40 groups, each with its own schedule: more schedules than a step keeps on the stack.
                IReadOnlyList<int>[] groups = Enumerable.Range(0, 40).Select(k => (IReadOnlyList<int>)[(Total / 40) + (k == 0 ? Total % 40 : 0)]).ToArray();
                var adam = new Adam(new ParameterLayout(groups)) { MaxDegreeOfParallelism = threads };
                for (int k = 0; k < groups.Length; k++)
                {
                    adam.Groups[k].SetSchedule("LearningRate", Schedule.Cosine(1e-3, 1000));
                }

                return () => adam.Step(p, g, plain);
            }

            case "groups":
            {
                var sgd = new SgdMomentum(layout) { MaxDegreeOfParallelism = threads };
                sgd.Groups[1]["LearningRate"] = 0.5;
                sgd.Groups[1].SetSchedule("Momentum", Schedule.Linear(0.5, 0.9, 100));
                return () => sgd.Step(p, g, plain);
            }

            case "clip-skip":
            {
                var adam = new Adam(layout) { MaxDegreeOfParallelism = threads };
                float[] bad = (float[])g.Clone();
                bad[Total / 2] = float.NaN;
                int k = 0;
                return () => adam.Step(p, (k++ & 1) == 0 ? g : bad, clip);
            }

            case "half":
            {
                var adam = new Adam(layout) { MaxDegreeOfParallelism = threads };
                Half[] ph = p.Select(x => (Half)x).ToArray();
                Half[] gh = g.Select(x => (Half)x).ToArray();
                return () => adam.Step(ph, gh, clip);
            }

            case "bfloat16":
            case "bfloat16-stochastic":
            {
                var adam = new Adam(layout) { MaxDegreeOfParallelism = threads };
                BFloat16[] pb = p.Select(x => (BFloat16)x).ToArray();
                BFloat16[] gb = g.Select(x => (BFloat16)x).ToArray();
                var options = new StepOptions { StochasticRounding = path == "bfloat16-stochastic", RoundingSeed = 3 };
                return () => adam.Step(pb, gb, options);
            }

            case "half-gradients":
            {
                var adam = new Adam(layout) { MaxDegreeOfParallelism = threads };
                Half[] gh = g.Select(x => (Half)x).ToArray();
                return () => adam.Step(p, gh, clip);
            }

            case "bfloat16-state":
            {
                var adam = new Adam(layout) { MaxDegreeOfParallelism = threads };
                adam.ChangeStatePrecision(StatePrecision.BFloat16);
                return () => adam.Step(p, g, clip);
            }

            case "int8-state" or "int4-state":
            {
                // Groups with quantized tensors and float32 ones (33 and 17 elements are below the threshold).
                var adam = new Adam(layout) { MaxDegreeOfParallelism = threads };
                adam.ChangeStatePrecision(path == "int8-state" ? StatePrecision.Int8Blockwise : StatePrecision.Int4Blockwise);
                return () => adam.Step(p, g, clip);
            }

            case "group-precisions":
            {
                // A precision per group: 8-bit (with float32 tensors below the threshold) and bfloat16, per-tensor overload.
                var adam = new Adam(layout) { MaxDegreeOfParallelism = threads };
                adam.Groups[0].StatePrecision = StatePrecision.Int8Blockwise;
                adam.Groups[1].StatePrecision = StatePrecision.BFloat16;
                Memory<float>[] pt = AsMemory(Tensors(random, [.. Group0, .. Group1]));
                ReadOnlyMemory<float>[] gt = AsReadOnly(Tensors(random, [.. Group0, .. Group1], 0.1));
                return () => adam.Step(pt, gt, clip);
            }

            case "int8-state-arena":
            {
                var adam = new Adam(Total) { MaxDegreeOfParallelism = threads };
                adam.ChangeStatePrecision(StatePrecision.Int8Blockwise);
                return () => adam.Step(p, g);
            }

            case "host-state":
            {
                var nadam = new NAdam(layout) { MaxDegreeOfParallelism = threads };
                nadam.Groups[1]["Beta1"] = 0.8;
                return () => nadam.Step(p, g, clip);
            }

            case "training":
            {
                // The case: 200 tensors, 2 groups, a cosine schedule, clip + skip, bfloat16 state.
                int[] lengths = Enumerable.Range(0, 200).Select(j => 1 + ((j * 7919) % 2700)).ToArray();
                var many = new ParameterLayout(lengths[..120], lengths[120..]);
                var adam = new Adam(many) { MaxDegreeOfParallelism = threads };
                adam.SetSchedule("LearningRate", Schedule.Cosine(1e-3, 1000));
                adam.ChangeStatePrecision(StatePrecision.BFloat16);
                float[] pm = Random(random, many.TotalLength);
                float[] gm = Random(random, many.TotalLength, 0.1);
                return () => adam.Step(pm, gm, clip);
            }

            case "lamb" or "lars" or "adam-mini" or "adafactor" or "adamw-schedulefree" or "lamb-bfloat16-state" or "lamb-int8-state" or "lars-int4-state" or "adamw-schedulefree-int8-state" or "lamb-group-precisions":
            {
                // The catalog's multi-pass rules (reductions between passes), on matrices, a long vector and short
                // tensors in two groups (every SIMD tail runs; Adafactor factors the matrices, Adam-mini keeps a v per row).
                ParameterLayout shaped = ParameterLayout.FromShapes([[300, 500], [70_001], [3, 11]], [[200, 250], [17]]);
                float[] ps = Random(random, shaped.TotalLength);
                float[] gs = Random(random, shaped.TotalLength, 0.1);
                MultiPassOptimizer rule = path switch
                {
                    "lamb" or "lamb-bfloat16-state" or "lamb-int8-state" or "lamb-group-precisions" => new Lamb(shaped),
                    "lars" or "lars-int4-state" => new Lars(shaped),
                    "adam-mini" => new AdamMini(shaped),
                    "adafactor" => new Adafactor(shaped),
                    _ => new AdamWScheduleFree(shaped),
                };
                rule.MaxDegreeOfParallelism = threads;
                if (path == "lamb-bfloat16-state")
                {
                    rule.ChangeStatePrecision(StatePrecision.BFloat16);
                }

                // Multi-pass rules with blockwise state stage each unit's state in a per-thread buffer; a group of
                // its own precision runs in its own codec (BlockwiseMultiPassTests).
                if (path.EndsWith("int8-state", StringComparison.Ordinal) || path == "lars-int4-state")
                {
                    rule.ChangeStatePrecision(path == "lars-int4-state" ? StatePrecision.Int4Blockwise : StatePrecision.Int8Blockwise);
                }

                if (path == "lamb-group-precisions")
                {
                    rule.ChangeStatePrecision(StatePrecision.Int8Blockwise);
                    rule.Groups[1].StatePrecision = StatePrecision.BFloat16;
                }

                Assert.Equal(threads, ParallelUpdate.ThreadsFor((nuint)shaped.TotalLength, threads));
                return () => rule.Step(ps, gs, clip);
            }

            default:
                throw new ArgumentException(path, nameof(path));
        }
    }

    [Theory]
    [InlineData(1, -1, false)]
    [InlineData(1, 1, false)]
    [InlineData(2, 1, false)]
    [InlineData(-1, 1, false)]
    [InlineData(2, -1, true)]
    [InlineData(1, 2, true)]
    public void MaxDegreeOfParallelismHasOneMeaning(int optimizerLimit, int optionsLimit, bool usesPool)
    {
        // A schedule and clipping set: the engine before this one switched such steps to every core.
        const int length = 4 * ParallelUpdate.MinimumElementsPerThread;
        var adam = new Adam(length) { MaxDegreeOfParallelism = optimizerLimit };
        adam.SetSchedule("LearningRate", Schedule.Cosine(1e-3, 100));
        var random = new Random(5);
        float[] p = Random(random, length);
        float[] g = Random(random, length, 0.1);
        var options = new StepOptions { MaxDegreeOfParallelism = optionsLimit, MaxGradientNorm = 10 };
        adam.Step(p, g, options);
        adam.Step(p, g);

        // Work items other parts of the process complete meanwhile: take the least of several windows of 10 steps.
        // A queued item may complete well after its step returned (a revoked one still runs, and exits), so the
        // positive case counts over all windows and waits for the pool at the end.
        long least = long.MaxValue;
        long first = ThreadPool.CompletedWorkItemCount;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            long before = ThreadPool.CompletedWorkItemCount;
            for (int s = 0; s < 10; s++)
            {
                adam.Step(p, g, options);
                if (optionsLimit == -1)
                {
                    // The plain overload follows the optimizer's limit, as the options overload does when options say −1.
                    adam.Step(p, g);
                }
            }

            Thread.Sleep(5);
            least = Math.Min(least, ThreadPool.CompletedWorkItemCount - before);
        }

        if (usesPool)
        {
            long deadline = Environment.TickCount64 + 2000;
            while (ThreadPool.CompletedWorkItemCount - first < 100 && Environment.TickCount64 < deadline)
            {
                Thread.Sleep(10);
            }

            // One worker item per 2-thread kernel call or norm pass: at least 100 in 100 steps.
            long total = ThreadPool.CompletedWorkItemCount - first;
            Assert.True(total >= 100, $"2-thread steps queued only {total} work items in 100 steps");
        }
        else
        {
            Assert.Equal(0, least);
        }
    }
}
