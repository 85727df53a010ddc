using System;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>
/// <see cref="DynamicLossScale"/> with extreme factors: its scale S and 1/S stay finite and nonzero in float32 and
/// saturate at 2^±127 instead of stopping where they are (a growth of 1e300 or a backoff of 1e-300 made the product
/// unusable, and the scale then never moved again: a run whose every step overflowed skipped forever). Factors that
/// cannot be factors are refused by name.
/// </summary>
public sealed class DynamicLossScaleLimitTests
{
    private static readonly StepResult Good = new(Skipped: false, FoundNonFinite: false, GradientNorm: 1, ClipFactor: 1, StepCount: 1);
    private static readonly StepResult Overflow = new(Skipped: true, FoundNonFinite: true, GradientNorm: double.PositiveInfinity, ClipFactor: 1, StepCount: 1);

    [Fact]
    public void TheLimitsArePowersOfTwoWithBothScalesFiniteAndNonzeroInFloat32()
    {
        // Independent of the class: 2^127 is the largest power of two below float.MaxValue; 2^-127 the smallest whose reciprocal is finite.
        Assert.Equal(1.7014118346046923e38, DynamicLossScale.MaxScale);
        Assert.Equal(1 / 1.7014118346046923e38, DynamicLossScale.MinScale);
        foreach (double s in new[] { DynamicLossScale.MaxScale, DynamicLossScale.MinScale })
        {
            Assert.True(float.IsFinite((float)s) && (float)s != 0, $"{s}");
            Assert.True(float.IsFinite((float)(1 / s)) && (float)(1 / s) != 0, $"1/{s}");
            Assert.Equal(1 / s, (double)(float)(1 / s)); // exact in float32
        }

        Assert.True(float.IsInfinity((float)(2 * DynamicLossScale.MaxScale)));
        Assert.True(float.IsInfinity((float)(1 / (DynamicLossScale.MinScale / 2))));
    }

    [Fact]
    public void AHugeGrowthFactorSaturatesAtTheLargestScale()
    {
        var scaler = new DynamicLossScale(initialScale: 65536, growthFactor: 1e300, growthInterval: 1);
        scaler.Update(Good);
        AssertScale(DynamicLossScale.MaxScale, scaler);
        scaler.Update(Good);
        AssertScale(DynamicLossScale.MaxScale, scaler);
        Assert.Equal(0, scaler.GoodSteps);
    }

    [Fact]
    public void ATinyBackoffFactorSaturatesAtTheSmallestScaleAndGrowsBackFromIt()
    {
        var scaler = new DynamicLossScale(initialScale: 65536, growthFactor: 1e300, backoffFactor: 1e-300, growthInterval: 2);
        scaler.Update(Overflow);
        AssertScale(DynamicLossScale.MinScale, scaler);
        scaler.Update(Overflow);
        AssertScale(DynamicLossScale.MinScale, scaler);
        scaler.Update(Good);
        AssertScale(DynamicLossScale.MinScale, scaler);
        scaler.Update(Good);
        AssertScale(DynamicLossScale.MaxScale, scaler);
        scaler.Update(Overflow);
        AssertScale(DynamicLossScale.MinScale, scaler);
    }

    /// <summary>
    /// Finite double products that leave float32: S·g = 1e40 (1/S = 1e-40 is still a float32 subnormal, so it was taken,
    /// and float32(S) was ∞) and S·b = 1e-40 (1/S = 1e40 is ∞ in float32).
    /// </summary>
    [Fact]
    public void ProductsOutsideFloat32SaturateInsteadOfBeingTakenOrIgnored()
    {
        var growing = new DynamicLossScale(initialScale: 1e10, growthFactor: 1e30, growthInterval: 1);
        growing.Update(Good);
        AssertScale(DynamicLossScale.MaxScale, growing);

        var shrinking = new DynamicLossScale(initialScale: 1e-10, backoffFactor: 1e-30);
        shrinking.Update(Overflow);
        AssertScale(DynamicLossScale.MinScale, shrinking);
    }

