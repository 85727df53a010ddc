using System;
using System.Collections.Generic;

namespace OptGen.Samples.Theory;

/// <summary>
/// Demo 4, batch-size scaling (the lecture's "Scaling η" and "Scaling N_μ"): SGD with EMA momentum
/// (OptGen's <see cref="EmaMomentum"/>: μ ← (1 − 1/N)μ + (1/N)ĝ, Φ ← Φ − ημ) at batch sizes B = 1, 4, 16 with
/// η_B = B·η₁ and momentum length N_B = N₁/B follows one loss curve against examples seen; with η₁ and N₁ kept
/// (not rescaled) the larger batches fall far behind.
/// </summary>
/// <remarks>
/// The setting is the quadratic basin of <see cref="QuadraticProblem"/> started away from the optimum, each run
/// seeing the same number of examples (examples/B steps). For every run the exact mean loss curve follows
/// from a float64 recursion of the mean and 2×2 covariance of (Δ, μ) per coordinate; the rescaled runs agree with
/// B = 1 up to O(Bη₁h) per example, which the settings keep small (16η₁h_max = 0.064). The
/// remaining gap is largest early, while the loss falls steeply: B = 1's momentum averages its last N₁ = 16
/// gradients, which lag, where B = 16 averages 16 gradients taken at the current point — the lecture's argument
/// assumes the gradient hardly changes over N·B examples.
/// </remarks>
public static class BatchScalingDemo
{
    /// <summary>Settings.</summary>
    /// <param name="Chains">Independent runs averaged per curve.</param>
    /// <param name="BaseLearningRate">η₁.</param>
    /// <param name="ExamplesSeen">The examples each run sees (a multiple of 16).</param>
    /// <param name="BaseMomentumLength">N₁, the momentum length at B = 1 (a multiple of 16, so N₁/16 ≥ 1).</param>
    /// <param name="InitialOffset">Φ₀ − Φ* in every coordinate.</param>
    /// <param name="Seed">Seed.</param>
    public sealed record Options(int Chains = 1024, double BaseLearningRate = 0.001, int ExamplesSeen = 6400, int BaseMomentumLength = 16, double InitialOffset = 2, ulong Seed = 4);

    /// <summary>One run's curve.</summary>
    /// <param name="Label">e.g. "B = 16, η = 16η₁".</param>
    /// <param name="Batch">B.</param>
    /// <param name="LearningRate">η.</param>
    /// <param name="MomentumLength">N.</param>
    /// <param name="Examples">Examples seen at each checkpoint.</param>
    /// <param name="Measured">Mean excess loss over chains at each checkpoint.</param>
    /// <param name="StandardError">Its standard error.</param>
    /// <param name="Predicted">The exact mean excess loss.</param>
    public sealed record Curve(string Label, int Batch, double LearningRate, double MomentumLength, double[] Examples, double[] Measured, double[] StandardError, double[] Predicted);

    /// <summary>Runs every curve (scaled B = 1, 4, 16; unscaled B = 4, 16).</summary>
    public static IReadOnlyList<Curve> RunCurves(Options options)
    {
        var problem = new QuadraticProblem(QuadraticBasinDemo.Curvatures, QuadraticBasinDemo.Examples, options.Seed);
        var curves = new List<Curve>();
        double eta1 = options.BaseLearningRate;
        foreach ((int b, bool scaled) in new[] { (1, true), (4, true), (16, true), (4, false), (16, false) })
        {
            double eta = scaled ? b * eta1 : eta1;
            int length = scaled ? options.BaseMomentumLength / b : options.BaseMomentumLength;
            string label = b == 1 ? $"B = 1, η₁, N₁ = {length}" : scaled ? $"B = {b}, η = {b}η₁, N = {length}" : $"B = {b}, η₁, N₁ (not rescaled)";
            curves.Add(RunOne(problem, options, b, eta, length, label, (ulong)(10 + (b * 2) + (scaled ? 1 : 0))));
        }

        return curves;
    }

