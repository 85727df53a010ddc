using System;
using System.Collections.Generic;
using System.Linq;
using OptGen.Runtime.Tests.Conformance;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// The checks every declared rule with reductions gets, whatever its scopes (DeclaredReductionTests: tensor scope;
/// DeclaredScopeTests: row, column, block, group, global and compact state): one home for the data, the thread-count
/// independence, the allocation check and the checkpoint resume.
/// </summary>
internal static class DeclaredRuleChecks
{
    /// <summary>p₀ and gradients ~ U(−1, 1), each tensor's gradients with its own scale so the reductions differ per tensor.</summary>
    public static (float[] P0, float[][] Grads) Data(int[][] shapes, int steps, int seed)
    {
        var random = new Random(seed);
        (int Start, int Length)[] spans = TensorSpans.Of(shapes);
        int n = spans.Sum(s => s.Length);
        float[] p0 = Enumerable.Range(0, n).Select(_ => (float)((2 * random.NextDouble()) - 1)).ToArray();
        float[][] grads = new float[steps][];
        for (int t = 0; t < steps; t++)
        {
            grads[t] = new float[n];
            for (int k = 0; k < spans.Length; k++)
            {
                float scale = MathF.Pow(3, (k % 3) - 1);
                for (int i = spans[k].Start; i < spans[k].Start + spans[k].Length; i++)
                {
                    grads[t][i] = scale * (float)((2 * random.NextDouble()) - 1);
                }
            }
        }

        return (p0, grads);
    }

    /// <summary>Three steps at 1, 2 and 3 threads over <paramref name="shapes"/>: parameters and every state buffer bit for bit the same.</summary>
    public static void BitIdenticalAtOneTwoAndThreeThreads(string rule, Func<ParameterLayout, ReductionOptimizer> create, int[][] shapes)
    {
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)shapes);
        (float[] p0, float[][] grads) = Data(shapes, steps: 3, seed: 7);
        float[]? expected = null;
        float[][]? expectedState = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            ReductionOptimizer optimizer = create(layout);
            optimizer.MaxDegreeOfParallelism = threads;
            float[] p = (float[])p0.Clone();
            foreach (float[] g in grads)
            {
                optimizer.Step(p, g);
            }

            expected ??= p;
            float[][] state = StateOf(optimizer);
            expectedState ??= state;
            AssertBitwiseEqual(expected, p, $"{rule} parameters at {threads} threads");
            for (int k = 0; k < state.Length; k++)
            {
                AssertBitwiseEqual(expectedState[k], state[k], $"{rule} state {k} at {threads} threads");
            }
        }
    }

    /// <summary>After six warm-up steps, a step allocates nothing on this thread or any other, at 1 and 2 threads.</summary>
    /// <summary>
    /// Steps <paramref name="optimizer"/> and <paramref name="reference"/> (its float64 reference from the same p₀) through
    /// <paramref name="grads"/> at <paramref name="learningRate"/>: the parameters within 5e-6 (relative) at every step.
    /// Returns the parameters after the last step.
    /// </summary>
    public static float[] MatchesTheReference(string rule, ReductionOptimizer optimizer, ReductionReference reference, float[] p0, float[][] grads, double learningRate)
    {
        float[] p = (float[])p0.Clone();
        var errors = new ErrorAccumulator();
        for (int t = 0; t < grads.Length; t++)
        {
            optimizer.Step(p, grads[t]);
            reference.Take(grads[t], learningRate);
            errors.Add(ReductionReferences.ToFloat(reference.Parameters), p, t + 1);
        }

        Assert.True(errors.Passed(5e-6), $"{rule}: {errors.RelativeError:E2} at {errors.Where}");
        return p;
    }

    public static void WarmedUpStepAllocatesNothing(Func<ParameterLayout, ReductionOptimizer> create)
    {
        int[][] shapes = [[300, 170], [70_001], [17]];
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)shapes);
        var random = new Random(3);
        float[] p = Random(random, layout.TotalLength);
        float[] g = Random(random, layout.TotalLength, 1e-3);
        foreach (int threads in new[] { 1, 2 })
        {
            ReductionOptimizer optimizer = create(layout);
            optimizer.MaxDegreeOfParallelism = threads;
            for (int s = 0; s < 6; s++)
            {
                optimizer.Step(p, g);
            }

            long leastHere = long.MaxValue, leastAll = long.MaxValue;
            for (int attempt = 0; attempt < 25 && (leastHere | leastAll) != 0; attempt++)
            {
                long here = GC.GetAllocatedBytesForCurrentThread();
                long all = GC.GetTotalAllocatedBytes(precise: true);
                optimizer.Step(p, g);
                leastAll = Math.Min(leastAll, GC.GetTotalAllocatedBytes(precise: true) - all);
                leastHere = Math.Min(leastHere, GC.GetAllocatedBytesForCurrentThread() - here);
            }

            Assert.Equal(0, leastHere);
            Assert.Equal(0, leastAll);
        }
    }

    /// <summary>
    /// Two parameter groups, the second with its own learning rate <paramref name="learningRate"/>/3 (the passes read each
    /// unit's group): two steps, a checkpoint, three more steps; a fresh optimizer loaded from the checkpoint takes the
    /// same three steps to the same bits, with the group's learning rate (the hyperparameter <paramref name="learningRateName"/>) and the step count restored.
    /// </summary>
    public static void ACheckpointResumesBitForBit(string rule, Func<ParameterLayout, ReductionOptimizer> create, double learningRate, string learningRateName = "Lr")
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[24, 40], [33]], [[3, 7, 5]]);
        var random = new Random(9);
        float[] p = Random(random, layout.TotalLength);
        float[][] grads = Enumerable.Range(0, 5).Select(_ => Random(random, layout.TotalLength, 0.1)).ToArray();
        ReductionOptimizer original = create(layout);
        original.Groups[1][learningRateName] = learningRate / 3;
        original.Step(p, grads[0]);
        original.Step(p, grads[1]);
        using var checkpoint = new System.IO.MemoryStream();
        original.SaveCheckpoint(checkpoint);
        float[] resumedP = (float[])p.Clone();
        for (int t = 2; t < 5; t++)
        {
            original.Step(p, grads[t]);
        }

        ReductionOptimizer resumed = create(layout);
        checkpoint.Position = 0;
        resumed.LoadCheckpoint(checkpoint);
        Assert.Equal(learningRate / 3, resumed.Groups[1][learningRateName]);
        for (int t = 2; t < 5; t++)
        {
            resumed.Step(resumedP, grads[t]);
        }

        AssertBitwiseEqual(p, resumedP, $"{rule} after resuming");
        Assert.Equal(original.StepCount, resumed.StepCount);
    }
}
