using System;
using System.Collections.Generic;

namespace OptGen.Samples.Theory;

/// <summary>
/// Demo 6, the classical convergence conditions: ηₜ > 0, ηₜ → 0 and Σηₜ = ∞. SGD on L(x) = x²/2 with gradient
/// noise ĝ = x + σξ from x₀ = 5, under three schedules set on OptGen's <see cref="Sgd"/> between steps.
/// </summary>
/// <remarks>
/// Exact predictions come from the float64 moment recursion mₜ₊₁ = (1 − ηₜ)mₜ, Vₜ₊₁ = (1 − ηₜ)²Vₜ + ηₜ²σ².
/// With ηₜ = η₀τ/(τ + t) both the mean and the variance go to 0 (convergence; Var ≈ ηₜσ²/2). With the summable
/// ηₜ = η₀(τ/(τ + t))² the mean stalls at x₀Π(1 − ηₜ) ≠ 0. With a constant η the mean converges but the iterate
/// keeps a stationary spread ησ²/(2 − η).
/// </remarks>
public static class ConvergenceDemo
{
    /// <summary>Settings.</summary>
    /// <param name="Chains">Independent runs.</param>
    /// <param name="Steps">Steps per run.</param>
    /// <param name="Seed">Seed.</param>
    public sealed record Options(int Chains = 4096, int Steps = 2000, ulong Seed = 6);

    /// <summary>x₀.</summary>
    public const double Start = 5;

    /// <summary>σ.</summary>
    public const double Sigma = 1;

    /// <summary>The schedules: name and ηₜ (t ≥ 1).</summary>
    public static readonly (string Name, Func<long, double> Rate)[] Schedules =
    [
        ("ηₜ = 0.5·20/(20 + t): Σ = ∞, ηₜ → 0", t => 0.5 * 20 / (20.0 + t)),
        ("ηₜ = 0.5·(4/(4 + t))²: Σ < ∞", t => 0.5 * Math.Pow(4 / (4.0 + t), 2)),
        ("ηₜ = 0.5 constant: Σ = ∞, ηₜ ↛ 0", _ => 0.5),
    ];

    /// <summary>The exact (mean, second moment) of xₜ for a schedule, t = 0..steps.</summary>
    public static (double[] Mean, double[] SecondMoment) Exact(Func<long, double> rate, int steps)
    {
        var mean = new double[steps + 1];
        var second = new double[steps + 1];
        double m = Start;
        double v = 0;
        for (int t = 0; t <= steps; t++)
        {
            mean[t] = m;
            second[t] = (m * m) + v;
            double eta = rate(t + 1);
            m *= 1 - eta;
            v = ((1 - eta) * (1 - eta) * v) + (eta * eta * Sigma * Sigma);
        }

        return (mean, second);
    }

    /// <summary>The summable schedule's limit x₀Π(1 − ηₜ) (the product to 10⁶ terms; the rest changes it by a factor within 10⁻⁵ of 1).</summary>
    public static double StallPoint()
    {
        double m = Start;
        for (long t = 1; t <= 1_000_000; t++)
        {
            m *= 1 - Schedules[1].Rate(t);
        }

        return m;
    }

    /// <summary>Runs the demo.</summary>
    public static DemoResult Run(Options options)
    {
        int n = options.Chains;
        int steps = options.Steps;
        var measurements = new List<Measurement>();
        var series = new List<PlotSeries>();
        var values = new double[n];
        var squares = new double[n];
        for (int s = 0; s < Schedules.Length; s++)
        {
            (string name, Func<long, double> rate) = Schedules[s];
            var x = new float[n];
            var g = new float[n];
            Array.Fill(x, (float)Start);
            var sgd = new Sgd(n);
            var time = new List<double>();
            var measuredLoss = new List<double>();
            var predictedLoss = new List<double>();
            (double[] exactMean, double[] exactSecond) = Exact(rate, steps);
            ulong key = CounterRng.Key(options.Seed, (ulong)s);
            for (int t = 0; t <= steps; t++)
            {
                if (t % 10 == 0 || t < 10)
                {
                    double sum = 0;
                    for (int i = 0; i < n; i++)
                    {
                        sum += 0.5 * x[i] * x[i];
                    }

                    time.Add(t);
                    measuredLoss.Add(Math.Log10(sum / n));
                    predictedLoss.Add(Math.Log10(0.5 * exactSecond[t]));
                }

                if (t == steps)
                {
                    break;
                }

                for (int i = 0; i < n; i++)
                {
                    g[i] = (float)(x[i] + (Sigma * CounterRng.NormalFromKey(key, t, i)));
                }

                sgd.LearningRate = rate(t + 1);
                sgd.Step(x, g);
            }

            for (int i = 0; i < n; i++)
            {
                values[i] = x[i];
                squares[i] = (double)x[i] * x[i];
            }

            (double mean, double meanSe) = Statistics.Mean(values);
            (double second, double secondSe) = Statistics.Mean(squares);
            measurements.Add(new Measurement($"E x_T, {name}", mean, meanSe, exactMean[steps], "exact recursion"));
            measurements.Add(new Measurement($"E x_T², {name}", second, secondSe, exactSecond[steps], "exact recursion"));
            if (s == 1)
            {
                double stall = StallPoint();
                measurements.Add(new Measurement("E x_T, summable: stall point", mean, meanSe, stall, "x₀Π(1 − ηₜ) (t → ∞)", Math.Abs(stall - exactMean[steps])));
            }

            series.Add(new PlotSeries(name + " (measured)", [.. time], [.. measuredLoss], SeriesStyle.Markers));
            series.Add(new PlotSeries(name + " (exact)", [.. time], [.. predictedLoss], SeriesStyle.Line));
        }

        return new DemoResult(
            "convergence",
            "Schedules with Σηₜ = ∞ and ηₜ → 0 converge; a summable schedule stalls short of the optimum; a constant η keeps a noise floor.",
            measurements,
            [new PlotSpec("6-convergence.png", "Classical convergence conditions: SGD on x²/2 with gradient noise", "step t", "log₁₀ E L(xₜ)", series, "MiddleRight")],
            [$"{n} chains, x₀ = {Start}, σ = {Sigma}, T = {steps}; the schedule is set on OptGen's Sgd (LearningRate) before every step.",
             "Tested: E x_T and E x_T² within 4 SE of the exact recursion; the summable schedule's mean stays ≥ 0.3 (stalled) while the Σ = ∞, ηₜ → 0 one has E x_T² < 0.01."]);
    }
}
