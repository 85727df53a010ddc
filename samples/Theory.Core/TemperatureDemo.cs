using System;
using System.Collections.Generic;

namespace OptGen.Samples.Theory;

/// <summary>
/// Demo 2, learning rate as temperature. SGD on L(x) = x²/2 with gradient noise, ĝ = x + σξ, ξ ~ N(0, 1):
/// x ← x − η(x + σξ) = (1 − η)x − ησξ.
/// </summary>
/// <remarks>
/// The lecture's continuous (Langevin) prediction is p(x) ∝ exp(−2L(x)/(ησ²)) = exp(−x²/(ησ²)): a Gaussian of
/// variance ησ²/2. The discrete update is an AR(1) process whose stationary law is exactly Gaussian with variance
/// V = η²σ²/(1 − (1 − η)²) = ησ²/(2 − η), i.e. the continuous value times 2/(2 − η) = 1 + η/2 + O(η²). The
/// exact discrete variance is what the tests hold the simulation to (within a few standard errors); the continuous
/// one is reported next to it with the gap ησ²/2 · η/(2 − η) as its allowance.
/// </remarks>
public static class TemperatureDemo
{
    /// <summary>Settings.</summary>
    /// <param name="Chains">Independent chains (one parameter each).</param>
    /// <param name="LearningRates">The two (or more) η.</param>
    /// <param name="Sigma">The gradient-noise standard deviation σ.</param>
    /// <param name="Snapshots">Snapshots per chain, 3/η steps apart (correlation e⁻³ ≈ 0.05).</param>
    /// <param name="Seed">Seed of the counter-based RNG.</param>
    public sealed record Options(int Chains = 8192, double[]? LearningRates = null, double Sigma = 1.0, int Snapshots = 24, ulong Seed = 2)
    {
        /// <summary>The learning rates, default 0.05 and 0.4.</summary>
        public double[] Rates => LearningRates ?? [0.05, 0.4];
    }

    /// <summary>The exact stationary variance of the discrete update, ησ²/(2 − η).</summary>
    public static double DiscreteVariance(double eta, double sigma) => eta * sigma * sigma / (2 - eta);

    /// <summary>The continuous-time (Langevin) stationary variance, ησ²/2, from p ∝ exp(−2L/(ησ²)).</summary>
    public static double ContinuousVariance(double eta, double sigma) => eta * sigma * sigma / 2;

    /// <summary>Runs the demo.</summary>
    public static DemoResult Run(Options options)
    {
        var measurements = new List<Measurement>();
        var series = new List<PlotSeries>();
        int n = options.Chains;
        double sigma = options.Sigma;
        foreach (double eta in options.Rates)
        {
            var x = new float[n];
            var g = new float[n];
            var sgd = new Sgd(n) { LearningRate = eta };
            int burnIn = (int)Math.Ceiling(10 / eta);
            int spacing = (int)Math.Ceiling(3 / eta);
            var estimates = new List<double>();
            var pooled = new List<double>();
            long step = 0;
            ulong key = CounterRng.Key(options.Seed, (ulong)(eta * 1e6));
            for (int snapshot = 0; snapshot < options.Snapshots; snapshot++)
            {
                int count = snapshot == 0 ? burnIn : spacing;
                for (int s = 0; s < count; s++, step++)
                {
                    for (int i = 0; i < n; i++)
                    {
                        g[i] = (float)(x[i] + (sigma * CounterRng.NormalFromKey(key, step, i)));
                    }

                    sgd.Step(x, g);
                }

                double sum = 0;
                for (int i = 0; i < n; i++)
                {
                    sum += (double)x[i] * x[i];
                    pooled.Add(x[i]);
                }

                estimates.Add(sum / n);
            }

            (double variance, double se) = Statistics.BatchMeans(estimates);
            double exact = DiscreteVariance(eta, sigma);
            double continuous = ContinuousVariance(eta, sigma);
            measurements.Add(new Measurement($"Var x, η = {eta}", variance, se, exact, "discrete: ησ²/(2 − η)"));
            measurements.Add(new Measurement($"Var x, η = {eta}", variance, se, continuous, "lecture: exp(−2L/(ησ²)) → ησ²/2", Math.Abs(exact - continuous)));

            // Histogram of the pooled snapshots against the two densities.
            double half = 4 * Math.Sqrt(exact);
            (double[] centers, double[] density) = Histogram(pooled, -half, half, 60);
            series.Add(new PlotSeries($"SGD histogram, η = {eta}", centers, density, SeriesStyle.Steps));
            series.Add(new PlotSeries($"exp(−2L/(ησ²)), η = {eta}", centers, Gaussian(centers, continuous), SeriesStyle.Line));
            series.Add(new PlotSeries($"discrete exact, η = {eta}", centers, Gaussian(centers, exact), SeriesStyle.Dashed));
        }

        return new DemoResult(
            "temperature",
            "SGD with gradient noise on a quadratic reaches p(x) ∝ exp(−2L(x)/(ησ²)): η acts as a temperature.",
            measurements,
            [new PlotSpec("2-temperature.png", "Learning rate as temperature: SGD on L = x²/2 with gradient noise", "x", "density", series)],
            [$"{n} chains, σ = {sigma}, x₀ = 0, burn-in 10/η steps, {options.Snapshots} snapshots 3/η steps apart; SE by batch means over snapshots.",
             "Tested: the exact discrete variance ησ²/(2 − η) within 4 SE. The continuous prediction ησ²/2 differs from it by the factor 2/(2 − η) (allowance column)."]);
    }

    /// <summary>A normalized histogram (density) of <paramref name="values"/> on [lo, hi).</summary>
    public static (double[] Centers, double[] Density) Histogram(IReadOnlyList<double> values, double lo, double hi, int bins)
    {
        var counts = new double[bins];
        double width = (hi - lo) / bins;
        foreach (double v in values)
        {
            int k = (int)Math.Floor((v - lo) / width);
            if (k >= 0 && k < bins)
            {
                counts[k]++;
            }
        }

        var centers = new double[bins];
        for (int k = 0; k < bins; k++)
        {
            centers[k] = lo + ((k + 0.5) * width);
            counts[k] /= values.Count * width;
        }

        return (centers, counts);
    }

    private static double[] Gaussian(double[] x, double variance)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = Math.Exp(-x[i] * x[i] / (2 * variance)) / Math.Sqrt(2 * Math.PI * variance);
        }

        return y;
    }
}
