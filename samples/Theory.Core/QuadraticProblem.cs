using System;

namespace OptGen.Samples.Theory;

/// <summary>
/// The lecture's quadratic basin: a finite training set of n examples yᵢ ∈ ℝᵈ and per-example losses
/// Lᵢ(Φ) = ½ Σₖ hₖ(Φₖ − yᵢₖ)², so L(Φ) = Eᵢ Lᵢ(Φ) has optimum Φ* = ȳ, Hessian H = diag(h), and at Φ* the per-example
/// gradients gᵢ = H(ȳ − yᵢ) have Eᵢ gᵢ = 0 and Eᵢ‖gᵢ‖² = Σₖ hₖ² vₖ (vₖ the population variance of coordinate k).
/// </summary>
public sealed class QuadraticProblem
{
    /// <summary>Creates the problem with curvatures <paramref name="curvatures"/> and <paramref name="examples"/> examples drawn N(0, 1).</summary>
    public QuadraticProblem(double[] curvatures, int examples, ulong seed)
    {
        Curvature = curvatures;
        Dimension = curvatures.Length;
        Examples = examples;
        Data = new double[examples * Dimension];
        Optimum = new double[Dimension];
        Variance = new double[Dimension];
        for (int i = 0; i < examples; i++)
        {
            for (int k = 0; k < Dimension; k++)
            {
                double y = CounterRng.Normal(seed, 99, i, k);
                Data[(i * Dimension) + k] = y;
                Optimum[k] += y / examples;
            }
        }

        for (int i = 0; i < examples; i++)
        {
            for (int k = 0; k < Dimension; k++)
            {
                double d = Data[(i * Dimension) + k] - Optimum[k];
                Variance[k] += d * d / examples;
            }
        }

        for (int k = 0; k < Dimension; k++)
        {
            OptimalLoss += 0.5 * Curvature[k] * Variance[k];
            GradientNormSquared += Curvature[k] * Curvature[k] * Variance[k];
        }
    }

    /// <summary>The curvatures hₖ (the diagonal Hessian).</summary>
    public double[] Curvature { get; }

    /// <summary>d.</summary>
    public int Dimension { get; }

    /// <summary>n.</summary>
    public int Examples { get; }

    /// <summary>The examples, row-major n × d.</summary>
    public double[] Data { get; }

    /// <summary>Φ* = ȳ.</summary>
    public double[] Optimum { get; }

    /// <summary>vₖ = Eᵢ (yᵢₖ − ȳₖ)².</summary>
    public double[] Variance { get; }

    /// <summary>L(Φ*) = ½ Σₖ hₖ vₖ.</summary>
    public double OptimalLoss { get; }

    /// <summary>Eᵢ‖gᵢ‖² at Φ* = Σₖ hₖ² vₖ.</summary>
    public double GradientNormSquared { get; }

    /// <summary>L(Φ) − L(Φ*) = ½ Σₖ hₖ(Φₖ − ȳₖ)² for one chain (<paramref name="phi"/> holds its d coordinates).</summary>
    public double ExcessLoss(ReadOnlySpan<float> phi)
    {
        double sum = 0;
        for (int k = 0; k < Dimension; k++)
        {
            double d = phi[k] - Optimum[k];
            sum += 0.5 * Curvature[k] * d * d;
        }

        return sum;
    }

    /// <summary>
    /// Writes the mini-batch gradient of every chain: chain c draws B examples (with replacement) from the counter RNG
    /// and gets ĝ = H(Φ − mean of the batch).
    /// </summary>
    public void BatchGradients(ReadOnlySpan<float> phi, Span<float> gradient, int chains, int batch, ulong seed, ulong stream, long step)
    {
        int d = Dimension;
        Span<double> mean = stackalloc double[d];
        ulong key = CounterRng.Key(seed, stream);
        for (int c = 0; c < chains; c++)
        {
            mean.Clear();
            for (int b = 0; b < batch; b++)
            {
                int i = (int)(((CounterRng.BitsFromKey(key, step, ((long)c * batch) + b) >> 32) * (ulong)Examples) >> 32);
                for (int k = 0; k < d; k++)
                {
                    mean[k] += Data[(i * d) + k];
                }
            }

            for (int k = 0; k < d; k++)
            {
                int j = (c * d) + k;
                gradient[j] = (float)(Curvature[k] * (phi[j] - (mean[k] / batch)));
            }
        }
    }

    /// <summary>
    /// The exact mean excess loss E[L(Φₜ)] − L(Φ*) of SGD with EMA momentum from Φ₀ = Φ* + Δ₀, μ₀ = 0:
    /// μ ← βμ + (1 − β)ĝ, Φ ← Φ − ημ, with batch B and learning rates ηₜ (β = 0 is plain SGD). Per coordinate the
    /// state s = (Δ, μ) evolves linearly, s′ = A s + b ε with A = [[1 − ηch, −η(1 − c)], [ch, 1 − c]], b = (−ηc, c),
    /// c = 1 − β and noise ε of variance h²v/B, so its mean and 2×2 covariance follow exactly in float64:
    /// m′ = A m, C′ = A C Aᵀ + b bᵀ·h²v/B. Returns the value after every step (index 0 = before the first step).
    /// </summary>
    public double[] ExactExcessCurve(double[] initialOffset, int batch, Func<long, double> learningRate, int steps, double beta = 0)
    {
        var curve = new double[steps + 1];
        var md = (double[])initialOffset.Clone();
        var mm = new double[Dimension];
        var cdd = new double[Dimension];
        var cdm = new double[Dimension];
        var cmm = new double[Dimension];
        double c = 1 - beta;
        for (int t = 0; t <= steps; t++)
        {
            double excess = 0;
            for (int k = 0; k < Dimension; k++)
            {
                excess += 0.5 * Curvature[k] * ((md[k] * md[k]) + cdd[k]);
            }

            curve[t] = excess;
            if (t == steps)
            {
                break;
            }

            double eta = learningRate(t + 1);
            for (int k = 0; k < Dimension; k++)
            {
                double h = Curvature[k];
                double q = h * h * Variance[k] / batch;
                double a11 = 1 - (eta * c * h);
                double a12 = -eta * (1 - c);
                double a21 = c * h;
                double a22 = 1 - c;
                double b1 = -eta * c;
                double b2 = c;
                (md[k], mm[k]) = ((a11 * md[k]) + (a12 * mm[k]), (a21 * md[k]) + (a22 * mm[k]));
                double dd = (a11 * a11 * cdd[k]) + (2 * a11 * a12 * cdm[k]) + (a12 * a12 * cmm[k]) + (b1 * b1 * q);
                double dm = (a11 * a21 * cdd[k]) + (((a11 * a22) + (a12 * a21)) * cdm[k]) + (a12 * a22 * cmm[k]) + (b1 * b2 * q);
                double mmv = (a21 * a21 * cdd[k]) + (2 * a21 * a22 * cdm[k]) + (a22 * a22 * cmm[k]) + (b2 * b2 * q);
                (cdd[k], cdm[k], cmm[k]) = (dd, dm, mmv);
            }
        }

        return curve;
    }

    /// <summary>The exact stationary excess loss at constant η, batch 1: ½ Σₖ hₖ · ηhₖvₖ/(2 − ηhₖ).</summary>
    public double StationaryExcess(double eta)
    {
        double sum = 0;
        for (int k = 0; k < Dimension; k++)
        {
            sum += 0.5 * Curvature[k] * eta * Curvature[k] * Variance[k] / (2 - (eta * Curvature[k]));
        }

        return sum;
    }
}
