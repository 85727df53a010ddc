using System;
using System.Linq;
using OptGen.Distributed;
using Xunit;

namespace OptGen.Distributed.Tests;

/// <summary>Stochastic gradient Langevin dynamics: one <c>randn()</c> per element and step.</summary>
[Optimizer(Name = "test.sgld")]
[Hyperparameter("LearningRate", 0.01, Range = HyperparameterRange.NonNegative)]
[Hyperparameter("Temperature", 1.0, Range = HyperparameterRange.NonNegative)]
[Hyperparameter("Seed", 0.0, Range = HyperparameterRange.NonNegative)]
[Update("p = p - LearningRate * g + sqrt(2 * LearningRate * Temperature) * randn()")]
public sealed partial class Sgld;

/// <summary>
/// A rule that draws <c>randn()</c> draws by the element's index in the whole model, so every shard draws the numbers
/// one process draws for those elements (not the same numbers on every shard).
/// </summary>
public class RandomTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void ShardsDrawTheSingleProcessNoise(int ranks)
    {
        ParameterLayout layout = Scenario.Model();
        int n = layout.TotalLength;
        Sgld Create(ParameterLayout l) => new(l) { LearningRate = 1e-3, Temperature = 0.5, Seed = 17 };

        // One process on the rank-order float32 sum of the ranks' gradients with factor 1/R.
        Sgld single = Create(layout);
        var reference = new float[n];
        Scenario.InitialParameters(reference);
        var sum = new float[n];
        var scratch = new float[n];
        for (int step = 1; step <= 5; step++)
        {
            Scenario.SumOfRanks(ranks, step, sum, scratch);
            single.Step(reference, sum, new StepOptions { GradientScale = 1.0 / ranks });
        }

        float[][] results = InProcessTests.OnRanks(ranks, c =>
        {
            var sharded = new ShardedOptimizer<Sgld>(c, layout, Create);
            var p = new float[n];
            Scenario.InitialParameters(p);
            var g = new float[n];
            for (int step = 1; step <= 5; step++)
            {
                Scenario.Gradient(c.Rank, step, g);
                sharded.Step(p, g);
            }

            return p;
        });

        Assert.All(results, p => Assert.Equal(reference.Select(BitConverter.SingleToInt32Bits), p.Select(BitConverter.SingleToInt32Bits)));
    }
}
