using System;
using System.Collections.Generic;
using System.Linq;

namespace OptGen.Samples.Theory;

/// <summary>
/// Demo 8, batch invariance (the lecture's "Making Adam adapt to the batch size" and "Making Adam independent of B"):
/// Adam at batch sizes B = 1, 4, 16, 64 with η = B·η′ and N = N′/B, declared in per-example units
/// (<see cref="BatchInvariantAdam"/>, <see cref="LinearScaledAdam"/>, <see cref="SquareRootScaledAdam"/>).
/// </summary>
/// <remarks>
/// <para>Per-example gradients are g = μ + σz with z standard normal: a constant μ for the mechanism (where the
/// statements are exact in expectation) and μ = hφ on the quadratic ½hφ² for the loss curves. The noise of example
/// n of chain c is the same draw at every B (common random numbers), so curves at different B differ only by what
/// B changes.</para>
/// <para>The lecture's three statements, each measured next to its prediction: (1) standard Adam's s estimates
/// E ĝ² = μ² + σ²/B, so with η = B·η′ the step per example is η′μ/√(μ² + σ²/B): it grows like √B when the noise
/// dominates (σ²/B ≫ μ²); (2) with η = √B·η₀ it is η₀μ/√(Bμ² + σ²): independent of B only while σ² ≫ Bμ²; (3)
/// averaging the per-example squares, s estimates μ² + σ² whatever B and the step per example is η′μ/√(μ² + σ²)
/// at every B, so the loss curves against examples seen coincide.</para>
/// </remarks>
public static class BatchInvarianceDemo
{
    /// <summary>N′₁, the first moment's length in examples.</summary>
    public const int FirstMomentExamples = 256;

    /// <summary>N′₂, the second moment's length in examples.</summary>
    public const int SecondMomentExamples = 4096;

    /// <summary>The batch sizes.</summary>
    public static readonly int[] BatchSizes = [1, 4, 16, 64];

    /// <summary>The three ways of setting Adam up for a batch size.</summary>
    public enum Family
    {
        /// <summary>s of per-example squares, η = B·η′.</summary>
        PerExampleSquares,

        /// <summary>s of ĝ², η = B·η′.</summary>
        LinearScaling,

        /// <summary>s of ĝ², η = √B·η₀.</summary>
        SquareRootScaling,
    }

    /// <summary>Settings.</summary>
    /// <param name="Chains">Independent runs (one parameter each).</param>
    /// <param name="Examples">Examples each loss curve sees (a multiple of 64).</param>
    /// <param name="LearningRate">η′ (and η₀ for the √B family).</param>
    /// <param name="Sigma">σ, the per-example gradient noise.</param>
    /// <param name="InitialOffset">φ₀ of the loss curves (h = 1): noise-dominated when φ₀² ≪ σ²/64.</param>
    /// <param name="NoiseMean">μ of the noise-dominated mechanism (μ² ≪ σ²/64).</param>
    /// <param name="SignalMean">μ of the signal-dominated mechanism (μ² ≫ σ²).</param>
    /// <param name="DriftExamples">Examples the mechanism's drift is averaged over (after as many of warm-up).</param>
    /// <param name="Seed">Seed.</param>
    public sealed record Options(int Chains = 512, int Examples = 32768, double LearningRate = 1e-4, double Sigma = 2, double InitialOffset = 0.1, double NoiseMean = 0.02, double SignalMean = 6, int DriftExamples = 8192, ulong Seed = 18);

    /// <summary>One loss curve.</summary>
    /// <param name="Family">How Adam was set up.</param>
    /// <param name="Batch">B.</param>
    /// <param name="Examples">Examples seen at each checkpoint.</param>
    /// <param name="Loss">Mean loss ½φ² over chains.</param>
    /// <param name="StandardError">Its standard error.</param>
    public sealed record Curve(Family Family, int Batch, double[] Examples, double[] Loss, double[] StandardError);

    /// <summary>The mechanism at one μ: s (bias-corrected) and the drift per example, measured over chains.</summary>
    public sealed record Mechanism(Family Family, int Batch, double Mean, double S, double SStandardError, double Drift, double DriftStandardError);

