using System;
using System.Collections.Generic;

namespace OptGen.Samples.Theory;

/// <summary>
/// Demo 5, bias correction of running averages. A noisy signal xₜ = μₜ + ξₜ (μ = 1, jumping to 3 half way) is
/// averaged by four declared OptGen rules (<see cref="EmaUncorrected"/>, <see cref="EmaPowerCorrected"/>,
/// <see cref="EmaMinT"/>, <see cref="CumulativeAverage"/>); with η = 1 and the parameter reset to 0 before each
/// step, the step writes −(the rule's corrected average) into the parameter, so the kernel itself is measured.
/// </summary>
/// <remarks>
/// Predictions, from the update formulas in float64 on the means: the uncorrected average has
/// E μ̂ₜ = (1 − (1 − 1/N)ᵗ)μ ≈ (t/N)μ for t ≪ N (the lecture's early-step bias); dividing by 1 − βᵗ and the
/// 1/min(t, N) weights are both unbiased from t = 1 and track the jump; the 1/t average is unbiased at first but
/// fails to track the jump.
/// </remarks>
public static class BiasCorrectionDemo
{
    /// <summary>N, the running average's length.</summary>
    public const int Length = 50;

    /// <summary>Settings.</summary>
    /// <param name="Replicas">Independent noisy sequences (one parameter each).</param>
    /// <param name="Steps">Sequence length; μ jumps from 1 to 3 after <c>Steps / 2</c>.</param>
    /// <param name="Seed">Seed.</param>
    public sealed record Options(int Replicas = 4096, int Steps = 200, ulong Seed = 5);

    /// <summary>The signal μₜ (t ≥ 1).</summary>
    public static double Signal(int t, int steps) => t <= steps / 2 ? 1.0 : 3.0;

    /// <summary>The four averages' names, in the order <see cref="PredictedMeans"/> returns them.</summary>
    public static readonly string[] Names = ["no correction", "÷ (1 − βᵗ)", "1/min(t, N)", "1/t"];

    /// <summary>E μ̂ₜ for each rule, t = 1..steps, from the update formulas on the means (float64).</summary>
    public static double[][] PredictedMeans(int steps)
    {
        var result = new double[4][];
        for (int r = 0; r < 4; r++)
        {
            result[r] = new double[steps + 1];
        }

        double beta = 1 - (1.0 / Length);
        double raw = 0;
        double minT = 0;
        double cumulative = 0;
        for (int t = 1; t <= steps; t++)
        {
            double mu = Signal(t, steps);
            raw = (beta * raw) + ((1 - beta) * mu);
            double c = 1.0 / Math.Min(t, Length);
            minT = ((1 - c) * minT) + (c * mu);
            cumulative += (mu - cumulative) / t;
            result[0][t] = raw;
            result[1][t] = raw / (1 - Math.Pow(beta, t));
            result[2][t] = minT;
            result[3][t] = cumulative;
        }

        return result;
    }

    /// <summary>Runs the demo.</summary>
    public static DemoResult Run(Options options)
    {
        int n = options.Replicas;
        int steps = options.Steps;
        Optimizer[] rules = [new EmaUncorrected(n), new EmaPowerCorrected(n), new EmaMinT(n), new CumulativeAverage(n)];
        var x = new float[n];
        var p = new float[n];
        var values = new double[n];
        var measuredMean = new double[4][];
        var measuredSe = new double[4][];
        for (int r = 0; r < 4; r++)
        {
            measuredMean[r] = new double[steps + 1];
            measuredSe[r] = new double[steps + 1];
        }

        for (int t = 1; t <= steps; t++)
        {
            double mu = Signal(t, steps);
            for (int i = 0; i < n; i++)
            {
                x[i] = (float)(mu + CounterRng.Normal(options.Seed, 5, t, i));
            }

            for (int r = 0; r < 4; r++)
            {
                Array.Clear(p);
                rules[r].Step(p, x);
                for (int i = 0; i < n; i++)
                {
                    values[i] = -p[i];
                }

                (measuredMean[r][t], measuredSe[r][t]) = Statistics.Mean(values);
            }
        }

        double[][] predicted = PredictedMeans(steps);
        var measurements = new List<Measurement>();
        int[] times = [1, 5, steps / 2, (steps / 2) + 10, (steps / 2) + 40, steps];
        foreach (int t in times)
        {
            for (int r = 0; r < 4; r++)
            {
                measurements.Add(new Measurement($"E μ̂, {Names[r]}, t = {t}", measuredMean[r][t], measuredSe[r][t], predicted[r][t], r == 0 && t <= 5 ? $"(1 − βᵗ)μ (≈ t/N·μ = {t * Signal(t, steps) / Length:G3})" : "mean recursion"));
            }
        }

        var series = new List<PlotSeries>();
        var time = new double[steps];
        var signal = new double[steps];
        for (int t = 1; t <= steps; t++)
        {
            time[t - 1] = t;
            signal[t - 1] = Signal(t, steps);
        }

        series.Add(new PlotSeries("signal μₜ", time, signal, SeriesStyle.Dashed));
        for (int r = 0; r < 4; r++)
        {
            series.Add(new PlotSeries($"{Names[r]} (measured mean)", time, measuredMean[r][1..], SeriesStyle.Markers));
            series.Add(new PlotSeries($"{Names[r]} (predicted)", time, predicted[r][1..], SeriesStyle.Line));
        }

        return new DemoResult(
            "bias-correction",
            "A running average started at 0 is biased toward 0 for t ≪ N (E μ̂ₜ ≈ (t/N)μ); 1 − βᵗ and 1/min(t, N) remove the bias and still track a moving signal; 1/t does not track.",
            measurements,
            [new PlotSpec("5-bias-correction.png", $"Bias correction of a running average (N = {Length})", "step t", "mean of the estimate over replicas", series)],
            [$"{n} replicas of xₜ = μₜ + N(0, 1); each average is an OptGen rule stepped with η = 1 on a zeroed parameter.",
             "All predictions are exact expectations; tested within 4 SE at every listed t."]);
    }
}
