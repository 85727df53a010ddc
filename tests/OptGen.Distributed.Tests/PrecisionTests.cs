using System;
using System.Linq;
using System.Runtime.InteropServices;
using OptGen.Distributed;
using Xunit;

namespace OptGen.Distributed.Tests;

/// <summary>
/// 16-bit parameters and gradients, and bfloat16 state, on the in-process group (sums in rank order), against one
/// plain optimizer stepping on the averaged gradient as the sharded step defines it: the float32 sum of the ranks'
/// widened 16-bit gradients in rank order, divided by R in float32, rounded to the 16-bit type.
/// </summary>
public class PrecisionTests
{
    private const int Steps = 20;

    private delegate StepResult PlainStep<T>(Adam optimizer, Span<T> parameters, ReadOnlySpan<T> gradients);

    private delegate StepResult ShardedStep<T>(ShardedOptimizer<Adam> optimizer, Span<T> parameters, ReadOnlySpan<T> gradients);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void HalfParametersAndGradientsStepAsOneProcessOnTheAveragedGradient(int ranks) =>
        SixteenBit(ranks, f => (Half)f, h => (float)h, (o, p, g) => o.Step(p, g), (o, p, g) => o.Step(p, g));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void BFloat16ParametersAndGradientsStepAsOneProcessOnTheAveragedGradient(int ranks) =>
        SixteenBit(ranks, f => (BFloat16)f, b => (float)b, (o, p, g) => o.Step(p, g), (o, p, g) => o.Step(p, g));

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void BFloat16StateStepsAsOneProcessAndHalvesTheShardsState(int ranks)
    {
        ParameterLayout layout = Scenario.Model();
        int n = layout.TotalLength;
        Adam single = Scenario.Create(layout);
        single.ChangeStatePrecision(StatePrecision.BFloat16);
        var reference = new float[n];
        Scenario.InitialParameters(reference);
        var g = new float[n];
        var sum = new float[n];
        for (int step = 1; step <= Steps; step++)
        {
            Scenario.SumOfRanks(ranks, step, sum, g);
            single.Step(reference, sum, new StepOptions { GradientScale = 1.0 / ranks });
        }

        var results = InProcessTests.OnRanks(ranks, c =>
        {
            var sharded = new ShardedOptimizer<Adam>(c, layout, Scenario.Create);
            long float32Bytes = sharded.StateBytes;
            sharded.Local.ChangeStatePrecision(StatePrecision.BFloat16);
            var p = new float[n];
            Scenario.InitialParameters(p);
            var mine = new float[n];
            for (int step = 1; step <= Steps; step++)
            {
                Scenario.Gradient(c.Rank, step, mine);
                sharded.Step(p, mine);
            }

            return (Parameters: p, Float32Bytes: float32Bytes, sharded.StateBytes);
        });
        var initial = new float[n];
        Scenario.InitialParameters(initial);
        Assert.NotEqual(initial, reference);
        Assert.All(results, r => Assert.Equal(reference, r.Parameters));
        Assert.All(results, r => Assert.Equal(r.Float32Bytes, 2 * r.StateBytes));
    }

    private static void SixteenBit<T>(int ranks, Func<float, T> narrow, Func<T, float> widen, PlainStep<T> plain, ShardedStep<T> sharded)
        where T : unmanaged
    {
        ParameterLayout layout = Scenario.Model();
        int n = layout.TotalLength;
        var initial = new float[n];
        Scenario.InitialParameters(initial);

        // The reference: one process, on the averaged gradient rounded to T.
        Adam single = Scenario.Create(layout);
        T[] reference = initial.Select(narrow).ToArray();
        var g = new float[n];
        var sum = new float[n];
        var averaged = new T[n];
        for (int step = 1; step <= Steps; step++)
        {
            Array.Clear(sum);
            for (int r = 0; r < ranks; r++)
            {
                Scenario.Gradient(r, step, g);
                for (int i = 0; i < n; i++)
                {
                    sum[i] += widen(narrow(g[i]));
                }
            }

            for (int i = 0; i < n; i++)
            {
                averaged[i] = narrow(sum[i] / ranks);
            }

            plain(single, reference, averaged);
        }

        ushort[][] results = InProcessTests.OnRanks(ranks, c =>
        {
            var optimizer = new ShardedOptimizer<Adam>(c, layout, Scenario.Create);
            T[] p = initial.Select(narrow).ToArray();
            var mine = new float[n];
            var mine16 = new T[n];
            for (int step = 1; step <= Steps; step++)
            {
                Scenario.Gradient(c.Rank, step, mine);
                for (int i = 0; i < n; i++)
                {
                    mine16[i] = narrow(mine[i]);
                }

                sharded(optimizer, p, mine16);
            }

            return Bits(p);
        });

        Assert.NotEqual(Bits(initial.Select(narrow).ToArray()), Bits(reference));
        Assert.All(results, bits => Assert.Equal(Bits(reference), bits));
    }

    private static ushort[] Bits<T>(T[] values)
        where T : unmanaged => MemoryMarshal.Cast<T, ushort>(values.AsSpan()).ToArray();
}
