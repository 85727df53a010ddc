using System;
using System.Collections.Generic;

namespace OptGen.Samples.Theory;

/// <summary>Sample statistics with their standard errors.</summary>
public static class Statistics
{
    /// <summary>The mean of <paramref name="x"/> and its standard error s/√n (independent samples).</summary>
    public static (double Mean, double StandardError) Mean(ReadOnlySpan<double> x)
    {
        double mean = 0;
        foreach (double v in x)
        {
            mean += v;
        }

        mean /= x.Length;
        double ss = 0;
        foreach (double v in x)
        {
            ss += (v - mean) * (v - mean);
        }

        return (mean, Math.Sqrt(ss / (x.Length - 1) / x.Length));
    }

    /// <summary>
    /// The variance about a known mean, Σ(x − μ)²/n, and its standard error √((m₄ − s⁴)/n) estimated from the
    /// sample's own fourth moment (no normality assumed).
    /// </summary>
    public static (double Variance, double StandardError) VarianceAbout(ReadOnlySpan<double> x, double knownMean)
    {
        double s2 = 0;
        double s4 = 0;
        foreach (double v in x)
        {
            double d = (v - knownMean) * (v - knownMean);
            s2 += d;
            s4 += d * d;
        }

        s2 /= x.Length;
        s4 /= x.Length;
        return (s2, Math.Sqrt(Math.Max(0, s4 - (s2 * s2)) / x.Length));
    }

    /// <summary>
    /// The mean of <paramref name="batchEstimates"/> (one estimate per well-separated snapshot) and the batch-means
    /// standard error s/√K, which stays honest when snapshots are weakly correlated.
    /// </summary>
    public static (double Mean, double StandardError) BatchMeans(IReadOnlyList<double> batchEstimates)
    {
        var values = new double[batchEstimates.Count];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = batchEstimates[i];
        }

        return Mean(values);
    }
}