    /// <summary>What the lecture predicts for s.</summary>
    public static double PredictedS(Family family, int batch, double mean, double sigma) =>
        (mean * mean) + (family == Family.PerExampleSquares ? sigma * sigma : sigma * sigma / batch);

    /// <summary>What the lecture predicts for the drift per example, (η/B)·μ/√s.</summary>
    public static double PredictedDrift(Family family, int batch, double mean, double sigma, double learningRate)
    {
        double eta = family == Family.SquareRootScaling ? Math.Sqrt(batch) * learningRate : batch * learningRate;
        return eta / batch * mean / Math.Sqrt(PredictedS(family, batch, mean, sigma));
    }

    /// <summary>Every loss curve: each family at each batch size.</summary>
    public static IReadOnlyList<Curve> RunCurves(Options options)
    {
        var curves = new List<Curve>();
        foreach (Family family in Enum.GetValues<Family>())
        {
            foreach (int batch in BatchSizes)
            {
                curves.Add(RunCurve(options, family, batch));
            }
        }

        return curves;
    }

    /// <summary>The mechanism for every family and batch size at a constant mean gradient <paramref name="mean"/>.</summary>
    public static IReadOnlyList<Mechanism> RunMechanism(Options options, double mean)
    {
        var results = new List<Mechanism>();
        foreach (Family family in Enum.GetValues<Family>())
        {
            foreach (int batch in BatchSizes)
            {
                results.Add(MeasureMechanism(options, family, batch, mean));
            }
        }

        return results;
    }

    /// <summary>
    /// The largest relative spread of a family's curves across B: max over checkpoints after the first of
    /// max_B |L_B − L₁| / L₁, and the same bound for pure sampling error (4 SE of each difference over L₁).
    /// </summary>
    public static (double Spread, double SamplingBound) Spread(IReadOnlyList<Curve> curves, Family family)
    {
        Curve[] mine = curves.Where(c => c.Family == family).OrderBy(c => c.Batch).ToArray();
        double spread = 0, bound = 0;
        for (int k = 1; k < mine[0].Loss.Length; k++)
        {
            foreach (Curve other in mine.Skip(1))
            {
                spread = Math.Max(spread, Math.Abs(other.Loss[k] - mine[0].Loss[k]) / mine[0].Loss[k]);
                bound = Math.Max(bound, 4 * Math.Sqrt((other.StandardError[k] * other.StandardError[k]) + (mine[0].StandardError[k] * mine[0].StandardError[k])) / mine[0].Loss[k]);
            }
        }

        return (spread, bound);
    }

