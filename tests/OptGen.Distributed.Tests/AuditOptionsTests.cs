using System;
using System.Linq;
using System.Reflection;
using Xunit;

namespace OptGen.Distributed.Tests;

/// <summary>SGD with its learning rate per example (η = B·η′): a step reads the batch size.</summary>
[Optimizer]
[LearningRate(0.01, Units = BatchUnits.PerExample)]
public partial class PerExampleSgd;

/// <summary>Adam averaging the batch mean of per-example squared gradients: its steps take the squares beside the gradients.</summary>
[Optimizer]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999, Input = SecondMomentInput.PerExampleSquares)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
public partial class SquaresAdam;

/// <summary>
/// The options a sharded float32 step hands its shard: its own copy of StepOptions' fields had lost
/// <see cref="StepOptions.BatchSize"/>, so a step's batch size was silently replaced by <see cref="Optimizer.BatchSize"/>.
/// </summary>
public class AuditOptionsTests
{
    private static readonly ParameterLayout Model = new([40, 7], [24]);

    [Fact]
    public void TheAveragedOptionsKeepEveryOptionButTheScale()
    {
        var template = new StepOptions
        {
            GradientScale = 0.25,
            MaxGradientNorm = 5,
            SkipNonFinite = true,
            ComputeGradientNorm = true,
            MaxDegreeOfParallelism = 3,
            StochasticRounding = true,
            RoundingSeed = 77,
            BatchSize = 64,
        };
        PropertyInfo[] options = typeof(StepOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance);
        foreach (PropertyInfo option in options)
        {
            Assert.NotEqual(option.GetValue(StepOptions.Default), option.GetValue(template));
        }

        InProcessTests.OnRanks(2, c =>
        {
            var sharded = new ShardedOptimizer<Adam>(c, Model, l => new Adam(l));
            StepOptions averaged = sharded.Averaged(template);
            foreach (PropertyInfo option in options.Where(o => o.Name != nameof(StepOptions.GradientScale)))
            {
                Assert.True(Equals(option.GetValue(template), option.GetValue(averaged)), $"{option.Name}: {option.GetValue(averaged)}, the step's options have {option.GetValue(template)}");
            }

            Assert.Equal(0.125, averaged.GradientScale);
            return 0;
        });
    }

    [Fact]
    public void AShardedStepTakesTheBatchSizeOfItsOptions()
    {
        float[][] byOptions = InProcessTests.OnRanks(2, c => Train(c, sharded => new StepOptions { BatchSize = 8 }));
        float[][] byProperty = InProcessTests.OnRanks(2, c => Train(c, sharded =>
        {
            sharded.Local.BatchSize = 8;
            return null;
        }));
        float[][] unbatched = InProcessTests.OnRanks(2, c => Train(c, _ => null));
        Assert.Equal(byProperty[0], byOptions[0]);
        Assert.Equal(byOptions[0], byOptions[1]);
        Assert.NotEqual(unbatched[0], byOptions[0]);
    }

    /// <summary>
    /// A sharded step has no per-example squares to pass: a rule that reads them is refused where the sharded
    /// optimizer is made, as a rule with reductions is, rather than by every step after its reduce-scatter.
    /// </summary>
    [Fact]
    public void ARuleThatReadsPerExampleSquaresIsRefusedWhenMade()
    {
        ArgumentException[] refused = InProcessTests.OnRanks(2, c => Assert.Throws<ArgumentException>(() => new ShardedOptimizer<SquaresAdam>(c, Model, l => new SquaresAdam(l))));
        Assert.All(refused, e => Assert.Equal("create", e.ParamName));
        Assert.All(refused, e => Assert.Contains("per-example squared gradients", e.Message, System.StringComparison.Ordinal));
    }

    private static float[] Train(ICommunicator communicator, System.Func<ShardedOptimizer<PerExampleSgd>, StepOptions?> prepare)
    {
        var sharded = new ShardedOptimizer<PerExampleSgd>(communicator, Model, l => new PerExampleSgd(l));
        StepOptions? options = prepare(sharded);
        float[] p = Enumerable.Range(0, Model.TotalLength).Select(i => 1f + (i * 0.01f)).ToArray();
        float[] g = Enumerable.Range(0, Model.TotalLength).Select(i => ((i * 7) % 11) - 5f + communicator.Rank).ToArray();
        sharded.Step(p, g, options);
        return p;
    }
}