    /// <summary>Powers of two stay powers of two up to the limit, and a scale past a limit in float32 range keeps its value (never moved back).</summary>
    [Fact]
    public void PowersOfTwoStayExactAndAScaleBeyondALimitIsKept()
    {
        var scaler = new DynamicLossScale(initialScale: Math.ScaleB(1, 120), growthInterval: 1);
        for (int i = 0; i < 10; i++)
        {
            scaler.Update(Good);
            AssertScale(Math.ScaleB(1, Math.Min(121 + i, 127)), scaler);
        }

        // 3e38 > 2^127 is finite in float32 (and 1/3e38 a nonzero subnormal): accepted, and growth keeps it.
        var high = new DynamicLossScale(initialScale: 3e38, growthInterval: 1);
        high.Update(Good);
        AssertScale(3e38, high);
        high.Update(Overflow);
        AssertScale(1.5e38, high);

        var low = new DynamicLossScale(initialScale: 4e-39);
        low.Update(Overflow);
        AssertScale(4e-39, low);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(1.0)]
    [InlineData(0.5)]
    [InlineData(0.0)]
    [InlineData(-2.0)]
    public void AGrowthFactorThatIsNotAboveOneIsRefusedByName(double growthFactor) =>
        Assert.Equal("growthFactor", Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScale(growthFactor: growthFactor)).ParamName);

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(1.0)]
    [InlineData(2.0)]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    public void ABackoffFactorOutsideTheOpenUnitIntervalIsRefusedByName(double backoffFactor) =>
        Assert.Equal("backoffFactor", Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScale(backoffFactor: backoffFactor)).ParamName);

    /// <summary>A scale whose float32 value is ∞ (a float32 loss times it is ∞), or too small for 1/S, is refused.</summary>
    [Theory]
    [InlineData(1e39)]
    [InlineData(1.4e45)]
    [InlineData(2e-39)]
    public void AnInitialScaleOutsideFloat32IsRefusedByName(double initialScale) =>
        Assert.Equal("initialScale", Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScale(initialScale: initialScale)).ParamName);

    [Fact]
    public void CountsOutOfRangeAreRefusedByName()
    {
        Assert.Equal("growthInterval", Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScale(growthInterval: 0)).ParamName);
        Assert.Equal("growthInterval", Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScale(growthInterval: int.MinValue)).ParamName);
        Assert.Equal("goodSteps", Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScale(goodSteps: -1)).ParamName);
    }

    /// <summary>A saturated scaler saved (Scale, GoodSteps) and resumed continues exactly as the original does.</summary>
    [Fact]
    public void ASaturatedScalerResumesExactly()
    {
        foreach (StepResult last in new[] { Good, Overflow })
        {
            var original = new DynamicLossScale(initialScale: 1e30, growthFactor: 1e20, backoffFactor: 1e-25, growthInterval: 3);
            original.Update(Good);
            original.Update(Good);
            original.Update(Good);
            original.Update(last);
            var resumed = new DynamicLossScale(original.Scale, 1e20, 1e-25, 3, goodSteps: original.GoodSteps);
            StepResult[] sequence = [Good, Overflow, Overflow, Good, Good, Good, Good, Overflow, Good];
            foreach (StepResult result in sequence)
            {
                original.Update(result);
                resumed.Update(result);
                Assert.Equal((original.Scale, original.GoodSteps), (resumed.Scale, resumed.GoodSteps));
                Assert.Equal(original.Options.GradientScale, resumed.Options.GradientScale);
            }
        }
    }

    private static void AssertScale(double expected, DynamicLossScale scaler)
    {
        Assert.Equal(expected, scaler.Scale);
        Assert.Equal(1 / expected, scaler.Options.GradientScale);
        Assert.True(float.IsFinite((float)scaler.Scale) && (float)scaler.Scale > 0, $"float32 scale {(float)scaler.Scale}");
        Assert.True(float.IsFinite((float)scaler.Options.GradientScale) && (float)scaler.Options.GradientScale > 0, $"float32 gradient scale {(float)scaler.Options.GradientScale}");
    }
}
