using System;
using System.Linq;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>A divisor computed on the host from a hyperparameter: ε² underflows in float32 long before ε does.</summary>
[Optimizer]
[Hyperparameter("LearningRate", 0.01, Range = HyperparameterRange.NonNegative)]
[Hyperparameter("Eps", 1e-4, Range = HyperparameterRange.Positive)]
[State("v")]
[Update("v = v + g * g")]
[Update("p = p - LearningRate * g / (sqrt(v) + Eps * Eps)")]
public sealed partial class SquaredEpsilon;

/// <summary>
/// Per-step scalars computed from valid hyperparameters but out of float32's range are refused before anything is
/// written, in every group, on every path.
/// </summary>
public sealed class StepScalarTests
{
    private static readonly int[] Group0 = [33, 1025];
    private static readonly int[] Group1 = [17, 40_000];

    /// <summary>Parameters, every state buffer, the step count and the hyperparameters: everything a step may change.</summary>
    private static (float[] Parameters, float[][] State, long StepCount, double[] Hyperparameters) Snapshot(Optimizer optimizer, float[] p) =>
        ((float[])p.Clone(), StateOf(optimizer), optimizer.StepCount,
         Enumerable.Range(0, optimizer.Layout.GroupCount)
             .SelectMany(k => optimizer.Descriptor.Hyperparameters.Select(h => optimizer.Groups[k][h.Name])).ToArray());

    private static void AssertUnchanged((float[] Parameters, float[][] State, long StepCount, double[] Hyperparameters) before, Optimizer optimizer, float[] p)
    {
        var after = Snapshot(optimizer, p);
        AssertBitwiseEqual(before.Parameters, after.Parameters, "parameters");
        for (int k = 0; k < before.State.Length; k++)
        {
            AssertBitwiseEqual(before.State[k], after.State[k], $"state {k}");
        }

        Assert.Equal(before.StepCount, after.StepCount);
        Assert.Equal(before.Hyperparameters, after.Hyperparameters);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void AStepSizeBeyondFloat32InOneGroupIsRefusedBeforeAnyGroupIsWritten(int threads)
    {
        var random = new Random(3);
        var adam = new Adam(new ParameterLayout(Group0, Group1)) { Beta1 = 1 - 1e-12, MaxDegreeOfParallelism = threads };
        float[] p = Random(random, adam.Length);
        float[] g = Random(random, adam.Length);
        adam.Step(p, g);

        // Group 0: η/(1 − β₁ᵗ) ≈ 1e-3/2e-12 = 5e8, fine. Group 1: ≈ 1e30/2e-12, beyond float32.
        adam.Groups[1]["LearningRate"] = 1e30;
        var before = Snapshot(adam, p);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => adam.Step(p, g, new StepOptions { MaxGradientNorm = 1 }));
        Assert.Equal("StepSize", e.ParamName);
        Assert.Contains("η/(1 − β₁ᵗ)", e.Message, StringComparison.Ordinal);
        Assert.Contains("at step 2", e.Message, StringComparison.Ordinal);
        AssertUnchanged(before, adam, p);

        // The plain overload and the per-tensor overload refuse it the same way.
        Assert.Equal("StepSize", Assert.Throws<ArgumentOutOfRangeException>(() => adam.Step(p, g)).ParamName);
        AssertUnchanged(before, adam, p);
    }

    [Fact]
    public void AScheduledValueThatOverflowsAPerStepScalarIsRefusedAndNotWrittenBack()
    {
        var random = new Random(4);
        var adam = new Adam(1000) { Beta1 = 1 - 1e-12 };
        adam.SetSchedule("LearningRate", Schedule.MultiStep(1e-3, [2], 1e40));
        float[] p = Random(random, 1000);
        float[] g = Random(random, 1000);
        adam.Step(p, g);
        adam.Step(p, g);
        var before = Snapshot(adam, p);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => adam.Step(p, g));
        Assert.Equal("StepSize", e.ParamName);
        AssertUnchanged(before, adam, p);
        Assert.Equal(1e-3, adam.LearningRate);
    }

    [Fact]
    public void AGradientScaleBeyondFloat32IsRefused()
    {
        var random = new Random(5);
        var nadam = new NAdam(new ParameterLayout(Group0, Group1));
        float[] p = Random(random, nadam.Length);
        float[] g = Random(random, nadam.Length);
        nadam.Step(p, g);
        double product = nadam.MuProduct;
        var before = Snapshot(nadam, p);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => nadam.Step(p, g, new StepOptions { GradientScale = 1e300 }));
        Assert.Equal("GradientScale", e.ParamName);
        AssertUnchanged(before, nadam, p);

        // The carried host scalar (Πₜ) was advanced on a copy only.
        Assert.Equal(product, nadam.MuProduct);
        nadam.Step(p, g);
        Assert.NotEqual(product, nadam.MuProduct);
    }

    [Fact]
    public void ADivisorThatUnderflowsToZeroInFloat32IsRefused()
    {
        var random = new Random(6);

        // ε = 1e-20 is a normal float32, ε² = 1e-40 a subnormal one: fine. ε = 1e-30 gives ε² = 1e-60 → 0, and √v + 0
        // is 0 wherever v is, so 0/0 = NaN.
        var fine = new SquaredEpsilon(100) { Eps = 1e-20 };
        float[] p = Random(random, 100);
        float[] g = Random(random, 100);
        g[7] = 0;
        fine.Step(p, g);
        Assert.All(p, x => Assert.True(float.IsFinite(x)));

        var tiny = new SquaredEpsilon(100) { Eps = 1e-30 };
        var before = Snapshot(tiny, p);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => tiny.Step(p, g));
        Assert.Contains("underflows to 0 in float32", e.Message, StringComparison.Ordinal);
        AssertUnchanged(before, tiny, p);
    }
}