    /// <summary>Runs the demo.</summary>
    public static DemoResult Run(Options options)
    {
        var measurements = new List<Measurement>();
        foreach ((string regime, double mean) in new[] { ("noise-dominated", options.NoiseMean), ("signal-dominated", options.SignalMean) })
        {
            foreach (Mechanism m in RunMechanism(options, mean))
            {
                string name = $"{Name(m.Family)}, B = {m.Batch}, μ = {mean} ({regime})";
                measurements.Add(new Measurement($"s, {name}", m.S, m.SStandardError, PredictedS(m.Family, m.Batch, mean, options.Sigma),
                    m.Family == Family.PerExampleSquares ? "μ² + σ² (per-example squares)" : "E ĝ² = μ² + σ²/B"));
                double drift = PredictedDrift(m.Family, m.Batch, mean, options.Sigma, options.LearningRate);
                measurements.Add(new Measurement($"drift per example / η′, {name}", m.Drift / options.LearningRate, m.DriftStandardError / options.LearningRate, drift / options.LearningRate,
                    "(η/B)·μ/√s; E[m/√v] vs μ/√E v: allowance 2%", Allowance: 0.02 * Math.Abs(drift / options.LearningRate)));
            }
        }

        IReadOnlyList<Curve> curves = RunCurves(options);
        var series = new List<PlotSeries>();
        foreach (Curve curve in curves)
        {
            series.Add(new PlotSeries($"{Name(curve.Family)}, B = {curve.Batch}", curve.Examples, curve.Loss.Select(Math.Log10).ToArray(),
                curve.Family == Family.PerExampleSquares ? SeriesStyle.Line : curve.Family == Family.LinearScaling ? SeriesStyle.Dashed : SeriesStyle.Markers));
        }

        (double squares, double squaresBound) = Spread(curves, Family.PerExampleSquares);
        (double linear, _) = Spread(curves, Family.LinearScaling);
        (double root, _) = Spread(curves, Family.SquareRootScaling);
        double linearRatio = Final(curves, Family.LinearScaling, 1) / Final(curves, Family.LinearScaling, 64);
        return new DemoResult(
            "batch-invariance",
            "Averaging per-example squared gradients makes Adam independent of B: with η = Bη′ and N = N′/B its loss curves against examples seen coincide; standard Adam's do not, and with η = √Bη₀ they coincide only where the noise dominates.",
            measurements,
            [new PlotSpec("8-batch-invariance.png", "Adam at B = 1, 4, 16, 64 (η = Bη′ or √Bη₀, N = N′/B) against examples seen", "examples seen", "log₁₀ E[L]", series, "LowerLeft")],
            [$"Per-example gradients μ + σz, σ = {options.Sigma}; {options.Chains} chains; η′ = η₀ = {options.LearningRate}, N′₁ = {FirstMomentExamples}, N′₂ = {SecondMomentExamples} examples; OptGen's per-example units set η and N from BatchSize, the per-example squares go to Step beside g.",
             $"Mechanism: drift averaged over {options.DriftExamples} examples after as many of warm-up, at μ = {options.NoiseMean} (μ² ≪ σ²/64) and μ = {options.SignalMean} (μ² ≫ σ²).",
             $"Loss ½φ² from φ₀ = {options.InitialOffset} (noise-dominated: φ₀² ≪ σ²/64), {options.Examples} examples per curve, the same noise draws at every B: largest relative spread across B, per-example squares {squares:P1}; √B scaling {root:P1} (predicted at the start, where μ² = φ₀² is largest: 1 − √((φ₀² + σ²)/(64φ₀² + σ²)) = {1 - Math.Sqrt(((options.InitialOffset * options.InitialOffset) + (options.Sigma * options.Sigma)) / ((64 * options.InitialOffset * options.InitialOffset) + (options.Sigma * options.Sigma))):P1} slower at B = 64); standard Adam with η = Bη′ {linear:P1}: B = 64 descends ≈ √64 = 8× faster per example and settles {1 / linearRatio:F1}× above B = 1's loss at the end. (4-SE bound on pure sampling error, chains independent: {squaresBound:P1}; the common draws make the measured spreads far smaller.)",
             "Tested: every s and drift within 4 SE (+ the stated allowance) of its prediction; at μ² ≫ σ² the √B drift falls like 1/√B while the per-example-squares drift stays put; the per-example-squares curves within 3% of each other at every checkpoint, the √B curves within 15%, standard Adam's with η = Bη′ more than 50% apart."]);
    }

    private static string Name(Family family) => family switch
    {
        Family.PerExampleSquares => "per-example squares, η = Bη′",
        Family.LinearScaling => "standard, η = Bη′",
        _ => "standard, η = √Bη₀",
    };

    private static double Final(IReadOnlyList<Curve> curves, Family family, int batch) => curves.Single(c => c.Family == family && c.Batch == batch).Loss[^1];

    private static Optimizer Create(Family family, int length, int batch, double learningRate)
    {
        Optimizer optimizer = family switch
        {
            Family.PerExampleSquares => new BatchInvariantAdam(length) { LearningRate = learningRate },
            Family.LinearScaling => new LinearScaledAdam(length) { LearningRate = learningRate },
            _ => new SquareRootScaledAdam(length) { LearningRate = learningRate },
        };
        optimizer.BatchSize = batch;
        optimizer.MaxDegreeOfParallelism = 1;
        return optimizer;
    }

