using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptGen.TorchSharp.Tests;

/// <summary>
/// Parameters of several shapes (odd lengths, so SIMD tails run) in two groups, a deterministic gradient sequence,
/// and comparisons. Group 0 holds the matrices and the long vector, group 1 the biases.
/// </summary>
internal static class Fixture
{
    public static readonly long[][] Shapes = [[33, 17], [33], [5, 33], [5], [1025]];

    /// <summary>Tensor indices of the two groups, in layout order (group 0 first).</summary>
    public static readonly int[][] Groups = [[0, 2, 4], [1, 3]];

    /// <summary>Fresh float32 parameters with values from seed <paramref name="seed"/>, in group order.</summary>
    public static Parameter[] MakeParameters(int seed = 1, ScalarType dtype = ScalarType.Float32)
    {
        torch.random.manual_seed(seed);
        Parameter[] byShape = Shapes.Select(s => new Parameter(torch.randn(s).to(dtype))).ToArray();
        return Groups.SelectMany(g => g.Select(i => byShape[i])).ToArray();
    }

    /// <summary>A copy of <paramref name="parameters"/> (values only).</summary>
    public static Parameter[] Clone(Parameter[] parameters) =>
        parameters.Select(p => new Parameter(p.detach().clone())).ToArray();

    /// <summary>Group 0's and group 1's parameters (the first 3 and the last 2 of <see cref="MakeParameters"/>).</summary>
    public static (Parameter[] First, Parameter[] Second) Split(Parameter[] parameters) =>
        (parameters[..Groups[0].Length], parameters[Groups[0].Length..]);

    /// <summary>The gradients of step <paramref name="step"/>: N(0, 1) scaled per tensor, the same for every parameter set.</summary>
    public static Tensor[] Gradients(Parameter[] parameters, int step, double scale = 1)
    {
        torch.random.manual_seed(1000 + step);
        return parameters.Select((p, j) => (torch.randn(p.shape) * (scale * (1 + (0.5 * j)))).to(p.dtype)).ToArray();
    }

    /// <summary>Sets each parameter's gradient to a copy of the given tensor.</summary>
    public static void SetGradients(Parameter[] parameters, Tensor[] gradients)
    {
        for (int j = 0; j < parameters.Length; j++)
        {
            parameters[j].grad = gradients[j].clone();
        }
    }

    /// <summary>The parameter's values as float (any dtype), in storage order.</summary>
    public static float[] Values(Tensor tensor)
    {
        using Tensor f = tensor.detach().to(ScalarType.Float32).contiguous();
        return MemoryMarshal.Cast<byte, float>(f.bytes).ToArray();
    }

    /// <summary>
    /// Asserts |actual − expected| ≤ tolerance·max(1, |expected|) for every element; returns the largest scaled
    /// difference seen (for reporting).
    /// </summary>
    public static double AssertClose(IReadOnlyList<Parameter> expected, IReadOnlyList<Parameter> actual, double tolerance, string what)
    {
        double worst = 0;
        for (int j = 0; j < expected.Count; j++)
        {
            float[] e = Values(expected[j]);
            float[] a = Values(actual[j]);
            Assert.Equal(e.Length, a.Length);
            for (int i = 0; i < e.Length; i++)
            {
                double d = Math.Abs((double)a[i] - e[i]) / Math.Max(1, Math.Abs((double)e[i]));
                worst = Math.Max(worst, d);
                Assert.True(d <= tolerance, $"{what}: tensor {j} element {i}: expected {e[i]}, got {a[i]} (scaled difference {d:E2} > {tolerance:E0}).");
            }
        }

        return worst;
    }

    /// <summary>Asserts the two parameter sets hold exactly the same bits.</summary>
    public static void AssertIdentical(IReadOnlyList<Parameter> expected, IReadOnlyList<Parameter> actual)
    {
        for (int j = 0; j < expected.Count; j++)
        {
            Assert.Equal(Values(expected[j]), Values(actual[j]));
        }
    }

    /// <summary>The largest change |after − before| over every element (to check that a test moved the parameters).</summary>
    public static double MaxChange(IReadOnlyList<Parameter> before, IReadOnlyList<Parameter> after) =>
        before.Zip(after).Max(pair => Values(pair.First).Zip(Values(pair.Second)).Max(v => Math.Abs(v.First - v.Second)));
}
