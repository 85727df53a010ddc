using System;
using System.Linq;
using OptGen.Samples.Theory;
using Xunit;

namespace OptGen.Samples.Tests;

/// <summary>
/// Each of the seven theory demos at a small size with a fixed seed. A measured quantity must lie within
/// <see cref="K"/> standard errors of its exact prediction; the standard errors are estimated by the demos from
/// the samples themselves (fourth moments, or batch means over well-separated snapshots). With K = 4 a correct
/// simulation fails a single comparison with probability ≈ 6·10⁻⁵. Where the lecture's prediction is only the
/// leading order (continuous time, first order in η), it is checked with its exact higher-order gap added, and
/// where the gap is large the test also shows the data can tell the two apart.
/// </summary>
public sealed class TheoryDemoTests
{
    private const double K = 4;

    [Fact]
    public void GradientNoise_HasMeanZeroAndVarianceSigmaSquaredOverB()
    {
        DemoResult result = GradientNoiseDemo.Run(new(Replicas: 4000, BatchSizes: [1, 4, 16], Seed: 11));
        Assert.Equal(6, result.Measurements.Count);
        AssertAllWithin(result);
        Measurement b1 = result.Measurements.Single(m => m.Quantity == "Var[Δβ], B = 1");
        Measurement b16 = result.Measurements.Single(m => m.Quantity == "Var[Δβ], B = 16");

        // The claim itself: 16 times the batch, a sixteenth of the variance (ratio within its propagated error).
        double ratio = b1.Measured / b16.Measured;
        double ratioSe = ratio * Math.Sqrt(Math.Pow(b1.StandardError / b1.Measured, 2) + Math.Pow(b16.StandardError / b16.Measured, 2));
        Assert.InRange(ratio, 16 - (K * ratioSe), 16 + (K * ratioSe));
    }

