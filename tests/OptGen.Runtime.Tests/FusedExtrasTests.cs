using System;
using System.Linq;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Unscaling, global-norm clipping and non-finite skipping inside the fused step, against the two-step reference:
/// unscale and clip in float64 as torch.nn.utils.clip_grad_norm_ does, round the gradients to float32 (they are
/// float32 tensors in torch), then the float64 reference step.
/// </summary>
public sealed class FusedExtrasTests
{
    private static readonly int[] Lengths = [33, 1, 1025, 64, 7];

    /// <summary>The float64 two-step reference: returns the clipped gradients, the norm and the clip factor.</summary>
    private static (float[][] Clipped, double Norm, double Factor) ClipReference(float[][] g, double scale, double maxNorm)
    {
        double sum = 0;
        foreach (float[] tensor in g)
        {
            foreach (float x in tensor)
            {
                sum += (x * scale) * (x * scale);
            }
        }

        double norm = Math.Sqrt(sum);
        double factor = Math.Min(1, maxNorm / (norm + 1e-6));
        return (g.Select(t => t.Select(x => (float)(x * scale * factor)).ToArray()).ToArray(), norm, factor);
    }

    [Theory]
    [InlineData(1.0, 5.0)]      // clipping only
    [InlineData(1.0 / 1024, 5.0)] // loss scale 1024, then clipping
    [InlineData(1.0 / 1024, 1e9)] // unscaling only (the clip factor is 1)
    public void SgdMomentumWithClippingMatchesTheTwoStepReference(double scale, double maxNorm)
    {
        var layout = new ParameterLayout(Lengths[..2], Lengths[2..]);
        var optimizer = new SgdMomentum(layout) { LearningRate = 0.05 };
        var random = new Random(17);
        float[][] p = Tensors(random, Lengths);
        float[][] expected = Clone(p);
        Reference[] references = Lengths.Select(n => (Reference)new SgdReference(n, 0.05, 0.9)).ToArray();
        var options = new StepOptions { GradientScale = scale, MaxGradientNorm = maxNorm };
        for (int t = 1; t <= 25; t++)
        {
            float[][] g = Tensors(random, Lengths, scale: 1 / scale);
            (float[][] clipped, double norm, double factor) = ClipReference(g, scale, maxNorm);
            StepResult result = optimizer.Step(AsMemory(p), AsReadOnly(g), options);
            Assert.False(result.Skipped);
            Assert.False(result.FoundNonFinite);
            Assert.Equal(norm, result.GradientNorm, 1e-12 * norm);
            Assert.Equal(factor, result.ClipFactor, 1e-12);
            if (maxNorm < 1e9)
            {
                Assert.True(factor < 1, "the data should be clipped");
            }

            for (int j = 0; j < Lengths.Length; j++)
            {
                references[j].Step(expected[j], clipped[j], t);
                NumericalTests.AssertClose($"tensor {j}", Lengths[j], t, expected[j], p[j]);
            }
        }
    }

    [Fact]
    public void AdamWithClippingMatchesTheTwoStepReference()
    {
        var optimizer = new Adam(new ParameterLayout(Lengths)) { LearningRate = 1e-2, Epsilon = 1e-3 };
        var random = new Random(23);
        float[][] p = Tensors(random, Lengths);
        float[][] expected = Clone(p);
        Reference[] references = Lengths.Select(n => (Reference)new AdamReference(n, 1e-2, 0.9, 0.999, 1e-3)).ToArray();
        var options = new StepOptions { MaxGradientNorm = 1.0 };
        for (int t = 1; t <= 25; t++)
        {
            float[][] g = Tensors(random, Lengths);
            (float[][] clipped, _, double factor) = ClipReference(g, 1, 1.0);
            StepResult result = optimizer.Step(AsMemory(p), AsReadOnly(g), options);
            Assert.Equal(factor, result.ClipFactor, 1e-12);
            for (int j = 0; j < Lengths.Length; j++)
            {
                references[j].Step(expected[j], clipped[j], t);
                NumericalTests.AssertClose($"tensor {j}", Lengths[j], t, expected[j], p[j]);
            }
        }
    }

