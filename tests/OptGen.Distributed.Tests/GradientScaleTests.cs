using System;
using System.Linq;
using Xunit;

namespace OptGen.Distributed.Tests;

/// <summary>
/// A float32 sharded step multiplies the gradients by GradientScale / R in float32: a GradientScale valid alone but 0 in
/// float32 once divided by R is refused before any collective, naming GradientScale, with nothing changed (it was
/// refused only after the reduce-scatter, from the averaged options, on every rank).
/// </summary>
public class GradientScaleTests
{
    private static readonly ParameterLayout Model = new([40, 7], [24]);

    [Fact]
    public void AScaleThatTheRankCountRoundsToZeroIsRefusedBeforeAnyCollective()
    {
        var tiny = new StepOptions { GradientScale = 1e-45 }; // float32's smallest subnormal: valid, but 0 once halved
        string[] results = InProcessTests.OnRanks(2, c =>
        {
            var counting = new CountingCommunicator(c);
            var sharded = new ShardedOptimizer<Adam>(counting, Model, l => new Adam(l));
            float[] parameters = Enumerable.Range(0, Model.TotalLength).Select(i => (float)Math.Sin(i)).ToArray();
            float[] gradients = Enumerable.Range(0, Model.TotalLength).Select(i => (float)Math.Cos(i + c.Rank)).ToArray();
            float[] before = (float[])parameters.Clone();
            int collectives = counting.Calls;

            var refused = Assert.Throws<ArgumentOutOfRangeException>(() => sharded.Step(parameters, gradients, tiny));
            Assert.Equal("GradientScale", refused.ParamName);
            Assert.Contains("2 processes", refused.Message, StringComparison.Ordinal);
            Assert.Equal(collectives, counting.Calls);
            Assert.Equal(before, parameters);
            Assert.Equal(0, sharded.Local.StepCount);

            // The tensor form too, and the optimizer is usable afterwards: a scale R can divide steps as before.
            var refusedTensors = Assert.Throws<ArgumentOutOfRangeException>(() => sharded.Step(
                new[] { parameters.AsMemory(0, 40), parameters.AsMemory(40, 7), parameters.AsMemory(47, 24) },
                new[] { (ReadOnlyMemory<float>)gradients.AsMemory(0, 40), gradients.AsMemory(40, 7), gradients.AsMemory(47, 24) },
                tiny));
            Assert.Equal("GradientScale", refusedTensors.ParamName);
            Assert.Equal(collectives, counting.Calls);
            Assert.Equal(before, parameters);

            StepResult taken = sharded.Step(parameters, gradients, new StepOptions { GradientScale = 3e-45 });
            Assert.False(taken.Skipped);
            Assert.Equal(1, sharded.Local.StepCount);
            Assert.True(counting.Calls > collectives);
            return "ok";
        });
        Assert.All(results, r => Assert.Equal("ok", r));
    }
}
