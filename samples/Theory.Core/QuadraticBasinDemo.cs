using System;
using System.Collections.Generic;

namespace OptGen.Samples.Theory;

/// <summary>
/// Demo 3, the quadratic-basin theorem: for SGD (B = 1) at constant η in a quadratic basin,
/// L(η) − L(Φ*) ≈ (η/4)·Eᵢ‖gᵢ‖², hence L(Φ*) ≈ 2L(η/2) − L(η).
/// </summary>
/// <remarks>
/// The exact stationary excess for the discrete update is ½ Σₖ hₖ · ηhₖvₖ/(2 − ηhₖ) (each coordinate is an AR(1)
/// process), whose first-order term is the theorem's (η/4)Σₖhₖ²vₖ. The tests hold the simulation to the exact
/// value (4 SE) and the theorem to it with the second-order gap as allowance; the extrapolation 2L(η/2) − L(η)
/// removes the first-order term and leaves an O(η²) residual, also computed exactly.
/// </remarks>
public static class QuadraticBasinDemo
{
    /// <summary>Settings.</summary>
    /// <param name="Chains">Independent SGD chains.</param>
    /// <param name="LearningRate">η (the run at η/2 is added).</param>
    /// <param name="ExtraRates">More η for the plot only.</param>
    /// <param name="Snapshots">Snapshots per run, 3/(η·h_min) steps apart.</param>
    /// <param name="Seed">Seed.</param>
    public sealed record Options(int Chains = 4096, double LearningRate = 0.05, double[]? ExtraRates = null, int Snapshots = 16, ulong Seed = 3);

    /// <summary>The basin's curvatures.</summary>
    public static readonly double[] Curvatures = [0.5, 1, 2, 4];

    /// <summary>The size of the training set.</summary>
    public const int Examples = 32;

    /// <summary>Runs the demo.</summary>
    public static DemoResult Run(Options options)
    {
        var problem = new QuadraticProblem(Curvatures, Examples, options.Seed);
        double eta = options.LearningRate;
        (double full, double fullSe) = StationaryLoss(problem, options, eta, 1);
        (double half, double halfSe) = StationaryLoss(problem, options, eta / 2, 2);
        double lStar = problem.OptimalLoss;
        double g2 = problem.GradientNormSquared;
        var measurements = new List<Measurement>();
        foreach ((double rate, double measured, double se) in new[] { (eta, full, fullSe), (eta / 2, half, halfSe) })
        {
            double exact = problem.StationaryExcess(rate);
            measurements.Add(new Measurement($"L(η) − L*, η = {rate}", measured, se, exact, "discrete exact ½Σh·ηhv/(2 − ηh)"));
            measurements.Add(new Measurement($"L(η) − L*, η = {rate}", measured, se, rate / 4 * g2, "theorem (η/4)E‖gᵢ‖²", Math.Abs(exact - (rate / 4 * g2))));
        }

        double extrapolated = (2 * (lStar + half)) - (lStar + full);
        double extrapolatedSe = Math.Sqrt((4 * halfSe * halfSe) + (fullSe * fullSe));
        double residual = (2 * problem.StationaryExcess(eta / 2)) - problem.StationaryExcess(eta);
        measurements.Add(new Measurement("2L(η/2) − L(η)", extrapolated, extrapolatedSe, lStar + residual, "discrete exact: L* + O(η²) residual"));
        measurements.Add(new Measurement("2L(η/2) − L(η)", extrapolated, extrapolatedSe, lStar, "extrapolation: L(Φ*)", Math.Abs(residual)));

        var rates = new List<double>(options.ExtraRates ?? []) { eta, eta / 2 };
        rates.Sort();
        var measuredX = new List<double>();
        var measuredY = new List<double>();
        int stream = 3;
        foreach (double rate in rates)
        {
            double value = rate == eta ? full : rate == eta / 2 ? half : StationaryLoss(problem, options, rate, (ulong)stream++).Mean;
            measuredX.Add(rate);
            measuredY.Add(lStar + value);
        }

        var lineX = new double[41];
        var theorem = new double[41];
        var exactLine = new double[41];
        double top = rates[^1] * 1.1;
        for (int i = 0; i < lineX.Length; i++)
        {
            lineX[i] = top * i / 40;
            theorem[i] = lStar + (lineX[i] / 4 * g2);
            exactLine[i] = lStar + problem.StationaryExcess(lineX[i]);
        }

        PlotSpec plot = new(
            "3-quadratic-basin.png",
            "Quadratic basin: L(η) ≈ L(Φ*) + (η/4)·E‖gᵢ‖²; extrapolation 2L(η/2) − L(η)",
            "η",
            "stationary loss L(η)",
            [
                new PlotSeries("theorem L* + (η/4)E‖gᵢ‖²", lineX, theorem, SeriesStyle.Line),
                new PlotSeries("discrete exact", lineX, exactLine, SeriesStyle.Dashed),
                new PlotSeries("SGD measured", [.. measuredX], [.. measuredY], SeriesStyle.Markers),
                new PlotSeries("extrapolated 2L(η/2) − L(η) at η = 0", [0.0], [extrapolated], SeriesStyle.Markers),
            ],
            "LowerRight");
        return new DemoResult(
            "quadratic-basin",
            "L(η) − L(Φ*) ≈ (η/4)·Eᵢ‖gᵢ‖², and L(Φ*) ≈ 2L(η/2) − L(η).",
            measurements,
            [plot],
            [$"d = {problem.Dimension}, h = (0.5, 1, 2, 4), n = {Examples} examples, {options.Chains} chains of SGD with B = 1 (OptGen Sgd), L* = {lStar:G5}, E‖gᵢ‖² = {g2:G5}.",
             $"The extrapolation misses L* by {Math.Abs(extrapolated - lStar):G3}; L(η) itself misses it by {full:G3}.",
             "Tested: the exact discrete excess within 4 SE; the theorem and the extrapolation within 4 SE plus their exact higher-order gaps (allowance)."]);
    }

    /// <summary>The stationary mean excess loss at η (batch means over snapshots).</summary>
    public static (double Mean, double StandardError) StationaryLoss(QuadraticProblem problem, Options options, double eta, ulong stream)
    {
        int chains = options.Chains;
        int d = problem.Dimension;
        var phi = new float[chains * d];
        var gradient = new float[chains * d];
        for (int c = 0; c < chains; c++)
        {
            for (int k = 0; k < d; k++)
            {
                phi[(c * d) + k] = (float)problem.Optimum[k];
            }
        }

        var sgd = new Sgd(phi.Length) { LearningRate = eta };
        double hMin = double.MaxValue;
        foreach (double h in problem.Curvature)
        {
            hMin = Math.Min(hMin, h);
        }

        int burnIn = (int)Math.Ceiling(8 / (eta * hMin));
        int spacing = (int)Math.Ceiling(3 / (eta * hMin));
        var estimates = new List<double>();
        long step = 0;
        for (int snapshot = 0; snapshot < options.Snapshots; snapshot++)
        {
            int count = snapshot == 0 ? burnIn : spacing;
            for (int s = 0; s < count; s++, step++)
            {
                problem.BatchGradients(phi, gradient, chains, 1, options.Seed, stream, step);
                sgd.Step(phi, gradient);
            }

            double sum = 0;
            for (int c = 0; c < chains; c++)
            {
                sum += problem.ExcessLoss(phi.AsSpan(c * d, d));
            }

            estimates.Add(sum / chains);
        }

        return Statistics.BatchMeans(estimates);
    }
}