    [Fact]
    public void Temperature_StationaryVarianceIsTheExactDiscreteOne()
    {
        DemoResult result = TemperatureDemo.Run(new(Chains: 2048, LearningRates: [0.1, 0.4], Snapshots: 16, Seed: 12));
        Measurement[] exact = result.Measurements.Where(m => m.Source.StartsWith("discrete", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, exact.Length);
        Assert.All(exact, m => AssertWithin(m, K));
        Assert.Equal(0.1 / 1.9, exact[0].Predicted, 12);

        // The lecture's continuous law ησ²/2 is the η → 0 limit: at η = 0.4 the data reject it (the discrete
        // variance is 2/(2 − η) = 1.25 times larger) while at both η it holds up to that exact gap.
        Measurement[] continuous = result.Measurements.Where(m => m.Source.StartsWith("lecture", StringComparison.Ordinal)).ToArray();
        Assert.All(continuous, m => AssertWithin(m, K));
        Assert.True(Math.Abs(continuous[1].Measured - continuous[1].Predicted) > 10 * continuous[1].StandardError);
        Assert.Equal(0.2, continuous[1].Predicted, 12);
    }

    [Fact]
    public void QuadraticBasin_ExcessLossAndExtrapolation()
    {
        DemoResult result = QuadraticBasinDemo.Run(new(Chains: 1024, LearningRate: 0.05, Snapshots: 12, Seed: 13));
        AssertAllWithin(result);
        Measurement excess = result.Measurements.First(m => m.Quantity == "L(η) − L*, η = 0.05");
        Measurement extrapolated = result.Measurements.Last();

        // The extrapolation removes the first-order term: it misses L* by less than a tenth of what L(η) does.
        Assert.True(Math.Abs(extrapolated.Measured - extrapolated.Predicted) < 0.1 * excess.Measured);

        // The theorem's slope, from the two measured points: (L(η) − L(η/2))/(η/2) ≈ E‖gᵢ‖²/4 to first order.
        var problem = new QuadraticProblem(QuadraticBasinDemo.Curvatures, QuadraticBasinDemo.Examples, 13);
        Measurement half = result.Measurements.First(m => m.Quantity == "L(η) − L*, η = 0.025");
        double slope = (excess.Measured - half.Measured) / 0.025;
        double slopeSe = Math.Sqrt((excess.StandardError * excess.StandardError) + (half.StandardError * half.StandardError)) / 0.025;
        double exactSlope = (problem.StationaryExcess(0.05) - problem.StationaryExcess(0.025)) / 0.025;
        Assert.InRange(slope, exactSlope - (K * slopeSe), exactSlope + (K * slopeSe));
        Assert.InRange(exactSlope / (problem.GradientNormSquared / 4), 1.0, 1.15);
    }

    [Fact]
    public void BatchScaling_RescaledRunsShareOneCurveAgainstExamplesSeen()
    {
        var options = new BatchScalingDemo.Options(Chains: 512, Seed: 14);
        var curves = BatchScalingDemo.RunCurves(options);
        Assert.Equal(5, curves.Count);
        foreach (var curve in curves)
        {
            for (int k = 0; k < curve.Examples.Length; k += 20)
            {
                // Plus float32 storage rounding of Φ (relative 1e-6), which is all there is at n = 0.
                double tolerance = (K * curve.StandardError[k]) + (1e-6 * curve.Predicted[k]);
                Assert.InRange(curve.Measured[k], curve.Predicted[k] - tolerance, curve.Predicted[k] + tolerance);
            }
        }

        // Rescaled (B = 4, 16 with η = Bη₁, N = N₁/B): within 10% of B = 1 at every checkpoint, up to sampling error.
        foreach (var scaled in curves.Skip(1).Take(2))
        {
            for (int k = 0; k < scaled.Examples.Length; k++)
            {
                double tolerance = (0.1 * curves[0].Measured[k]) + (K * Math.Sqrt(Math.Pow(scaled.StandardError[k], 2) + Math.Pow(curves[0].StandardError[k], 2)));
                Assert.True(Math.Abs(scaled.Measured[k] - curves[0].Measured[k]) <= tolerance, $"{scaled.Label} at n = {scaled.Examples[k]}");
            }
        }

        // Not rescaled: B = 16 at η₁, N₁ is far behind at the end.
        Assert.True(curves[4].Measured[^1] > 3 * curves[0].Measured[^1]);
        Assert.True(BatchScalingDemo.MaxRelativeGap(curves[0].Predicted, curves[2].Predicted) < 0.1);
        Assert.Equal([16.0, 4, 1, 16, 16], curves.Select(c => c.MomentumLength));
    }

    [Fact]
    public void MomentRecursion_WithoutMomentumReachesTheClosedFormStationaryLoss()
    {
        // β = 0 reduces the (Δ, μ) recursion to plain SGD, whose stationary excess is ½Σh·ηhv/(2 − ηh).
        var problem = new QuadraticProblem(QuadraticBasinDemo.Curvatures, QuadraticBasinDemo.Examples, 1);
        double[] curve = problem.ExactExcessCurve(new double[problem.Dimension], 1, _ => 0.05, 4000, beta: 0);
        Assert.Equal(problem.StationaryExcess(0.05), curve[^1], 12);

        // With EMA momentum the recursion starts from the offset's loss, and its noise floor is SGD's to leading
        // order in η (the lecture: EMA momentum leaves the temperature set by η alone): 0.985× at η = 0.01.
        double[] offset = [1, 1, 1, 1];
        double[] momentum = problem.ExactExcessCurve(offset, 1, _ => 0.01, 20000, beta: 0.9);
        Assert.Equal(0.5 * (0.5 + 1 + 2 + 4), momentum[0], 12);
        Assert.InRange(momentum[^1] / problem.StationaryExcess(0.01), 0.97, 1.0);
    }

    [Fact]
    public void BiasCorrection_MatchesTheExpectedAverages()
    {
        DemoResult result = BiasCorrectionDemo.Run(new(Replicas: 1024, Steps: 200, Seed: 15));
        AssertAllWithin(result);

        // The lecture's early-step bias: E μ̂₁ = μ/N without correction, μ with either correction.
        Measurement uncorrected = result.Measurements.Single(m => m.Quantity == "E μ̂, no correction, t = 1");
        Assert.Equal(1.0 / BiasCorrectionDemo.Length, uncorrected.Predicted, 12);
        Assert.Equal(1.0, result.Measurements.Single(m => m.Quantity == "E μ̂, ÷ (1 − βᵗ), t = 1").Predicted, 12);
        Assert.Equal(1.0, result.Measurements.Single(m => m.Quantity == "E μ̂, 1/min(t, N), t = 1").Predicted, 12);

        // Tracking: 100 steps after the jump to 3, 1/min(t, N) is near 3, 1/t is still near 2.
        Measurement minT = result.Measurements.Single(m => m.Quantity == "E μ̂, 1/min(t, N), t = 200");
        Measurement cumulative = result.Measurements.Single(m => m.Quantity == "E μ̂, 1/t, t = 200");
        Assert.InRange(minT.Measured, 2.6, 3.0);
        Assert.InRange(cumulative.Measured, 1.9, 2.1);
    }

    [Fact]
    public void BiasCorrection_PredictionsFollowTheClosedForms()
    {
        double[][] predicted = BiasCorrectionDemo.PredictedMeans(400); // the signal is 1 up to t = 200
        double beta = 1 - (1.0 / BiasCorrectionDemo.Length);
        for (int t = 1; t <= 40; t++)
        {
            Assert.Equal(1 - Math.Pow(beta, t), predicted[0][t], 12);
            Assert.Equal(1.0, predicted[1][t], 12);
            Assert.Equal(1.0, predicted[2][t], 12);
        }
    }

    [Fact]
    public void Convergence_SummableScheduleStallsTheOthersDoNot()
    {
        DemoResult result = ConvergenceDemo.Run(new(Chains: 512, Steps: 1000, Seed: 16));
        AssertAllWithin(result);
        Measurement decaying = result.Measurements.Single(m => m.Quantity.StartsWith("E x_T², ηₜ = 0.5·20", StringComparison.Ordinal));
        Measurement stalled = result.Measurements.Single(m => m.Quantity == "E x_T, summable: stall point");
        Measurement constant = result.Measurements.Single(m => m.Quantity.StartsWith("E x_T², ηₜ = 0.5 constant", StringComparison.Ordinal));
        Assert.True(decaying.Measured < 0.01);
        Assert.True(stalled.Measured > 0.3);
        Assert.InRange(constant.Measured, 0.25, 0.45); // the noise floor ησ²/(2 − η) = 1/3
    }

    [Fact]
    public void Langevin_SamplesTheDiscreteChainsLawAndApproachesGibbs()
    {
        DemoResult result = LangevinDemo.Run(new(Chains: 1024, Snapshots: 12, Seed: 17));
        Assert.Equal(6, result.Measurements.Count);
        AssertAllWithin(result);

        // The discrete chain's law is within O(η) of exp(−L/T): the gaps are a few per cent at η = 0.02.
        foreach (Measurement gibbs in result.Measurements.Where(m => m.Source.StartsWith("Gibbs", StringComparison.Ordinal)))
        {
            Assert.True(gibbs.Allowance < 0.05 * gibbs.Predicted, gibbs.Quantity);
        }
    }

    [Fact]
    public void Langevin_GridLawTendsToGibbsAsTheStepShrinks()
    {
        double[] grid = LangevinDemo.Grid(-3, 3, 301);
        double[] gibbs = LangevinDemo.Moments(grid, LangevinDemo.GibbsWeights(grid, 0.25));
        double gapLarge = LangevinDemo.Moments(grid, LangevinDemo.DiscreteWeights(grid, 0.04, 0.25))[0] - gibbs[0];
        double gapSmall = LangevinDemo.Moments(grid, LangevinDemo.DiscreteWeights(grid, 0.02, 0.25))[0] - gibbs[0];

        // First order in η: halving η halves the gap.
        Assert.InRange(gapSmall / gapLarge, 0.4, 0.6);
    }

    private static void AssertAllWithin(DemoResult result)
    {
        Assert.NotEmpty(result.Measurements);
        Assert.All(result.Measurements, m => AssertWithin(m, K));
        Assert.NotEmpty(result.Plots);
    }

    private static void AssertWithin(Measurement m, double k)
    {
        Assert.True(m.StandardError > 0 && double.IsFinite(m.Measured), $"{m.Quantity}: no estimate");
        Assert.True(m.Within(k), $"{m.Quantity}: measured {m.Measured} ± {m.StandardError}, predicted {m.Predicted} ({m.Source}), allowance {m.Allowance}, z = {m.ZScore:F2}");
    }
}