    /// <summary>Runs the demo.</summary>
    public static DemoResult Run(Options options)
    {
        IReadOnlyList<Curve> curves = RunCurves(options);
        var measurements = new List<Measurement>();
        var series = new List<PlotSeries>();
        foreach (Curve curve in curves)
        {
            int last = curve.Examples.Length - 1;
            foreach (int k in new[] { last / 4, last / 2, last })
            {
                measurements.Add(new Measurement($"{curve.Label}, n = {curve.Examples[k]}", curve.Measured[k], curve.StandardError[k], curve.Predicted[k], "exact moment recursion"));
            }

            // Markers at every 10th checkpoint so the B = 1 line stays visible under them.
            int stride = curve.Batch == 1 ? 1 : 10;
            series.Add(new PlotSeries(curve.Label + " measured", Every(curve.Examples, stride), Log10(Every(curve.Measured, stride)), curve.Batch == 1 ? SeriesStyle.Line : SeriesStyle.Markers));
            series.Add(new PlotSeries(curve.Label + " exact", curve.Examples, Log10(curve.Predicted), SeriesStyle.Dashed));
        }

        double scaledGap = Math.Max(MaxRelativeGap(curves[0].Measured, curves[1].Measured), MaxRelativeGap(curves[0].Measured, curves[2].Measured));
        double predictedScaledGap = Math.Max(MaxRelativeGap(curves[0].Predicted, curves[1].Predicted), MaxRelativeGap(curves[0].Predicted, curves[2].Predicted));
        double unscaledRatio = curves[4].Measured[^1] / curves[0].Measured[^1];
        double predictedUnscaledRatio = curves[4].Predicted[^1] / curves[0].Predicted[^1];
        return new DemoResult(
            "batch-scaling",
            "With η_B = Bη₁ and momentum length N_B = N₁/B, runs at B = 1, 4, 16 follow the same loss curve against examples seen; without the rescaling they do not.",
            measurements,
            [new PlotSpec("4-batch-scaling.png", "Batch-size scaling: η_B = B·η₁, N_B = N₁/B give one curve against examples seen", "examples seen", "log₁₀ (L − L*)", series, "LowerLeft")],
            [$"Quadratic basin d = 4, {options.Chains} chains per curve, OptGen EmaMomentum with η₁ = {options.BaseLearningRate}, N₁ = {options.BaseMomentumLength}, Φ₀ = Φ* + {options.InitialOffset}; B examples drawn with replacement per step; every run sees {options.ExamplesSeen} examples.",
             $"Rescaled: the largest relative gap to the B = 1 curve is {scaledGap:P1} measured ({predictedScaledGap:P1} exact, early in the descent where B = 1's momentum lags).",
             $"Not rescaled: at the end B = 16 has {unscaledRatio:F1}× the excess loss of B = 1 ({predictedUnscaledRatio:F1}× exact).",
             "Tested: every listed checkpoint within 4 SE of the exact recursion; at every checkpoint the rescaled curves within 10% (+ 4 SE of the difference) of B = 1; the unrescaled B = 16 curve ≥ 3× above it at the end."]);
    }

    /// <summary>max over checkpoints of |a − b| / b.</summary>
    public static double MaxRelativeGap(double[] reference, double[] other)
    {
        double gap = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            gap = Math.Max(gap, Math.Abs(other[i] - reference[i]) / reference[i]);
        }

        return gap;
    }

    private static Curve RunOne(QuadraticProblem problem, Options options, int batch, double eta, int momentumLength, string label, ulong stream)
    {
        int chains = options.Chains;
        int d = problem.Dimension;
        const int Every = 16;
        int steps = options.ExamplesSeen / batch;
        var phi = new float[chains * d];
        var gradient = new float[chains * d];
        var offset = new double[d];
        for (int k = 0; k < d; k++)
        {
            offset[k] = options.InitialOffset;
            for (int c = 0; c < chains; c++)
            {
                phi[(c * d) + k] = (float)(problem.Optimum[k] + options.InitialOffset);
            }
        }

        double beta = 1 - (1.0 / momentumLength);
        var optimizer = new EmaMomentum(phi.Length) { LearningRate = eta, Beta1 = beta };
        double[] exact = problem.ExactExcessCurve(offset, batch, _ => eta, steps, beta);
        int checkpoints = (options.ExamplesSeen / Every) + 1;
        var examples = new double[checkpoints];
        var measured = new double[checkpoints];
        var se = new double[checkpoints];
        var predicted = new double[checkpoints];
        var perChain = new double[chains];
        for (int step = 0; step <= steps; step++)
        {
            int seen = step * batch;
            if (seen % Every == 0)
            {
                int k = seen / Every;
                for (int c = 0; c < chains; c++)
                {
                    perChain[c] = problem.ExcessLoss(phi.AsSpan(c * d, d));
                }

                (measured[k], se[k]) = Statistics.Mean(perChain);
                examples[k] = seen;
                predicted[k] = exact[step];
            }

            if (step < steps)
            {
                problem.BatchGradients(phi, gradient, chains, batch, options.Seed, stream, step);
                optimizer.Step(phi, gradient);
            }
        }

        return new Curve(label, batch, eta, momentumLength, examples, measured, se, predicted);
    }

    private static double[] Every(double[] values, int stride)
    {
        var result = new double[((values.Length - 1) / stride) + 1];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = values[i * stride];
        }

        return result;
    }

    private static double[] Log10(double[] values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = Math.Log10(values[i]);
        }

        return result;
    }
}
