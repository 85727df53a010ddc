using System;
using System.Linq;
using OptGen.Distributed;
using Xunit;

namespace OptGen.Distributed.Tests;

/// <summary>What a shard cannot do yet is refused up front, on every rank, with nothing changed.</summary>
public class UnsupportedStateTests
{
    [Fact]
    public void RulesWithReductionsAreRefusedAtConstruction()
    {
        ParameterLayout layout = ParameterLayout.Single(20_000);
        string[] messages = InProcessTests.OnRanks(2, c =>
            Assert.Throws<ArgumentException>(() => new ShardedOptimizer<Lamb>(c, layout, l => new Lamb(l))).Message);
        Assert.All(messages, m => Assert.Contains("cannot be sharded", m, StringComparison.Ordinal));
    }

    [Fact]
    public void AGroupOfItsOwnStatePrecisionIsRefusedBeforeAnyCollectiveAndChangesNothing()
    {
        ParameterLayout layout = new(new[] { 20_000 }, new[] { 5000 });
        bool[] unchanged = InProcessTests.OnRanks(2, c =>
        {
            var sharded = new ShardedOptimizer<Adam>(c, layout, l => new Adam(l));
            sharded.Local.Groups[1].StatePrecision = StatePrecision.Int8Blockwise;
            float[] parameters = Enumerable.Range(0, layout.TotalLength).Select(i => MathF.Sin(i)).ToArray();
            float[] before = (float[])parameters.Clone();
            float[] gradients = Enumerable.Range(0, layout.TotalLength).Select(i => MathF.Cos(i)).ToArray();
            Assert.Contains("its own StatePrecision", Assert.Throws<NotSupportedException>(() => sharded.Step(parameters, gradients)).Message, StringComparison.Ordinal);
            return parameters.AsSpan().SequenceEqual(before) && sharded.Local.StepCount == 0;
        });
        Assert.All(unchanged, Assert.True);
    }
}
