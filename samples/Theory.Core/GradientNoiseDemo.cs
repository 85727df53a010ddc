using System;
using System.Collections.Generic;

namespace OptGen.Samples.Theory;

/// <summary>
/// Demo 1, the lecture's one-dimensional example: loss(β, y) = ½(β − y)², so ĝ = β − mean_batch(y). At the optimum
/// β* = E y the full gradient is 0 but ĝ is not: it has mean 0 and variance σ²/B. One SGD step (OptGen's
/// <see cref="Sgd"/>) from β* therefore moves by η·ĝ, whose variance is η²σ²/B.
/// </summary>
public static class GradientNoiseDemo
{
    /// <summary>Settings.</summary>
    /// <param name="Replicas">Independent batches (one parameter each) per batch size.</param>
    /// <param name="BatchSizes">The batch sizes B.</param>
    /// <param name="LearningRate">η of the single SGD step.</param>
    /// <param name="Seed">Seed of the counter-based RNG.</param>
    public sealed record Options(int Replicas = 20000, int[]? BatchSizes = null, double LearningRate = 0.5, ulong Seed = 1)
    {
        /// <summary>The batch sizes, default 1, 2, 4, …, 64.</summary>
        public int[] Sizes => BatchSizes ?? [1, 2, 4, 8, 16, 32, 64];
    }

    /// <summary>The population mean μ of y.</summary>
    public const double PopulationMean = 2.0;

    /// <summary>The population standard deviation σ of y.</summary>
    public const double PopulationSigma = 1.5;

    /// <summary>Runs the demo.</summary>
    public static DemoResult Run(Options options)
    {
        var measurements = new List<Measurement>();
        var sizes = new List<double>();
        var measuredVar = new List<double>();
        var predictedVar = new List<double>();
        double eta = options.LearningRate;
        int r = options.Replicas;
        var beta = new float[r];
        var gradient = new float[r];
        var sgd = new Sgd(r) { LearningRate = eta };
        var steps = new double[r];
        foreach (int b in options.Sizes)
        {
            // Every replica starts at the optimum β* = μ and draws its own batch of B examples.
            Array.Fill(beta, (float)PopulationMean);
            for (int i = 0; i < r; i++)
            {
                double sum = 0;
                for (int k = 0; k < b; k++)
                {
                    sum += PopulationMean + (PopulationSigma * CounterRng.Normal(options.Seed, (ulong)b, k, i));
                }

                gradient[i] = (float)(PopulationMean - (sum / b));
            }

            sgd.Step(beta, gradient);
            for (int i = 0; i < r; i++)
            {
                steps[i] = beta[i] - PopulationMean;
            }

            (double mean, double meanSe) = Statistics.Mean(steps);
            (double variance, double varianceSe) = Statistics.VarianceAbout(steps, 0);
            double predicted = eta * eta * PopulationSigma * PopulationSigma / b;
            measurements.Add(new Measurement($"E[Δβ], B = {b}", mean, meanSe, 0, "E ĝ = 0 at β*"));
            measurements.Add(new Measurement($"Var[Δβ], B = {b}", variance, varianceSe, predicted, "η²σ²/B"));
            sizes.Add(b);
            measuredVar.Add(Math.Log2(variance));
            predictedVar.Add(Math.Log2(predicted));
        }

        PlotSpec plot = new(
            "1-gradient-noise.png",
            "At the optimum the batch gradient is noise: Var(η·ĝ) = η²σ²/B",
            "log₂ B",
            "log₂ Var(step)",
            [
                new PlotSeries("predicted η²σ²/B", Log2(sizes), [.. predictedVar], SeriesStyle.Line),
                new PlotSeries("measured", Log2(sizes), [.. measuredVar], SeriesStyle.Markers),
            ]);
        return new DemoResult(
            "gradient-noise",
            "At the optimum β* the batch gradient ĝ is not zero; its variance is σ²/B.",
            measurements,
            [plot],
            [$"{r} replicas per B, y ~ N({PopulationMean}, {PopulationSigma}²); one OptGen Sgd step with η = {eta} from β*.",
             "Both predictions are exact; standard errors come from each sample's own fourth moment."]);
    }

    private static double[] Log2(List<double> values)
    {
        var result = new double[values.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = Math.Log2(values[i]);
        }

        return result;
    }
}
