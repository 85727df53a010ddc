using System;
using System.Linq;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// <see cref="StepOptions.SkipNonFinite"/> with a <see cref="StepOptions.GradientScale"/> above 1 skips a step exactly
/// when some element's scaled gradient gᵢ·float32(scale) is ±∞ in float32 (GradScaler's per-element found_inf on the
/// unscaled gradients), not when a bound on the norm says one might be: gradients near float32's maximum whose
/// products all stay finite are stepped (their norm times the scale is far beyond float32), and one element one
/// float past the edge skips the step with parameters and state bit for bit unchanged.
/// </summary>
public sealed class ExactOverflowSkipTests
{
    public static TheoryData<double> Scales() => new(ScaledGradientEdge.Scales);

    [Theory]
    [MemberData(nameof(Scales))]
    public void GradientsAtTheEdgeAreSteppedAsTheFloat64ReferenceSteps(double scale)
    {
        // A bound on the norm would skip this step (‖g‖·scale is several float32 maxima); no element overflows.
        float edge = ScaledGradientEdge.Largest(scale);
        foreach (int threads in new[] { 1, 4 })
        {
            var layout = new ParameterLayout(ScaledGradientEdge.GroupLengths);
            var optimizer = new SgdMomentum(layout) { LearningRate = 1e-30 };
            optimizer.Groups[1]["LearningRate"] = 2e-30;
            var random = new Random(5);
            float[][] p = Tensors(random, ScaledGradientEdge.Lengths);
            float[][] expected = Clone(p);
            float[][] g = ScaledGradientEdge.Gradients(random, edge);
            var options = new StepOptions { SkipNonFinite = true, GradientScale = scale, MaxDegreeOfParallelism = threads };

            StepResult result = optimizer.Step(AsMemory(p), AsReadOnly(g), options);

            Assert.False(result.Skipped, $"scale {scale}, {threads} threads: skipped");
            Assert.False(result.FoundNonFinite);
            Assert.True(result.GradientNorm > 2.0 * float.MaxValue, "the norm bound alone would have skipped this step");
            Assert.Equal(1, optimizer.StepCount);
            for (int j = 0; j < p.Length; j++)
            {
                // torch: the gradients unscaled in float32 (g·f, exact in double, rounded once), then SGD in float64.
                float[] unscaled = g[j].Select(x => (float)((double)x * (float)scale)).ToArray();
                new SgdReference(p[j].Length, j < 2 ? 1e-30 : 2e-30, 0.9).Step(expected[j], unscaled, 1);
                for (int i = 0; i < p[j].Length; i++)
                {
                    Assert.True(float.IsFinite(p[j][i]), $"tensor {j}[{i}] = {p[j][i]}");
                    Assert.True(Math.Abs(expected[j][i] - p[j][i]) <= 1e-6 * Math.Max(1, Math.Abs(expected[j][i])), $"scale {scale}, tensor {j}[{i}]: {p[j][i]} vs {expected[j][i]}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Scales))]
    public void OneElementPastTheEdgeSkipsTheStepWithNothingChanged(double scale)
    {
        float past = MathF.BitIncrement(ScaledGradientEdge.Largest(scale));
        Assert.True(float.IsInfinity(past * (float)scale));
        var options = new StepOptions { SkipNonFinite = true, GradientScale = scale };
        int[] lengths = ScaledGradientEdge.Lengths;

        // In every tensor, at a vector position, a scalar tail and (in the long tensor) the second piece.
        for (int j = 0; j < lengths.Length; j++)
        {
            foreach (int i in new[] { 0, lengths[j] - 1, ScaledGradientEdge.SecondPiece }.Where(i => i < lengths[j]).Distinct())
            {
                var optimizer = new SgdMomentum(new ParameterLayout(ScaledGradientEdge.GroupLengths)) { LearningRate = 1e-30 };
                var random = new Random(7);
                float[][] p = Tensors(random, lengths);
                Assert.False(optimizer.Step(AsMemory(p), AsReadOnly(Tensors(random, lengths)), options).Skipped);
                var before = Snapshot.Of(optimizer);
                float[][] pBefore = Clone(p);
                float[][] g = ScaledGradientEdge.Gradients(random, ScaledGradientEdge.Largest(scale));
                g[j][i] = j % 2 == 0 ? past : -past;

                StepResult result = optimizer.Step(AsMemory(p), AsReadOnly(g), options);

                string what = $"scale {scale}, tensor {j}[{i}]";
                Assert.True(result.Skipped, what);
                Assert.True(result.FoundNonFinite, what);
                Assert.Equal(1, result.StepCount);
                AssertUnchanged(before, optimizer);
                for (int k = 0; k < p.Length; k++)
                {
                    AssertBitwiseEqual(pBefore[k], p[k], $"{what}: tensor {k}");
                }
            }
        }
    }

    [Fact]
    public void OneTensorAtTheEdgeIsSteppedAndOnePastItIsSkipped()
    {
        const double Scale = 4.5;
        float edge = ScaledGradientEdge.Largest(Scale);
        var options = new StepOptions { SkipNonFinite = true, GradientScale = Scale };
        var optimizer = new SgdMomentum(1025) { LearningRate = 1e-30 };
        float[] p = Random(new Random(11), 1025);
        float[] g = Enumerable.Range(0, 1025).Select(i => i % 3 == 0 ? edge : -edge).ToArray();
        Assert.False(optimizer.Step(p, g, options).Skipped);
        Assert.All(p, x => Assert.True(float.IsFinite(x)));

        float[] before = (float[])p.Clone();
        var state = Snapshot.Of(optimizer);
        g[1024] = -MathF.BitIncrement(edge);
        StepResult result = optimizer.Step(p, g, options);
        Assert.True(result.Skipped);
        AssertUnchanged(state, optimizer);
        AssertBitwiseEqual(before, p, "parameters");
    }

    [Fact]
    public void HalfAndBFloat16GradientsAreTestedAsTheKernelWidensThem()
    {
        // 65504 (float16's maximum) times a scale: the edge is on the scale's side here (the product commutes).
        float f = ScaledGradientEdge.Largest(65504);

        var sgd = new Sgd(40) { LearningRate = 1e-30 };
        float[] p = new float[40];
        Half[] half = Enumerable.Repeat((Half)65504f, 40).ToArray();
        Assert.False(sgd.Step(p, half, new StepOptions { SkipNonFinite = true, GradientScale = f }).Skipped);
        double expected = -1e-30 * (65504.0 * f);
        Assert.All(p, x => Assert.True(Math.Abs(x - expected) <= 1e-6 * Math.Abs(expected), $"{x} vs {expected}"));
        float[] before = (float[])p.Clone();
        Assert.True(sgd.Step(p, half, new StepOptions { SkipNonFinite = true, GradientScale = MathF.BitIncrement(f) }).Skipped);
        AssertBitwiseEqual(before, p, "parameters");

        // bfloat16 reaches float32's exponent range: 1.5·10³⁸ (rounded to bfloat16) times 2 is finite, times 2.5 is not.
        float large = (float)(BFloat16)1.5e38f;
        BFloat16[] brain = Enumerable.Range(0, 40).Select(i => (BFloat16)(i == 37 ? large : 1f)).ToArray();
        Assert.False(sgd.Step(p, brain, new StepOptions { SkipNonFinite = true, GradientScale = 2 }).Skipped);
        Assert.True(float.IsFinite(p[37]));
        before = (float[])p.Clone();
        Assert.True(sgd.Step(p, brain, new StepOptions { SkipNonFinite = true, GradientScale = 2.5 }).Skipped);
        AssertBitwiseEqual(before, p, "parameters");
    }
}
