using System;
using System.IO;
using System.Linq;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// The kernels compute in float32, so a hyperparameter is in range only if its float32 rounding is: finite, and not 0
/// where 0 is invalid. Each entry point refuses such a value naming it, and keeps the old value.
/// </summary>
public sealed class Float32RangeTests
{
    [Theory]
    [InlineData(HyperparameterRange.Finite, 3.4028234663852886e38, true)] // float.MaxValue
    [InlineData(HyperparameterRange.Finite, -3.40282356e38, true)] // above float.MaxValue, below the midpoint to 2^128: rounds to −float.MaxValue
    [InlineData(HyperparameterRange.Finite, -3.4028235677973366e38, false)] // the midpoint: ties to even, which is ∞
    [InlineData(HyperparameterRange.Finite, 3.402823669209385e38, false)] // rounds up to +∞
    [InlineData(HyperparameterRange.Finite, 1e300, false)]
    [InlineData(HyperparameterRange.Finite, 1e-300, true)] // 0 is in range
    [InlineData(HyperparameterRange.NonNegative, 1e39, false)]
    [InlineData(HyperparameterRange.NonNegative, 1e-50, true)] // 0 in float32, and 0 is allowed
    [InlineData(HyperparameterRange.Positive, 1e-45, true)] // the smallest subnormal, 1.4e-45
    [InlineData(HyperparameterRange.Positive, 1e-46, false)] // 0 in float32
    [InlineData(HyperparameterRange.Positive, 1e-50, false)]
    [InlineData(HyperparameterRange.Positive, 1e300, false)]
    [InlineData(HyperparameterRange.Positive, 1e-8, true)]
    [InlineData(HyperparameterRange.UnitInterval, 0.999999999, true)] // 1 in float32, but 1 − β is formed in double
    [InlineData(HyperparameterRange.Probability, 1, true)]
    [InlineData(HyperparameterRange.Count, 0, true)]
    [InlineData(HyperparameterRange.Count, 256, true)]
    [InlineData(HyperparameterRange.Count, 2.5, false)] // a block of 2.5 elements
    [InlineData(HyperparameterRange.Count, -1, false)]
    [InlineData(HyperparameterRange.Count, 2147483648, false)]
    public void AcceptsJudgesTheFloat32Rounding(HyperparameterRange range, double value, bool accepted)
    {
        var descriptor = new HyperparameterDescriptor("X", "x", 0, range);
        Assert.Equal(accepted, descriptor.Accepts(value));
    }

    [Theory]
    [InlineData(HyperparameterRange.Finite)]
    [InlineData(HyperparameterRange.NonNegative)]
    [InlineData(HyperparameterRange.Positive)]
    public void RangeTextSaysFloat32(HyperparameterRange range) =>
        Assert.Contains("float32", new HyperparameterDescriptor("X", "x", 1, range).RangeText, StringComparison.Ordinal);

    [Fact]
    public void TypedSetterRefusesAndKeepsTheValue()
    {
        var rmsprop = new RmsProp(4) { Epsilon = 1e-6, LearningRate = 0.5 };
        AssertRefused("Epsilon", () => rmsprop.Epsilon = 1e-50);
        Assert.Equal(1e-6, rmsprop.Epsilon);
        AssertRefused("LearningRate", () => rmsprop.LearningRate = 1e300);
        Assert.Equal(0.5, rmsprop.LearningRate);
        AssertRefused("Epsilon", () => _ = new RmsProp(4) { Epsilon = 1e-50 });
    }

    [Fact]
    public void IndexerRefusesAndKeepsTheValue()
    {
        var adam = new Adam(4) { LearningRate = 0.25 };
        AssertRefused("LearningRate", () => adam["LearningRate"] = 1e300);
        AssertRefused("Epsilon", () => adam["Epsilon"] = 1e-50);
        Assert.Equal(0.25, adam["LearningRate"]);
        Assert.Equal(1e-8, adam["Epsilon"]);
        Assert.Equal(0.25, adam.Groups[0]["LearningRate"]);
    }

    [Fact]
    public void GroupSetterRefusesAndKeepsTheValue()
    {
        var adam = new Adam(new ParameterLayout([3], [4]));
        adam.Groups[1]["Epsilon"] = 1e-7;
        AssertRefused("Epsilon", () => adam.Groups[1]["Epsilon"] = 1e-50);
        AssertRefused("LearningRate", () => adam.Groups[0]["LearningRate"] = -1e300);
        Assert.Equal(1e-7, adam.Groups[1]["Epsilon"]);
        Assert.Equal(1e-8, adam.Groups[0]["Epsilon"]);
        Assert.Equal(1e-3, adam.Groups[0]["LearningRate"]);
    }

