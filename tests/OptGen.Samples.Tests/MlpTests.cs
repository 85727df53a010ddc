using System;
using OptGen.Samples.Training;
using Xunit;

namespace OptGen.Samples.Tests;

/// <summary>The training sample's hand-written backward pass against central finite differences in float64.</summary>
public sealed class MlpTests
{
    [Theory]
    [InlineData(LossKind.SoftmaxCrossEntropy)]
    [InlineData(LossKind.HalfSquaredError)]
    public void BackwardMatchesFiniteDifferences(LossKind loss)
    {
        var model = loss == LossKind.SoftmaxCrossEntropy ? new Mlp(loss, 2, 5, 4, 3) : new Mlp(loss, 2, 5, 4, 2);
        var parameters = new float[model.ParameterCount];
        model.Initialize(parameters, new Random(3));
        var random = new Random(4);
        for (int i = 0; i < parameters.Length; i++)
        {
            parameters[i] += (float)((random.NextDouble() - 0.5) * 0.2); // non-zero biases too
        }

        float[] input = [0.7f, -0.4f];
        float[] target = loss == LossKind.SoftmaxCrossEntropy ? [2f] : [0.3f, -1.1f];
        var gradient = new float[parameters.Length];
        model.LossAndGradient(parameters, input, target, gradient, 1f);

        // Parameters nudged by ±h in float32; the loss difference in float64. h = 1e-2 keeps float32 rounding
        // (~1e-7 relative) well below the O(h²) truncation error, both far below the tolerance.
        const float H = 1e-2f;
        for (int i = 0; i < parameters.Length; i++)
        {
            float saved = parameters[i];
            parameters[i] = saved + H;
            double plus = model.LossAndGradient(parameters, input, target, [], 0);
            parameters[i] = saved - H;
            double minus = model.LossAndGradient(parameters, input, target, [], 0);
            parameters[i] = saved;
            double numeric = (plus - minus) / ((double)(saved + H) - (saved - H));
            Assert.True(Math.Abs(numeric - gradient[i]) <= 2e-3 * Math.Max(1, Math.Abs(numeric)), $"parameter {i}: backward {gradient[i]}, finite difference {numeric}");
        }
    }

    [Fact]
    public void GradientAccumulatesScaled()
    {
        var model = new Mlp(LossKind.HalfSquaredError, 1, 3, 1);
        var parameters = new float[model.ParameterCount];
        model.Initialize(parameters, new Random(1));
        var once = new float[parameters.Length];
        var twiceHalf = new float[parameters.Length];
        model.LossAndGradient(parameters, [0.5f], [1f], once, 1f);
        model.LossAndGradient(parameters, [0.5f], [1f], twiceHalf, 0.5f);
        model.LossAndGradient(parameters, [0.5f], [1f], twiceHalf, 0.5f);
        for (int i = 0; i < once.Length; i++)
        {
            Assert.Equal(once[i], twiceHalf[i], 6);
        }
    }

    [Fact]
    public void SpiralsAreBalancedAndBounded()
    {
        Dataset data = Datasets.TwoSpirals(200, seed: 1);
        Assert.Equal(400, data.Count);
        int ones = 0;
        for (int i = 0; i < data.Count; i++)
        {
            ones += (int)data.Target(i)[0];
            Assert.InRange(Math.Abs(data.Input(i)[0]), 0, 1.3);
        }

        Assert.Equal(200, ones);
    }
}
