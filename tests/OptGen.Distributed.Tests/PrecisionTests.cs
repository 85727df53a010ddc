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
        _ = SixteenBit(ranks, f => (Half)f, h => (float)h, (o, p, g) => o.Step(p, g), (o, p, g) => o.Step(p, g));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void BFloat16ParametersAndGradientsStepAsOneProcessOnTheAveragedGradient(int ranks) =>
        _ = SixteenBit(ranks, f => (BFloat16)f, b => (float)b, (o, p, g) => o.Step(p, g), (o, p, g) => o.Step(p, g));

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

    [Theory]
    [InlineData(2, StatePrecision.Int8Blockwise)]
    [InlineData(3, StatePrecision.Int8Blockwise)]
    [InlineData(2, StatePrecision.Int4Blockwise)]
    [InlineData(3, StatePrecision.Int4Blockwise)]
    public void BlockwiseStateStepsAsOneProcessAndSplitsItsBlocks(int ranks, StatePrecision precision)
    {
        // Cuts fall on block boundaries, and a shard quantizes by the whole tensor's length: a shard's part of a
        // tensor shorter than 4096 elements is still quantized where one process quantizes it.
        ParameterLayout layout = Scenario.BlockwiseModel();
        int[] cuts = Engine.ShardLayout.Cuts(layout, ranks);
        Assert.Contains(Enumerable.Range(0, ranks), r => Engine.ShardLayout.Restrict(layout, cuts[r], cuts[r + 1] - cuts[r]) is var shard &&
            Enumerable.Range(0, shard.TensorCount).Any(j => shard.LengthOf(j) is > 0 and < Optimizer.BlockwiseThreshold && layout.LengthOf(j) >= Optimizer.BlockwiseThreshold));
        int n = layout.TotalLength;
        Adam single = Scenario.Create(layout);
        single.ChangeStatePrecision(precision);
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
            sharded.Local.ChangeStatePrecision(precision);
            var p = new float[n];
            Scenario.InitialParameters(p);
            var mine = new float[n];
            for (int step = 1; step <= Steps; step++)
            {
                Scenario.Gradient(c.Rank, step, mine);
                sharded.Step(p, mine, new StepOptions { MaxDegreeOfParallelism = 2 });
            }

            return (Parameters: p, sharded.StateBytes, sharded.UnshardedStateBytes);
        });
        Assert.All(results, r => Assert.Equal(reference, r.Parameters));

        // Whole blocks per shard: the shards' state adds up to one process's, byte for byte.
        Assert.Equal(results.Sum(r => r.StateBytes), results[0].UnshardedStateBytes);
        Assert.Equal(single.StateBytesPerParameter * n, results[0].UnshardedStateBytes, 6);
    }

    [Theory]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(2, true)]
    [InlineData(3, true)]
    public void StochasticRoundingOfBFloat16ParametersDrawsOneProcesssBitsOnEveryShard(int ranks, bool bfloat16State)
    {
        // A tensor longer than a 16,384-element work piece, so the shards' cuts (and their pieces) fall inside the
        // single process's pieces; the reference steps on one thread, the shards on up to 4 each.
        var layout = new ParameterLayout(new[] { 40_000, 37 }, new[] { 20_003, 3 });
        var one = new StepOptions { StochasticRounding = true, RoundingSeed = 11, MaxDegreeOfParallelism = 1 };
        var many = new StepOptions { StochasticRounding = true, RoundingSeed = 11, MaxDegreeOfParallelism = 4 };
        Assert.Contains(Enumerable.Range(1, ranks - 1), r => Engine.ShardLayout.Cuts(layout, ranks)[r] % 16384 != 0);
        ushort[] stochastic = SixteenBit(ranks, f => (BFloat16)f, b => (float)b, (o, p, g) => o.Step(p, g, one), (o, p, g) => o.Step(p, g, many), layout, bfloat16State);

        // The same run rounded to nearest differs: the noise rounded some elements the other way.
        ushort[] nearest = SixteenBit(ranks, f => (BFloat16)f, b => (float)b, (o, p, g) => o.Step(p, g), (o, p, g) => o.Step(p, g), layout, bfloat16State);
        Assert.NotEqual(nearest, stochastic);
    }

    /// <summary>
    /// Steps R shards (threads) and one plain optimizer on the averaged 16-bit gradient for <see cref="Steps"/> steps,
    /// asserts every shard's parameters equal the plain optimizer's bit for bit, and returns those bits.
    /// </summary>
    private static ushort[] SixteenBit<T>(int ranks, Func<float, T> narrow, Func<T, float> widen, PlainStep<T> plain, ShardedStep<T> sharded, ParameterLayout? model = null, bool bfloat16State = false)
        where T : unmanaged
    {
        ParameterLayout layout = model ?? Scenario.Model();
        int n = layout.TotalLength;
        var initial = new float[n];
        Scenario.InitialParameters(initial);

        // The reference: one process, on the averaged gradient rounded to T.
        Adam single = Scenario.Create(layout);
        if (bfloat16State)
        {
            single.ChangeStatePrecision(StatePrecision.BFloat16);
        }

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
            if (bfloat16State)
            {
                optimizer.Local.ChangeStatePrecision(StatePrecision.BFloat16);
            }

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
        return Bits(reference);
    }

    private static ushort[] Bits<T>(T[] values)
        where T : unmanaged => MemoryMarshal.Cast<T, ushort>(values.AsSpan()).ToArray();
}