    [Fact]
    public void MaximizeAndClippingCombine()
    {
        var optimizer = new Sgd(new ParameterLayout([50])) { LearningRate = 0.1, Maximize = true };
        var random = new Random(2);
        float[] p = Random(random, 50);
        float[] expected = (float[])p.Clone();
        var reference = new SgdReference(50, 0.1, 0, maximize: true);
        for (int t = 1; t <= 5; t++)
        {
            float[] g = Random(random, 50, 10);
            (float[][] clipped, _, _) = ClipReference([g], 1, 2.0);
            optimizer.Step([p], [g], new StepOptions { MaxGradientNorm = 2.0 });
            reference.Step(expected, clipped[0], t);
            NumericalTests.AssertClose("maximize", 50, t, expected, p);
        }
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteGradientSkipsTheStepAndChangesNothing(float bad)
    {
        var layout = new ParameterLayout(Lengths[..2], Lengths[2..]);
        var optimizer = new AdamW(layout) { LearningRate = 1e-2 };
        optimizer.SetSchedule("LearningRate", Schedule.Exponential(1e-2, 0.9));
        var random = new Random(29);
        float[][] p = Tensors(random, Lengths);
        var options = new StepOptions { SkipNonFinite = true, GradientScale = 1.0 / 65536, MaxGradientNorm = 1 };
        for (int t = 0; t < 3; t++)
        {
            Assert.False(optimizer.Step(AsMemory(p), AsReadOnly(Tensors(random, Lengths)), options).Skipped);
        }

        var before = Snapshot.Of(optimizer);
        float[][] pBefore = Clone(p);
        float[][] g = Tensors(random, Lengths);
        g[2][1000] = bad;
        StepResult result = optimizer.Step(AsMemory(p), AsReadOnly(g), options);

        Assert.True(result.Skipped);
        Assert.True(result.FoundNonFinite);
        Assert.False(double.IsFinite(result.GradientNorm));
        Assert.Equal(3, result.StepCount);
        AssertUnchanged(before, optimizer);
        for (int j = 0; j < p.Length; j++)
        {
            AssertBitwiseEqual(pBefore[j], p[j], $"tensor {j}");
        }

        // The next finite step proceeds as step 4.
        Assert.Equal(4, optimizer.Step(AsMemory(p), AsReadOnly(Tensors(random, Lengths)), options).StepCount);
    }

    [Fact]
    public void NonFiniteWithoutSkipIsReportedAndTheStepIsTaken()
    {
        var optimizer = new Sgd(new ParameterLayout([4])) { LearningRate = 0.1 };
        float[] p = [1, 2, 3, 4];
        StepResult result = optimizer.Step([p], [new float[] { 0, float.NaN, 0, 0 }], new StepOptions { ComputeGradientNorm = true });
        Assert.False(result.Skipped);
        Assert.True(result.FoundNonFinite);
        Assert.True(float.IsNaN(p[1]));
        Assert.Equal(1, optimizer.StepCount);
    }

    [Fact]
    public void NormIsReportedOnlyWhenAsked()
    {
        var optimizer = new Sgd(new ParameterLayout([3], [1])) { LearningRate = 0.1 };
        StepResult plain = optimizer.Step([new float[3], new float[1]], [new float[] { 3, 0, 0 }, new float[] { 4 }]);
        Assert.True(double.IsNaN(plain.GradientNorm));
        Assert.Equal(1.0, plain.ClipFactor);
        StepResult reported = optimizer.Step([new float[3], new float[1]], [new float[] { 3, 0, 0 }, new float[] { 4 }], new StepOptions { ComputeGradientNorm = true, GradientScale = 0.5 });
        Assert.Equal(2.5, reported.GradientNorm);
    }
}

/// <summary>The reported norm over every SIMD width and tail, against a serial float64 sum.</summary>
public sealed class GradientNormTests
{
    [Fact]
    public void NormMatchesASerialFloat64Sum()
    {
        int[] lengths = [0, 1, 15, 16, 17, 31, 33, 1000, 16385, 40000];
        var optimizer = new Sgd(new ParameterLayout(lengths));
        var random = new Random(31);
        float[][] g = Tensors(random, lengths, 3);
        double sum = 0;
        foreach (float x in g.SelectMany(t => t))
        {
            sum += (double)x * x;
        }

        StepResult result = optimizer.Step(AsMemory(Tensors(random, lengths)), AsReadOnly(g), new StepOptions { ComputeGradientNorm = true, GradientScale = 0.25 });
        Assert.Equal(0.25 * Math.Sqrt(sum), result.GradientNorm, 1e-12 * Math.Sqrt(sum));
    }
}

/// <summary>Dynamic loss scaling, against GradScaler's update rule simulated by hand.</summary>
public sealed class DynamicLossScaleTests
{
    [Fact]
    public void ScaleBacksOffOnOverflowAndGrowsAfterTheInterval()
    {
        var scaler = new DynamicLossScale(initialScale: 1024, growthInterval: 3, template: new StepOptions { MaxGradientNorm = 10 });
        var sgd = new Sgd(4) { LearningRate = 0.1 };
        float[] p = [1, 1, 1, 1];
        double expectedScale = 1024;
        int good = 0;

        // Gradients of a loss scaled by S: 0.5·S each, or an overflow.
        bool[] overflow = [false, false, true, false, false, false, false, true, false];
        foreach (bool inf in overflow)
        {
            Assert.Equal(1 / expectedScale, scaler.Options.GradientScale);
            Assert.True(scaler.Options.SkipNonFinite);
            Assert.Equal(10, scaler.Options.MaxGradientNorm);
            float[] g = [.. Enumerable.Repeat(inf ? float.PositiveInfinity : (float)(0.5 * expectedScale), 4)];
            float[] before = (float[])p.Clone();
            StepResult result = sgd.Step(p, g, scaler.Options);
            Assert.Equal(inf, result.Skipped);
            if (!inf)
            {
                Assert.Equal(1.0, result.GradientNorm, 1e-12); // the unscaled norm: √(4·0.25)
                Assert.All(p.Zip(before), x => Assert.Equal(x.Second - 0.05f, x.First, 1e-6f));
            }

            scaler.Update(result);

            // GradScaler.update: back off on inf, else grow after `interval` good steps in a row.
            if (inf)
            {
                expectedScale *= 0.5;
                good = 0;
            }
            else if (++good == 3)
            {
                expectedScale *= 2;
                good = 0;
            }

            Assert.Equal(expectedScale, scaler.Scale);
            Assert.Equal(good, scaler.GoodSteps);
        }

        Assert.Equal(7, sgd.StepCount);
        Assert.Equal("backoffFactor", Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScale(backoffFactor: 1)).ParamName);
    }
}
