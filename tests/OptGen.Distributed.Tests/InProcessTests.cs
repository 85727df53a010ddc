using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using OptGen.Distributed;
using Xunit;

namespace OptGen.Distributed.Tests;

/// <summary>The sharded optimizer on the in-process group: every rank a thread, sums in rank order.</summary>
public class InProcessTests
{
    /// <summary>Runs <paramref name="body"/> on R threads, one per member, and returns each rank's result.</summary>
    internal static T[] OnRanks<T>(int ranks, Func<ICommunicator, T> body)
    {
        ICommunicator[] members = InProcessGroup.Create(ranks);
        Task<T>[] tasks = members.Select(m => Task.Factory.StartNew(() => body(m), TaskCreationOptions.LongRunning)).ToArray();
        Task.WaitAll(tasks, TimeSpan.FromSeconds(60));
        return tasks.Select(t => t.Result).ToArray();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void ShardedStepsMatchOneProcessOnTheAveragedGradient(int ranks)
    {
        Dictionary<string, string>[] facts = OnRanks(ranks, Scenario.Run);
        Checks.Train(facts, ranks);
    }

    [Fact]
    public void CutsFallOnTensorRelative16ElementBoundariesAndCoverTheArena()
    {
        ParameterLayout layout = Scenario.Model();
        for (int ranks = 1; ranks <= 9; ranks++)
        {
            int[] cuts = Engine.ShardLayout.Cuts(layout, ranks);
            Assert.Equal(0, cuts[0]);
            Assert.Equal(layout.TotalLength, cuts[^1]);
            for (int r = 1; r < ranks; r++)
            {
                Assert.True(cuts[r] >= cuts[r - 1]);
                int j = Enumerable.Range(0, layout.TensorCount).Last(t => layout.ArenaOffsetOf(t) <= cuts[r]);
                Assert.True((cuts[r] - layout.ArenaOffsetOf(j)) % 16 == 0 || cuts[r] == layout.ArenaOffsetOf(j) + layout.LengthOf(j), $"R={ranks} cut {r} at {cuts[r]}");
            }

            ParameterLayout[] shards = Enumerable.Range(0, ranks).Select(r => Engine.ShardLayout.Restrict(layout, cuts[r], cuts[r + 1] - cuts[r])).ToArray();
            for (int j = 0; j < layout.TensorCount; j++)
            {
                Assert.Equal(layout.LengthOf(j), shards.Sum(s => s.LengthOf(j)));
            }
        }
    }

    [Fact]
    public void MoreRanksThanBlocksLeavesEmptyShardsThatStillStep()
    {
        var layout = new ParameterLayout(new[] { 20 });
        var results = OnRanks(4, c =>
        {
            var sharded = new ShardedOptimizer<Sgd>(c, layout, l => new Sgd(l) { LearningRate = 0.5 });
            var p = new float[20];
            var g = new float[20];
            g.AsSpan().Fill(1);
            sharded.Step(p, g, new StepOptions { MaxGradientNorm = 100 });
            return (sharded.ShardLength, p);
        });
        Assert.Equal(20, results.Sum(r => r.ShardLength));
        Assert.Contains(results, r => r.ShardLength == 0);
        foreach (var r in results)
        {
            Assert.All(r.p, v => Assert.Equal(-0.5f, v)); // SGD: p − lr × mean(g) = −0.5 on every rank
        }
    }

    [Theory]
    [InlineData("layout")]
    [InlineData("rule")]
    public void MismatchedLayoutsOrRulesFailOnEveryRank(string mode)
    {
        Dictionary<string, string>[] facts = OnRanks(3, c => Scenario.RunMismatch(c, mode));
        Assert.All(facts, f => Assert.Equal("detected", f["mismatch"]));
    }

    [Fact]
    public void AveragedOptionsCopyEveryPublicSetting()
    {
        var options = new StepOptions
        {
            GradientScale = 0.25, MaxGradientNorm = 3, SkipNonFinite = true, StochasticRounding = true,
            RoundingSeed = 7, ComputeGradientNorm = true, MaxDegreeOfParallelism = 2,
        };
        StepOptions averaged = OnRanks(2, c => new ShardedOptimizer<Sgd>(c, ParameterLayout.Single(64), l => new Sgd(l)).Averaged(options))[0];
        foreach (System.Reflection.PropertyInfo property in typeof(StepOptions).GetProperties().Where(p => p.GetMethod!.IsPublic && !p.GetMethod.IsStatic))
        {
            object? expected = property.Name == nameof(StepOptions.GradientScale) ? 0.125 : property.GetValue(options);
            Assert.Equal(expected, property.GetValue(averaged));
        }
    }
}

/// <summary>The checks on one run's facts, shared by the in-process and the mpirun tests.</summary>
internal static class Checks
{
    internal static void Train(Dictionary<string, string>[] facts, int ranks)
    {
        Assert.Equal(ranks, facts.Length);

        // Every rank ends with the same parameters, clip decision and skip decision.
        foreach (string key in new[] { "parameters", "clip_factor", "clip_norm", "clip_parameters", "skip" })
        {
            Assert.All(facts, f => Assert.Equal(facts[0][key], f[key]));
        }

        if (ranks <= 2)
        {
            // Two summands: the float32 sum is the same in any order, so the result is bit-identical.
            Assert.All(facts, f => Assert.Equal("0", f["bitwise_mismatches"]));
        }

        Assert.All(facts, f => Assert.True(double.Parse(f["max_relative"], CultureInfo.InvariantCulture) <= 1e-6, f["max_relative"]));
        Assert.NotEqual(BitConverter.DoubleToInt64Bits(1.0).ToString("x16", CultureInfo.InvariantCulture), facts[0]["clip_factor"]);
        Assert.All(facts, f => Assert.Equal("skipped=True nonfinite=True unchanged=True", f["skip"]));
        Assert.All(facts, f => Assert.Equal("True", f["restart_same"]));

        // State per rank ≈ 1/R of one process's: per state plane at most one cut granule (cuts are rounded down to
        // 256-element boundaries of their tensor) and one 16-element pad per tensor more.
        long single = long.Parse(facts[0]["single_state_bytes"], CultureInfo.InvariantCulture);
        Assert.Equal(2L * 3664 * sizeof(float), single); // Adam: 2 planes × Σ ceil16(length) float32
        long slack = 2L * (Engine.ShardLayout.CutGranule + (6 * 16)) * sizeof(float);
        Assert.All(facts, f => Assert.True(long.Parse(f["state_bytes"], CultureInfo.InvariantCulture) <= (single / ranks) + slack, f["state_bytes"]));
    }
}
