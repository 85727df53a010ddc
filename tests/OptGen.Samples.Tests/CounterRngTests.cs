using System;
using System.Linq;
using OptGen.Samples.Theory;
using Xunit;

namespace OptGen.Samples.Tests;

/// <summary>The counter-based RNG: a pure function of its counters, with the right first moments.</summary>
public sealed class CounterRngTests
{
    [Fact]
    public void SameCountersGiveTheSameDrawInAnyOrder()
    {
        double[] forward = Enumerable.Range(0, 1000).Select(i => CounterRng.Normal(42, 3, 17, i)).ToArray();
        double[] backward = Enumerable.Range(0, 1000).Reverse().Select(i => CounterRng.Normal(42, 3, 17, i)).Reverse().ToArray();
        Assert.Equal(forward, backward);
        Assert.NotEqual(CounterRng.Bits(42, 3, 17, 5), CounterRng.Bits(42, 3, 18, 5));
        Assert.NotEqual(CounterRng.Bits(42, 3, 17, 5), CounterRng.Bits(42, 4, 17, 5));
        Assert.NotEqual(CounterRng.Bits(42, 3, 17, 5), CounterRng.Bits(43, 3, 17, 5));
        Assert.NotEqual(CounterRng.Bits(42, 3, 17, 5, 0), CounterRng.Bits(42, 3, 17, 5, 1));
    }

    [Fact]
    public void NormalDrawsHaveMeanZeroVarianceOneKurtosisThree()
    {
        const int N = 200_000;
        var x = new double[N];
        for (int i = 0; i < N; i++)
        {
            x[i] = CounterRng.Normal(7, 0, i / 1000, i % 1000);
        }

        (double mean, double meanSe) = Statistics.Mean(x);
        (double variance, double varianceSe) = Statistics.VarianceAbout(x, 0);
        Assert.InRange(mean, -4 * meanSe, 4 * meanSe);
        Assert.InRange(variance, 1 - (4 * varianceSe), 1 + (4 * varianceSe));

        // E x⁴ = 3 with SE √((E x⁸ − 9)/N) = √(96/N).
        double fourth = x.Select(v => v * v * v * v).Average();
        Assert.InRange(fourth, 3 - (4 * Math.Sqrt(96.0 / N)), 3 + (4 * Math.Sqrt(96.0 / N)));

        // Neighbouring counters are uncorrelated: the lag-1 correlation has SE 1/√N.
        double lag = 0;
        for (int i = 1; i < N; i++)
        {
            lag += x[i] * x[i - 1];
        }

        Assert.InRange(lag / (N - 1), -4 / Math.Sqrt(N), 4 / Math.Sqrt(N));
    }

    [Fact]
    public void BelowIsUniform()
    {
        var counts = new int[32];
        const int N = 64_000;
        for (int i = 0; i < N; i++)
        {
            counts[CounterRng.Below(32, 9, 1, 0, i)]++;
        }

        // Pearson χ² with 31 degrees of freedom: mean 31, sd √62 ≈ 7.9; 31 + 5 sd ≈ 70.
        double expected = N / 32.0;
        double chi2 = counts.Sum(c => (c - expected) * (c - expected) / expected);
        Assert.InRange(chi2, 0, 70);
    }

    [Fact]
    public void LangevinNoiseDependsOnlyOnSeedStepAndIndex()
    {
        // Counter-based: element i draws the same noise whatever the vector length, so chains can be split
        // across devices or tiles and reproduce exactly.
        var small = new float[10];
        var large = new float[1000];
        var samplerSmall = new LangevinSampler(small.Length, 0.01, 0.5, seed: 3);
        var samplerLarge = new LangevinSampler(large.Length, 0.01, 0.5, seed: 3);
        for (int step = 0; step < 5; step++)
        {
            samplerSmall.Step(small, new float[small.Length]);
            samplerLarge.Step(large, new float[large.Length]);
        }

        Assert.Equal(small, large.Take(10).ToArray());
        Assert.Equal(5, samplerSmall.StepCount);

        // Pure noise from 0 for 5 steps: x = √(2ηT)·Σξ, so Var x = 5·2ηT = 0.05; check one coordinate exactly.
        double expected = 0;
        for (int step = 0; step < 5; step++)
        {
            // The rule's randn(): standard normal number 0 of element 4 at step t = step + 1 with Seed = 3.
            expected += Math.Sqrt(2 * 0.01 * 0.5) * OptGen.Kernels.CounterRandom.Normal(OptGen.Kernels.CounterRandom.Key(3, step + 1), 4, 0);
        }

        Assert.Equal(expected, small[4], 5);
    }

    [Fact]
    public void LangevinSamplerRejectsBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>("learningRate", () => new LangevinSampler(4, 0, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>("temperature", () => new LangevinSampler(4, 0.1, -1, 1));
        var sampler = new LangevinSampler(4, 0.1, 1, 1);
        var x = new float[] { 1, 2, 3, 4 };
        Assert.Throws<ArgumentException>("lossGradient", () => sampler.Step(x, new float[3]));
        Assert.Equal(new float[] { 1, 2, 3, 4 }, x);
        Assert.Equal(0, sampler.StepCount);
    }
}
