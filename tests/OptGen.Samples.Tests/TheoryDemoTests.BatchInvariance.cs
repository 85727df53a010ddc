using System.Collections.Generic;
using System;
using System.Linq;
using OptGen.Samples.Theory;
using Xunit;
using static OptGen.Samples.Theory.BatchInvarianceDemo;

namespace OptGen.Samples.Tests;

/// <summary>
/// Demo 8 at a small size: the lecture's three batch-size statements for Adam, each measured against its prediction,
/// and the loss curves' spread across B = 1, 4, 16, 64 (tolerances from the spreads the full demo measures:
/// per-example squares 0.5%, √B 11%, standard with η = Bη′ 86%; docs/samples.md).
/// </summary>
public sealed class BatchInvarianceDemoTests
{
    private const double K = 4;

    private static readonly Options Small = new(Chains: 128, Examples: 8192, DriftExamples: 4096, Seed: 19);

    [Theory]
    [InlineData(0.02)]
    [InlineData(6.0)]
    public void SecondMomentAndDriftAreTheLecturesAtEveryBatchSize(double mean)
    {
        IReadOnlyList<Mechanism> results = RunMechanism(Small, mean);
        Assert.Equal(12, results.Count);
        foreach (Mechanism m in results)
        {
            double s = PredictedS(m.Family, m.Batch, mean, Small.Sigma);
            Assert.True(Math.Abs(m.S - s) <= K * m.SStandardError, $"s of {m.Family} at B = {m.Batch}: {m.S} vs {s}");
            double drift = PredictedDrift(m.Family, m.Batch, mean, Small.Sigma, Small.LearningRate);
            Assert.True(Math.Abs(m.Drift - drift) <= (K * m.DriftStandardError) + (0.02 * Math.Abs(drift)), $"drift of {m.Family} at B = {m.Batch}: {m.Drift} vs {drift}");
        }

        double Drift(Family family, int batch) => results.Single(r => r.Family == family && r.Batch == batch).Drift;

        // Per-example squares: the same step per example at every B, noise- or signal-dominated.
        Assert.InRange(Drift(Family.PerExampleSquares, 64) / Drift(Family.PerExampleSquares, 1), 0.97, 1.03);
        if (mean > 1)
        {
            // μ² ≫ σ²: η = √B·η₀ gives a step per example 1/√B as large (1/8 at B = 64).
            Assert.InRange(Drift(Family.SquareRootScaling, 64) / Drift(Family.SquareRootScaling, 1), 0.12, 0.14);
        }
        else
        {
            // σ²/B ≫ μ²: η = √B·η₀ keeps the step per example; η = B·η′ multiplies it by about √B.
            Assert.InRange(Drift(Family.SquareRootScaling, 64) / Drift(Family.SquareRootScaling, 1), 0.85, 1.15);
            Assert.InRange(Drift(Family.LinearScaling, 64) / Drift(Family.LinearScaling, 1), 6, 9);
        }
    }

    [Fact]
    public void PerExampleSquaresCurvesCoincideAndStandardAdamsDoNot()
    {
        IReadOnlyList<Curve> curves = RunCurves(Small);
        Assert.Equal(12, curves.Count);
        (double squares, _) = Spread(curves, Family.PerExampleSquares);
        (double root, _) = Spread(curves, Family.SquareRootScaling);
        (double linear, _) = Spread(curves, Family.LinearScaling);
        Assert.True(squares < 0.03, $"per-example squares spread {squares:P1}");
        Assert.True(root < 0.15, $"√B spread {root:P1}");
        Assert.True(linear > 0.5, $"η = Bη′ spread {linear:P1}");

        // The loss falls: the curves are not flat.
        Curve reference = curves.First(c => c.Family == Family.PerExampleSquares && c.Batch == 1);
        Assert.True(reference.Loss[^1] < 0.7 * reference.Loss[0]);
    }
}
