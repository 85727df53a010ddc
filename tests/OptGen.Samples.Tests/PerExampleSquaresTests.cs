using System;
using OptGen.Samples.Training;
using Xunit;

namespace OptGen.Samples.Tests;

/// <summary>
/// The sample MLP's batch gradient and per-example squares by the BackPACK product (δ∘δ)ᵀ(x∘x), against the brute
/// force: each example's own gradient from the per-example backward pass, squared and averaged in float64.
/// </summary>
public sealed class PerExampleSquaresTests
{
    [Theory]
    [InlineData(LossKind.SoftmaxCrossEntropy, 1)]
    [InlineData(LossKind.SoftmaxCrossEntropy, 7)]
    [InlineData(LossKind.HalfSquaredError, 16)]
    public void TheBackPackProductEqualsThePerExampleSquares(LossKind loss, int batchSize)
    {
        Dataset data = loss == LossKind.SoftmaxCrossEntropy ? Datasets.TwoSpirals(100, seed: 5) : Datasets.Wave(100, seed: 6);
        var model = loss == LossKind.SoftmaxCrossEntropy ? new Mlp(loss, 2, 6, 5, 2) : new Mlp(loss, 1, 6, 5, 1);
        var parameters = new float[model.ParameterCount];
        model.Initialize(parameters, new Random(7));
        var random = new Random(8);
        for (int i = 0; i < parameters.Length; i++)
        {
            parameters[i] += (float)((random.NextDouble() - 0.5) * 0.2);
        }

        int[] batch = new int[batchSize];
        for (int b = 0; b < batchSize; b++)
        {
            batch[b] = random.Next(data.Count);
        }

        var gradient = new float[parameters.Length];
        var squares = new float[parameters.Length];
        gradient.AsSpan().Fill(float.NaN); // overwritten, not accumulated
        squares.AsSpan().Fill(float.NaN);
        double meanLoss = model.BatchGradient(parameters, data, batch, gradient, squares);

        // Brute force: one gradient per example.
        var sum = new double[parameters.Length];
        var sumOfSquares = new double[parameters.Length];
        double lossSum = 0;
        var single = new float[parameters.Length];
        foreach (int i in batch)
        {
            Array.Clear(single);
            lossSum += model.LossAndGradient(parameters, data.Input(i), data.Target(i), single, 1f);
            for (int k = 0; k < single.Length; k++)
            {
                sum[k] += single[k];
                sumOfSquares[k] += (double)single[k] * single[k];
            }
        }

        Assert.Equal(lossSum / batchSize, meanLoss, 6);
        double scaleG = 1e-12, scaleS = 1e-12;
        for (int k = 0; k < parameters.Length; k++)
        {
            scaleG = Math.Max(scaleG, Math.Abs(sum[k] / batchSize));
            scaleS = Math.Max(scaleS, sumOfSquares[k] / batchSize);
        }

        for (int k = 0; k < parameters.Length; k++)
        {
            double g = sum[k] / batchSize, s = sumOfSquares[k] / batchSize;
            Assert.True(Math.Abs(gradient[k] - g) <= 1e-5 * scaleG, $"gradient {k}: {gradient[k]} vs {g}");
            Assert.True(Math.Abs(squares[k] - s) <= 1e-5 * scaleS, $"squares {k}: {squares[k]} vs {s}");

            // A mean of squares is at least the square of the mean (equal for B = 1).
            Assert.True(squares[k] >= (gradient[k] * gradient[k] * (1 - 1e-4)) - (1e-6 * scaleS), $"squares {k} below g²");
        }
    }
}
