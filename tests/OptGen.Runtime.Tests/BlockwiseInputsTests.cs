using System;
using System.Linq;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>Blockwise (8-bit, 4-bit) state together with the per-example squares beside g.</summary>
public class BlockwiseInputsTests
{
    /// <summary>
    /// Adam over per-example squares given gsq = g² is Adam up to rounding ((1 − β₂)·gsq against ((1 − β₂)·g)·g): with
    /// the same blockwise state the two must agree but for the rare value whose last-bit difference moves a code,
    /// which checks that the block driver finds the squares beside every block's gradients (a wrong offset or a
    /// missing input reads other numbers and moves every parameter by about η per step) and that gsq's second moment
    /// gets the unsigned map, like Adam's v (the state-sign proof knows gsq ≥ 0).
    /// </summary>
    [Theory]
    [InlineData(StatePrecision.Int8Blockwise)]
    [InlineData(StatePrecision.Int4Blockwise)]
    public void SquaresEqualToGSquaredStepLikeAdam(StatePrecision precision)
    {
        const int n = 40_000; // several 16384-element pieces, quantized (above the 4096 threshold)
        var adam = new Adam(n) { LearningRate = 1e-2 };
        var squares = new PerExampleSquaresAdam(n) { LearningRate = 1e-2 };
        Assert.Equal(adam.Descriptor.States.Select(s => s.IsNonNegative), squares.Descriptor.States.Select(s => s.IsNonNegative));
        adam.ChangeStatePrecision(precision);
        squares.ChangeStatePrecision(precision);

        var random = new Random(17);
        float[] p1 = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        float[] p2 = (float[])p1.Clone();
        float[] g = new float[n], gsq = new float[n];
        for (int step = 0; step < 5; step++)
        {
            for (int i = 0; i < n; i++)
            {
                g[i] = (float)(random.NextDouble() - 0.5) * (1 + (i % 7));
                gsq[i] = g[i] * g[i];
            }

            adam.Step(p1, g);
            squares.Step(p2, g, gsq);
        }

        int apart = 0;
        double largest = 0;
        for (int i = 0; i < n; i++)
        {
            double d = Math.Abs(p1[i] - p2[i]);
            apart += d > 1e-6 ? 1 : 0;
            largest = Math.Max(largest, d);
        }

        Console.WriteLine($"{precision}: {apart} of {n} parameters more than 1e-6 apart, largest {largest:E2}");
        Assert.True(apart <= n / 1000, $"{apart} of {n} parameters differ by more than 1e-6 (largest {largest:E2})");
        Assert.True(largest < 1e-3, $"largest difference {largest:E2}");
        Assert.Equal(precision, squares.StatePrecision);
    }
}
