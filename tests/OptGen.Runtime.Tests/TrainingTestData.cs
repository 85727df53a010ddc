using System;
using System.IO;
using System.Linq;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>Data and comparisons shared by the training-runtime tests.</summary>
internal static class TrainingTestData
{
    public static float[] Random(Random random, int n, double scale = 1) =>
        Enumerable.Range(0, n).Select(_ => (float)(NumericalTests.Gaussian(random) * scale)).ToArray();

    public static float[][] Tensors(Random random, int[] lengths, double scale = 1) =>
        lengths.Select(n => Random(random, n, scale)).ToArray();

    /// <summary>Mean |actual − reference| and mean |actual − reference| / (|reference| + 10⁻⁹), bitsandbytes' error measures.</summary>
    public static (double Absolute, double Relative) MeanDifference(ReadOnlySpan<double> reference, ReadOnlySpan<float> actual)
    {
        double absolute = 0, relative = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double e = Math.Abs(actual[i] - reference[i]);
            absolute += e;
            relative += e / (Math.Abs(reference[i]) + 1e-9);
        }

        return (absolute / reference.Length, relative / reference.Length);
    }

    /// <inheritdoc cref="MeanDifference(ReadOnlySpan{double}, ReadOnlySpan{float})"/>
    public static (double Absolute, double Relative) MeanDifference(float[] reference, float[] actual) =>
        MeanDifference(reference.Select(x => (double)x).ToArray(), actual);

    public static float[][] Clone(float[][] tensors) => tensors.Select(t => (float[])t.Clone()).ToArray();

    public static Memory<float>[] AsMemory(float[][] tensors) => tensors.Select(t => new Memory<float>(t)).ToArray();

    public static ReadOnlyMemory<float>[] AsReadOnly(float[][] tensors) => tensors.Select(t => new ReadOnlyMemory<float>(t)).ToArray();

    /// <summary>Asserts bit-for-bit equality (NaN payloads and signed zeros included).</summary>
    public static void AssertBitwiseEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: element {i} differs: {expected[i]:R} vs {actual[i]:R}.");
            }
        }
    }

    /// <summary>Every state buffer of every tensor, copied.</summary>
    public static float[][] StateOf(Optimizer optimizer) =>
        optimizer.Descriptor.States
            .SelectMany(s => Enumerable.Range(0, optimizer.Layout.TensorCount).Select(j =>
            {
                var values = new float[optimizer.StateLength(s.Name, j)];
                optimizer.CopyState(s.Name, j, values);
                return values;
            }))
            .ToArray();

    public static double[][] HyperparametersOf(Optimizer optimizer) =>
        optimizer.Groups.Select(g => optimizer.Descriptor.Hyperparameters.Select(h => g[h.Name]).ToArray()).ToArray();

    /// <summary>Asserts that nothing observable about <paramref name="optimizer"/> changed since <paramref name="before"/> was taken.</summary>
    public static void AssertUnchanged(Snapshot before, Optimizer optimizer)
    {
        Snapshot after = Snapshot.Of(optimizer);
        Assert.Equal(before.StepCount, after.StepCount);
        Assert.Equal(before.Hyperparameters.Length, after.Hyperparameters.Length);
        for (int k = 0; k < before.Hyperparameters.Length; k++)
        {
            Assert.Equal(before.Hyperparameters[k], after.Hyperparameters[k]);
        }

        for (int s = 0; s < before.State.Length; s++)
        {
            AssertBitwiseEqual(before.State[s], after.State[s], $"state {s}");
        }
    }

    /// <summary>The repository folder <c>tests/conformance</c>, found from the test binary's folder upwards.</summary>
    public static string ConformanceFolder()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "tests", "conformance");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/conformance was not found above the test binaries.");
    }

    internal sealed record Snapshot(long StepCount, double[][] Hyperparameters, float[][] State)
    {
        public static Snapshot Of(Optimizer optimizer) => new(optimizer.StepCount, HyperparametersOf(optimizer), StateOf(optimizer));
    }
}
