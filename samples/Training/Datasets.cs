using System;

namespace OptGen.Samples.Training;

/// <summary>A data set: inputs and targets, row-major.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Inputs">Count × input width.</param>
/// <param name="Targets">Count × target width (a class index for classification).</param>
/// <param name="InputWidth">Input width.</param>
/// <param name="TargetWidth">Target width.</param>
public sealed record Dataset(string Name, float[] Inputs, float[] Targets, int InputWidth, int TargetWidth)
{
    /// <summary>The number of examples.</summary>
    public int Count => Targets.Length / TargetWidth;

    /// <summary>Example i's input.</summary>
    public ReadOnlySpan<float> Input(int i) => Inputs.AsSpan(i * InputWidth, InputWidth);

    /// <summary>Example i's target.</summary>
    public ReadOnlySpan<float> Target(int i) => Targets.AsSpan(i * TargetWidth, TargetWidth);
}

/// <summary>Synthetic data sets made in code.</summary>
public static class Datasets
{
    /// <summary>
    /// Two interleaved spirals in the plane (class 0 and class 1 half a turn apart), 1.5 turns each, with a little
    /// Gaussian noise: a classic set a linear model cannot separate.
    /// </summary>
    public static Dataset TwoSpirals(int perClass, int seed)
    {
        var random = new Random(seed);
        var x = new float[perClass * 2 * 2];
        var y = new float[perClass * 2];
        for (int i = 0; i < perClass * 2; i++)
        {
            int label = i % 2;
            double theta = Math.Sqrt(random.NextDouble()) * 3 * Math.PI;
            double radius = theta / (3 * Math.PI);
            double angle = theta + (label * Math.PI);
            x[2 * i] = (float)((radius * Math.Cos(angle)) + (0.03 * Normal(random)));
            x[(2 * i) + 1] = (float)((radius * Math.Sin(angle)) + (0.03 * Normal(random)));
            y[i] = label;
        }

        return new Dataset("two spirals", x, y, 2, 1);
    }

    /// <summary>A one-dimensional regression: y = sin(2x) + 0.3x + N(0, 0.1²), x ~ U(−3, 3).</summary>
    public static Dataset Wave(int count, int seed)
    {
        var random = new Random(seed);
        var x = new float[count];
        var y = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u = (random.NextDouble() * 6) - 3;
            x[i] = (float)u;
            y[i] = (float)(Math.Sin(2 * u) + (0.3 * u) + (0.1 * Normal(random)));
        }

        return new Dataset("regression", x, y, 1, 1);
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
