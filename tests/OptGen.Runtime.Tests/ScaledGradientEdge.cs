using System;
using System.Linq;

namespace OptGen.Runtime.Tests;

/// <summary>Where a float32 product overflows: the edge the exact SkipNonFinite test decides on (shared with the GPU tests).</summary>
internal static class ScaledGradientEdge
{
    /// <summary>
    /// The largest float32 magnitude g with g·f finite in float32, for f = float32(<paramref name="scale"/>): the
    /// product rounds to nearest, so the edge is not simply MaxValue/f. The product commutes, so this is also the
    /// largest factor for a gradient magnitude of <paramref name="scale"/>.
    /// </summary>
    public static float Largest(double scale)
    {
        float f = (float)scale;
        float g = float.MaxValue / f;
        while (float.IsFinite(MathF.BitIncrement(g) * f))
        {
            g = MathF.BitIncrement(g);
        }

        while (!float.IsFinite(g * f))
        {
            g = MathF.BitDecrement(g);
        }

        return g;
    }

    /// <summary>Scales with edges all over float32's range: an exact 2, an inexact 1.5·(1 + 2⁻²⁰), and a large 3·10¹⁰.</summary>
    public static readonly double[] Scales = [2.0, 1.5 * (1 + Math.Pow(2, -20)), 3e10];

    /// <summary>Two groups; the 20,000-element tensor spans two 16,384-element pieces; lengths with SIMD tails.</summary>
    public static readonly int[][] GroupLengths = [[33, 1], [20000, 7]];

    /// <summary>The tensor lengths of <see cref="GroupLengths"/>, in layout order.</summary>
    public static int[] Lengths => GroupLengths.SelectMany(g => g).ToArray();

    /// <summary>An element in the second 16,384-element piece of the long tensor, at a vector position.</summary>
    public const int SecondPiece = 16384 + 17;

    /// <summary>
    /// Gradients in (−0.5, 0.5) with some elements of each tensor at ±<paramref name="edge"/> (the first, the last,
    /// <see cref="SecondPiece"/>) and more between edge/2 and the edge: the norm is far beyond the edge, no element past it.
    /// </summary>
    public static float[][] Gradients(Random random, float edge)
    {
        float[][] g = Lengths.Select(n => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray()).ToArray();
        foreach (float[] tensor in g)
        {
            tensor[0] = edge;
            tensor[^1] = -edge;
            for (int i = 5; i < tensor.Length - 1; i += 97)
            {
                tensor[i] = (float)(edge * (0.5 + (0.5 * random.NextDouble())));
            }

            if (tensor.Length > SecondPiece)
            {
                tensor[SecondPiece] = -edge;
            }
        }

        return g;
    }
}