    /// <summary>
    /// Fills each chain's batch gradient and batch mean of squared per-example gradients for examples
    /// [first, first + B): g = mean(φ) + σz with z the draw of (example, chain).
    /// </summary>
    private static void Gradients(ulong key, float[] phi, double slope, double constant, double sigma, int batch, long first, float[] gradient, float[] squares)
    {
        for (int c = 0; c < phi.Length; c++)
        {
            double mean = (slope * phi[c]) + constant;
            double sum = 0, sumOfSquares = 0;
            for (int b = 0; b < batch; b++)
            {
                double g = mean + (sigma * CounterRng.NormalFromKey(key, first + b, c));
                sum += g;
                sumOfSquares += g * g;
            }

            gradient[c] = (float)(sum / batch);
            squares[c] = (float)(sumOfSquares / batch);
        }
    }

    private static void Step(Optimizer optimizer, Family family, float[] phi, float[] gradient, float[] squares)
    {
        if (family == Family.PerExampleSquares)
        {
            optimizer.Step(phi, gradient, squares);
        }
        else
        {
            optimizer.Step(phi, gradient);
        }
    }

    private static Curve RunCurve(Options options, Family family, int batch)
    {
        int chains = options.Chains;
        var phi = new float[chains];
        Array.Fill(phi, (float)options.InitialOffset);
        var gradient = new float[chains];
        var squares = new float[chains];
        Optimizer optimizer = Create(family, chains, batch, options.LearningRate);
        ulong key = CounterRng.Key(options.Seed, 1);
        const int Every = 512;
        int checkpoints = (options.Examples / Every) + 1;
        var examples = new double[checkpoints];
        var loss = new double[checkpoints];
        var se = new double[checkpoints];
        var perChain = new double[chains];
        for (long seen = 0; ; seen += batch)
        {
            if (seen % Every == 0)
            {
                int k = (int)(seen / Every);
                for (int c = 0; c < chains; c++)
                {
                    perChain[c] = 0.5 * phi[c] * phi[c];
                }

                (loss[k], se[k]) = Statistics.Mean(perChain);
                examples[k] = seen;
            }

            if (seen >= options.Examples)
            {
                break;
            }

            Gradients(key, phi, 1, 0, options.Sigma, batch, seen, gradient, squares);
            Step(optimizer, family, phi, gradient, squares);
        }

        return new Curve(family, batch, examples, loss, se);
    }

    private static Mechanism MeasureMechanism(Options options, Family family, int batch, double mean)
    {
        int chains = options.Chains;
        var phi = new float[chains];
        var gradient = new float[chains];
        var squares = new float[chains];
        Optimizer optimizer = Create(family, chains, batch, options.LearningRate);
        ulong key = CounterRng.Key(options.Seed, 2);
        long warmUp = options.DriftExamples, total = 2L * options.DriftExamples;
        float[] start = [];
        for (long seen = 0; seen < total; seen += batch)
        {
            if (seen == warmUp)
            {
                start = (float[])phi.Clone();
            }

            Gradients(key, phi, 0, mean, options.Sigma, batch, seen, gradient, squares);
            Step(optimizer, family, phi, gradient, squares);
        }

        // s: the second moment with its bias correction 1 − β₂ᵗ (β₂ = 1 − B/N′₂ per step).
        double beta2 = 1 - Math.Min(1, (double)batch / SecondMomentExamples);
        double correction = 1 - Math.Pow(beta2, optimizer.StepCount);
        ReadOnlySpan<float> v = optimizer.GetState("SecondMoment");
        var s = new double[chains];
        var drift = new double[chains];
        for (int c = 0; c < chains; c++)
        {
            s[c] = v[c] / correction;
            drift[c] = (start[c] - phi[c]) / (double)options.DriftExamples;
        }

        (double sMean, double sSe) = Statistics.Mean(s);
        (double driftMean, double driftSe) = Statistics.Mean(drift);
        return new Mechanism(family, batch, mean, sMean, sSe, driftMean, driftSe);
    }
}