    /// <summary>
    /// A schedule's value is judged at step time by the same rule; the step is refused before anything is written
    /// (the step engine reports it as <see cref="InvalidOperationException"/>: the schedule, not an argument, is at fault).
    /// </summary>
    [Theory]
    [InlineData("LearningRate", 1e300)]
    [InlineData("Epsilon", 1e-50)]
    public void ScheduleValueIsRefusedAtStepTimeAndNothingIsWritten(string hyperparameter, double value)
    {
        var rmsprop = new RmsProp(new ParameterLayout([5], [3]));
        float[][] p = Tensors(new Random(1), [5, 3]);
        float[][] g = Tensors(new Random(2), [5, 3]);
        rmsprop.Step(AsMemory(p), AsReadOnly(g));
        Snapshot before = Snapshot.Of(rmsprop);
        float[][] pBefore = Clone(p);
        rmsprop.Groups[1].SetSchedule(hyperparameter, Schedule.Step(1e-3, 2, 1).Then(1, Schedule.Constant(value)));
        rmsprop.SetSchedule("Alpha", Schedule.Constant(0.5)); // a valid schedule beside it is not applied either

        var e = Assert.Throws<InvalidOperationException>(() => rmsprop.Step(AsMemory(p), AsReadOnly(g)));
        Assert.Contains(hyperparameter, e.Message, StringComparison.Ordinal);
        Assert.Contains("float32", e.Message, StringComparison.Ordinal);
        AssertUnchanged(before, rmsprop);
        for (int j = 0; j < p.Length; j++)
        {
            AssertBitwiseEqual(pBefore[j], p[j], $"tensor {j}");
        }
    }

    [Fact]
    public void StepOptionsRefuseValuesOutOfFloat32()
    {
        AssertRefused("GradientScale", () => _ = new StepOptions { GradientScale = 1e-50 });
        AssertRefused("GradientScale", () => _ = new StepOptions { GradientScale = 1e300 });
        AssertRefused("MaxGradientNorm", () => _ = new StepOptions { MaxGradientNorm = 1e-50 });
        AssertRefused("MaxGradientNorm", () => _ = new StepOptions { MaxGradientNorm = 1e300 });
        AssertRefused("MaxGradientNorm", () => _ = new StepOptions { MaxGradientNorm = double.NaN });
        Assert.Equal(double.PositiveInfinity, new StepOptions { MaxGradientNorm = double.PositiveInfinity }.MaxGradientNorm);
        Assert.Equal(1.0 / 65536, new StepOptions { GradientScale = 1.0 / 65536 }.GradientScale);
        Assert.Equal(1e-45, new StepOptions { MaxGradientNorm = 1e-45 }.MaxGradientNorm);
    }

    /// <summary>
    /// The dynamic loss scale's options carry GradientScale = 1/S, so S stops growing (all-zero gradients never
    /// overflow) where S would leave float32 (GradScaler's scale is a float32 tensor) and stops shrinking (every step
    /// non-finite) where 1/S would, instead of throwing.
    /// </summary>
    [Fact]
    public void DynamicLossScaleStaysWhereItsGradientScaleIsUsable()
    {
        var growing = new DynamicLossScale(initialScale: Math.Pow(2, 120), growthInterval: 1);
        var good = new StepResult(false, false, 0, 1, 1);
        for (int i = 0; i < 20; i++)
        {
            growing.Update(good);
        }

        Assert.Equal(Math.Pow(2, 127), growing.Scale); // 2^128 is ∞ in float32
        Assert.Equal((float)Math.Pow(2, -127), (float)growing.Options.GradientScale);

        var shrinking = new DynamicLossScale(initialScale: Math.Pow(2, -120));
        var overflow = new StepResult(true, true, double.PositiveInfinity, 1, 0);
        for (int i = 0; i < 20; i++)
        {
            shrinking.Update(overflow);
        }

        Assert.Equal(Math.Pow(2, -127), shrinking.Scale); // 1/S = 2^127; 2^128 is ∞ in float32
        Assert.True(float.IsFinite((float)shrinking.Options.GradientScale));
        Assert.Equal("initialScale", Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScale(initialScale: 1e-300)).ParamName);
    }

    /// <summary>The scales that are not finite and &gt; 0 at all are refused by the same check (1/S in range).</summary>
    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.Epsilon)]
    [InlineData(1e300)]
    public void DynamicLossScaleRefusesAnUnusableInitialScale(double initialScale) =>
        Assert.Equal("initialScale", Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScale(initialScale: initialScale)).ParamName);

    [Fact]
    public void CheckpointHyperparameterIsJudgedTheSameWay()
    {
        var rmsprop = new RmsProp(6) { Epsilon = 1e-6 };
        using var saved = new MemoryStream();
        rmsprop.SaveCheckpoint(saved);
        CheckpointImage image = CheckpointImage.Parse(saved.ToArray());
        int epsilon = rmsprop.Descriptor.IndexOfHyperparameter("Epsilon");
        image.Values[0][epsilon] = 1e-50;
        var target = new RmsProp(6) { Epsilon = 1e-7 };
        CheckpointException e = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new MemoryStream(image.ToBytes())));
        Assert.Equal("Epsilon", e.Field);
        Assert.Contains("float32", e.Message, StringComparison.Ordinal);
        Assert.Equal(1e-7, target.Epsilon);
    }

    /// <summary>What the float32 rule prevents: ε = 1e-50 would have made every parameter NaN or ∞ on the first step.</summary>
    [Fact]
    public void TheSmallestAcceptedEpsilonStillGivesFiniteSteps()
    {
        var rmsprop = new RmsProp(4) { Epsilon = 1e-45, LearningRate = 1e-3 };
        float[] p = [1, 2, 3, 4];
        rmsprop.Step(p, [0, 1e-3f, -1, 0]);
        Assert.True(p.All(float.IsFinite));
    }

    private static void AssertRefused(string name, Action action)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(action);
        Assert.Equal(name, e.ParamName);
        Assert.Contains("float32", e.Message, StringComparison.Ordinal);
    }
}
