using System;
using System.Linq;
using OptGen.Kernels;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>Centered RMSprop as an expression rule, its v − ḡ² written with the language's fma (docs/expressions.md).</summary>
[Optimizer]
[Hyperparameter("LearningRate", 0.01, Range = HyperparameterRange.NonNegative)]
[Hyperparameter("Alpha", 0.99, Range = HyperparameterRange.UnitInterval)]
[Hyperparameter("Epsilon", 1e-8, Range = HyperparameterRange.Positive)]
[State("v", Name = "SecondMoment")]
[State("a", Name = "GradientAverage")]
[Update("v = Alpha * v + (1 - Alpha) * g * g")]
[Update("a = Alpha * a + (1 - Alpha) * g")]
[Update("p = p - LearningRate * g / (sqrt(fma(-a, a, v)) + Epsilon)")]
public sealed partial class FusedCenteredRmsPropExpression;

/// <summary>
/// Centered RMSprop with gradients whose running average squares past float32 (g = ±1e30: v = ∞, ḡ = ±1e28, ḡ² = ∞).
/// torch.optim.RMSprop computes v − ḡ² as <c>square_avg.addcmul(grad_avg, grad_avg, value=-1)</c>, one fused
/// multiply-add on the CPU: ∞ − 1e56 = ∞, √∞ = ∞, and the step g/∞ is 0 from then on (v stays ∞). The generated kernel
/// must do the same, never ∞ − ∞ = NaN, on every path: the scalar code (length 1 and the tail) and every SIMD width.
/// </summary>
public sealed class CenteredOverflowTests
{
    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string rule in new[] { nameof(RmsPropCentered), nameof(RmsPropCenteredMomentum), nameof(FusedCenteredRmsPropExpression) })
        {
            // 1: the scalar path alone; 37 and 101: SIMD blocks of every width and a scalar tail.
            foreach (int n in new[] { 1, 37, 101 })
            {
                data.Add(rule, n);
            }
        }

        return data;
    }

    /// <summary>
    /// Every 5th element (from element 2, and element 0 of a length-1 tensor) gets ±1e30 at step 1: torch leaves it
    /// exactly where it was for every later step (v = ∞). The others follow the float64 formula (RmsPropReference).
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void AGradientWhoseAverageSquareOverflowsStopsTheElementAsTorchDoes(string rule, int n)
    {
        Optimizer optimizer = rule switch
        {
            nameof(RmsPropCentered) => new RmsPropCentered(n),
            nameof(RmsPropCenteredMomentum) => new RmsPropCenteredMomentum(n) { Momentum = 0.5 },
            _ => new FusedCenteredRmsPropExpression(n),
        };
        var reference = new RmsPropReference(n, 0.01, 0.99, 1e-8, centered: true, momentum: rule == nameof(RmsPropCenteredMomentum) ? 0.5 : 0);
        bool Overflows(int i) => n == 1 || i % 5 == 2;

        var random = new Random(17 + n);
        float[] p0 = [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1))];
        float[] p = (float[])p0.Clone();
        float[] expected = (float[])p0.Clone();
        var g = new float[n];
        for (int t = 1; t <= 8; t++)
        {
            for (int i = 0; i < n; i++)
            {
                g[i] = t == 1 && Overflows(i) ? (i % 2 == 0 ? 1e30f : -1e30f) : (float)((random.NextDouble() * 2) - 1);
            }

            optimizer.Step(p, g);
            reference.Step(expected, g, t);
            ReadOnlySpan<float> v = optimizer.GetState("SecondMoment");
            ReadOnlySpan<float> average = optimizer.GetState("GradientAverage");
            for (int i = 0; i < n; i++)
            {
                Assert.True(float.IsFinite(p[i]), $"{rule}, length {n}, step {t}, element {i}: p = {p[i]}");
                Assert.True(float.IsFinite(average[i]), $"{rule}, length {n}, step {t}, element {i}: ḡ = {average[i]}");
                if (Overflows(i))
                {
                    Assert.Equal(float.PositiveInfinity, v[i]);
                    Assert.Equal(BitConverter.SingleToInt32Bits(p0[i]), BitConverter.SingleToInt32Bits(p[i]));
                }
                else
                {
                    double error = Math.Abs((double)p[i] - expected[i]);
                    Assert.True(error <= 5e-6 * Math.Max(1, Math.Abs(expected[i])), $"{rule}, length {n}, step {t}, element {i}: got {p[i]:R}, reference {expected[i]:R}");
                }
            }
        }
    }

    /// <summary>
    /// <see cref="ElementMath.FusedMultiplyAdd"/> (the scalar code's and the GPU kernel's fused multiply-add, computed
    /// without <see cref="MathF.FusedMultiplyAdd"/>) equals <see cref="MathF.FusedMultiplyAdd"/> bit for bit: random
    /// operands of every exponent, products that cancel the addend to the last bits, ties, subnormals, overflow, ±0, ±∞ and NaN.
    /// </summary>
    [Fact]
    public void ElementFusedMultiplyAddIsCorrectlyRounded()
    {
        var random = new Random(5);
        float[] specials = [0f, -0f, 1f, -1f, float.Epsilon, -float.Epsilon, float.MaxValue, -float.MaxValue, 1e-30f, 1e19f, 1e28f, -1e28f, 1e30f,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1.1754942E-38f, 3f, 0.1f];
        float Any() => random.Next(4) switch
        {
            0 => specials[random.Next(specials.Length)],
            1 => BitConverter.Int32BitsToSingle(random.Next()) * (random.Next(2) == 0 ? 1 : -1), // any exponent, NaNs included
            _ => (float)(((random.NextDouble() * 2) - 1) * Math.Pow(2, random.Next(-30, 30))),
        };

        int checkedCount = 0;
        for (int k = 0; k < 400_000; k++)
        {
            float a = Any(), b = Any(), c = Any();
            if (k % 3 == 0)
            {
                // c near −a·b: the exact result is the product's low bits (cancellation, and ties once rounded).
                c = -(a * b) * (1 + (float)(random.Next(-2, 3) * Math.Pow(2, -24)));
            }

            AssertSame(a, b, c);
            checkedCount++;
        }

        int ties = 0;

        // Double rounding's hard case: a·b + c exactly halfway between two floats, plus a tiny push either side.
        for (int k = 0; k < 100_000; k++)
        {
            float a = 1 + (random.Next(1 << 23) * MathF.Pow(2, -23)), b = 1 + (random.Next(1 << 23) * MathF.Pow(2, -23));
            double exact = (double)a * b; // exact: 48 bits
            float f = (float)exact;
            double tie = -(exact - f) + ((MathF.BitIncrement(f) - (double)f) / 2 * (random.Next(2) == 0 ? 1 : -1)); // a·b + tie is halfway between two floats
            float c = (float)tie;
            if (c != tie)
            {
                continue; // the low part and half an ulp need 25 bits
            }

            AssertSame(a, b, c);
            AssertSame(a, b, MathF.BitIncrement(c));
            AssertSame(a, b, MathF.BitDecrement(c));
            ties++;
        }

        Assert.Equal(400_000, checkedCount);
        Assert.True(ties > 10_000, $"{ties} ties");
    }

    private static void AssertSame(float a, float b, float c)
    {
        float expected = MathF.FusedMultiplyAdd(a, b, c), actual = ElementMath.FusedMultiplyAdd(a, b, c);
        Assert.True(
            BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual) || (float.IsNaN(expected) && float.IsNaN(actual)),
            $"fma({a:R}, {b:R}, {c:R}): MathF {expected:R}, ElementMath {actual:R}");
    }
}
