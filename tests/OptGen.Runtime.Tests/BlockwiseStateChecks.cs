using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// The checks shared by the blockwise-state tests of the multi-pass rules (<see cref="BlockwiseMultiPassTests"/>) and
/// of the rules with compact state (<see cref="BlockwiseCompactStateTests"/>): runs on seeded data, thread-count
/// independence, bit-identical resuming, per-group precisions against separate optimizers, and bitsandbytes' accuracy
/// protocol. One copy; the callers choose the rules, layouts, precisions and bounds.
/// </summary>
internal static class BlockwiseStateChecks
{
    public static byte[] Checkpoint(Optimizer optimizer)
    {
        var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }

    /// <summary>
    /// A fresh optimizer from <paramref name="create"/> with <paramref name="threads"/> threads and the given
    /// precision, <paramref name="steps"/> steps on seeded data (seed 6): the parameters and the checkpoint.
    /// </summary>
    public static (float[] P, byte[] Checkpoint) Run(Func<ParameterLayout, Optimizer> create, ParameterLayout layout, Action<Optimizer> precision, int threads, int steps)
    {
        Optimizer optimizer = create(layout);
        optimizer.MaxDegreeOfParallelism = threads;
        precision(optimizer);
        var random = new Random(6);
        float[] p = Random(random, layout.TotalLength, 0.1);
        for (int t = 0; t < steps; t++)
        {
            optimizer.Step(p, Random(random, layout.TotalLength, 0.01));
        }

        return (p, Checkpoint(optimizer));
    }

    /// <summary>For every precision: 1, 2 and 3 threads give the same parameters and the same checkpoint, bit for bit.</summary>
    public static void AssertEveryThreadCountGivesTheSameBits(string rule, Func<ParameterLayout, Optimizer> create, ParameterLayout layout, IEnumerable<Action<Optimizer>> precisions)
    {
        foreach (Action<Optimizer> precision in precisions)
        {
            (float[] P, byte[] Checkpoint)[] runs = [.. new[] { 1, 2, 3 }.Select(threads => Run(create, layout, precision, threads, steps: 3))];
            for (int k = 1; k < runs.Length; k++)
            {
                AssertBitwiseEqual(runs[0].P, runs[k].P, $"{rule}: parameters with {k + 1} threads");
                Assert.Equal(runs[0].Checkpoint, runs[k].Checkpoint);
            }
        }
    }

    /// <summary>
    /// Four steps, a checkpoint, a fresh optimizer of the same precision loads it (and saves the same bytes), then four
    /// more steps on each: the same parameters and checkpoints, bit for bit. Returns the checkpoint after four steps.
    /// </summary>
    public static byte[] AssertResumingIsBitIdentical(string rule, Func<ParameterLayout, Optimizer> create, ParameterLayout layout, Action<Optimizer> precision)
    {
        var random = new Random(3);
        float[] p = Random(random, layout.TotalLength, 0.1);
        float[][] g = [.. Enumerable.Range(0, 8).Select(_ => Random(random, layout.TotalLength, 0.01))];
        Optimizer original = create(layout);
        precision(original);
        for (int t = 0; t < 4; t++)
        {
            original.Step(p, g[t]);
        }

        byte[] saved = Checkpoint(original);
        float[] resumedP = (float[])p.Clone();
        Optimizer resumed = create(layout);
        precision(resumed);
        resumed.LoadCheckpoint(new MemoryStream(saved));
        Assert.Equal(saved, Checkpoint(resumed));
        for (int t = 4; t < 8; t++)
        {
            original.Step(p, g[t]);
            resumed.Step(resumedP, g[t]);
        }

        AssertBitwiseEqual(p, resumedP, $"{rule}: parameters after resuming");
        Assert.Equal(Checkpoint(original), Checkpoint(resumed));
        return saved;
    }

    /// <summary>
    /// <paramref name="steps"/> steps of one optimizer over <paramref name="p"/> and of each separate optimizer over its
    /// part (<paramref name="parts"/>[k], at <paramref name="starts"/>[k], <paramref name="lengths"/>[k] long), with the
    /// same gradients (scale 0.01 from <paramref name="random"/>).
    /// </summary>
    public static void StepWholeAndParts(Optimizer whole, float[] p, Optimizer[] separate, float[][] parts, int[] starts, int[] lengths, Random random, int steps)
    {
        for (int t = 0; t < steps; t++)
        {
            float[] g = Random(random, p.Length, 0.01);
            whole.Step(p, g);
            for (int k = 0; k < separate.Length; k++)
            {
                separate[k].Step(parts[k], g.AsSpan(starts[k], lengths[k]));
            }
        }
    }

    /// <summary>
    /// Two optimizers of one layout from the same seeded parameters (scale 0.1), <paramref name="steps"/> steps with the
    /// same gradients (scale 0.01): each one's parameters.
    /// </summary>
    public static (float[] First, float[] Second) StepBoth(Optimizer first, Optimizer second, int seed, int steps)
    {
        int n = first.Layout.TotalLength;
        var random = new Random(seed);
        float[] p = Random(random, n, 0.1);
        float[] q = (float[])p.Clone();
        for (int t = 0; t < steps; t++)
        {
            float[] g = Random(random, n, 0.01);
            first.Step(p, g);
            second.Step(q, g);
        }

        return (p, q);
    }

    /// <summary>
    /// bitsandbytes' protocol (test_optimizer8bit) over 100 steps on seeded data (seed 11): before each step
    /// <paramref name="reference"/> takes the quantized run's parameters (as double) and the gradient and steps them
    /// in double from its state as it is then; the worst one-step mean absolute and relative differences of
    /// <paramref name="quantized"/> from it, and the free-running mean differences of <paramref name="quantized"/>
    /// from <paramref name="full"/> (float32 state) after the 100 steps.
    /// </summary>
    public static (double WorstAbsolute, double WorstRelative, double Drift, double RelativeDrift) BitsandbytesProtocol(
        Optimizer quantized, Optimizer full, Action<double[], double[], int> reference)
    {
        int n = quantized.Layout.TotalLength;
        var random = new Random(11);
        float[] p = Random(random, n, 0.1);
        float[] q = (float[])p.Clone();
        double worstAbsolute = 0, worstRelative = 0;
        for (int t = 1; t <= 100; t++)
        {
            float[] g = Random(random, n, 0.01);
            double[] expected = [.. q.Select(x => (double)x)];
            reference(expected, [.. g.Select(x => (double)x)], t);
            full.Step(p, g);
            quantized.Step(q, g);
            (double error, double relative) = MeanDifference(expected, q);
            worstAbsolute = Math.Max(worstAbsolute, error);
            worstRelative = Math.Max(worstRelative, relative);
        }

        (double drift, double relativeDrift) = MeanDifference(p, q);
        return (worstAbsolute, worstRelative, drift, relativeDrift);
    }
}
