using System;
using System.Linq;
using OptGen.Generator.Emit;
using OptGen.Generator.Ir;
using OptGen.Generator.Model;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>The IR's fused multiply-add (<see cref="ExprOp.MultiplyAdd"/>): how it is folded, printed, identified and emitted.</summary>
public sealed class MultiplyAddTests
{
    /// <summary>
    /// The constant folder (netstandard2.0, no Math.FusedMultiplyAdd) rounds a·b + c once, as Math.FusedMultiplyAdd
    /// does on .NET: random operands of every exponent, sums that cancel to the product's low bits, ties after
    /// cancellation, overflow, ±0 and ±∞; null only where the result is below the normal range (subnormal, or a product
    /// underflowing to 0).
    /// </summary>
    [Fact]
    public void ConstantFoldingRoundsOnceAsMathFusedMultiplyAdd()
    {
        var random = new Random(11);
        double[] specials = [0.0, -0.0, 1, -1, double.MaxValue, -double.MaxValue, 1e-300, 1e300, double.PositiveInfinity, double.NegativeInfinity, double.NaN, 0.1, 10, 3];
        double Any() => random.Next(3) switch
        {
            0 => specials[random.Next(specials.Length)],
            _ => ((random.NextDouble() * 2) - 1) * Math.Pow(2, random.Next(-600, 600)),
        };

        int folded = 0;
        for (int k = 0; k < 200_000; k++)
        {
            double a = Any(), b = Any(), c = Any();
            if (k % 3 == 0)
            {
                c = -(a * b) * (1 + (random.Next(-2, 3) * Math.Pow(2, -53)));
            }
            else if (k % 3 == 1)
            {
                // a·b + c halfway between two doubles: c cancels the rounded product and adds half an ulp.
                a = 1 + (random.Next(1 << 30) * Math.Pow(2, -30));
                b = 1 + (random.Next(1 << 30) * Math.Pow(2, -30));
                c = -(a * b) + (Math.BitIncrement(a * b) - (a * b)) / 2;
            }

            double expected = Math.FusedMultiplyAdd(a, b, c);
            double? actual = ConstantFold.FusedMultiplyAdd(a, b, c);
            if (actual is null)
            {
                Assert.True(Math.Abs(expected) < 2.2250738585072014E-308, $"fma({a:R}, {b:R}, {c:R}) = {expected:R} not folded");
                continue;
            }

            Assert.True(
                BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(actual.Value) || (double.IsNaN(expected) && double.IsNaN(actual.Value)),
                $"fma({a:R}, {b:R}, {c:R}): Math {expected:R}, folded {actual:R}");
            folded++;
        }

        Assert.True(folded > 190_000, $"{folded} folded");

        // The fold sees what the host code computes: fma(0.1, 10, −1) is 2⁻⁵⁴ (5.55e-17), where 0.1·10 − 1 is 0.
        Assert.Equal(Math.FusedMultiplyAdd(0.1, 10, -1), ConstantFold.Value(Expr.MultiplyAdd(Expr.Constant(0.1), Expr.Constant(10), Expr.Constant(-1))));
        Assert.NotEqual(0.0, ConstantFold.Value(Expr.MultiplyAdd(Expr.Constant(0.1), Expr.Constant(10), Expr.Constant(-1))));
    }

    /// <summary>
    /// People read a fused multiply-add as its math, and the frozen canonical form spells it the same way, so a rule
    /// that switched from v − ḡ·ḡ to MultiplyAdd(−ḡ, ḡ, v) keeps its rule id (old checkpoints load) and its kernel name.
    /// </summary>
    [Fact]
    public void PrintersAndIdsWriteTheMath()
    {
        Expr v = Expr.Var("v"), a = Expr.Var("gAvg"), x = Expr.Var("x");
        Expr fused = Expr.MultiplyAdd(-a, a, v);
        Assert.Equal("v - gAvg * gAvg", CanonicalForm.Expression(fused));
        Assert.Equal(CanonicalForm.Expression(v - (a * a)), CanonicalForm.Expression(fused));
        Assert.Equal("Sqrt(v - gAvg * gAvg)", CanonicalForm.Expression(Expr.Unary(ExprOp.Sqrt, fused)));
        Assert.Equal("x * gAvg + v", CanonicalForm.Expression(Expr.MultiplyAdd(x, a, v)));
        Assert.Equal("v − gAvg²", MathText.Print(fused, new MathText.Symbols()));
        Assert.Equal("√(v − gAvg²)", MathText.Print(Expr.Unary(ExprOp.Sqrt, fused), new MathText.Symbols()));
        Assert.Equal("2·(x·gAvg + v)", MathText.Print(Expr.Constant(2) * Expr.MultiplyAdd(x, a, v), new MathText.Symbols()));
    }

    [Fact]
    public void EveryFlavorRoundsOnce()
    {
        Expr fused = Expr.MultiplyAdd(-Expr.Var("a"), Expr.Var("b"), Expr.Var("c"));
        string Print(ExprFlavor flavor) => ExprText.Print(fused, flavor, (_, n) => n);
        Assert.Equal("global::System.Math.FusedMultiplyAdd(-a, b, c)", Print(ExprFlavor.HostDouble));
        Assert.Equal("global::OptGen.Kernels.ElementMath.FusedMultiplyAdd(-a, b, c)", Print(ExprFlavor.ElementScalar));
        Assert.Equal("global::System.Runtime.Intrinsics.Vector128.FusedMultiplyAdd(-a, b, c)", Print(ExprFlavor.Vector128));
        Assert.Equal("global::System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(-a, b, c)", Print(ExprFlavor.Vector256));
        Assert.Equal("global::System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(-a, b, c)", Print(ExprFlavor.Vector512));
    }
    /// <summary>
    /// fma(A, B, Lr) and A * B + Lr have one canonical text (above), yet are two roundings: each gets its own kernel
    /// scalar, computed on the host the way it is written (before, both statements read the first one hoisted).
    /// </summary>
    [Fact]
    public void AFusedAndAnUnfusedUniformValueAreTwoKernelScalars()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("""
            using OptGen;
            namespace Demo;
            [Optimizer]
            [Hyperparameter("Lr", 0.1)] [Hyperparameter("A", 0.3)] [Hyperparameter("B", 0.7)] [State("m")]
            [Update("m = fma(A, B, Lr) * g")]
            [Update("p = p - (A * B + Lr) * m")]
            public partial class Both;
            """);
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.Errors);
        Assert.DoesNotContain(run.OptGenDiagnostics, d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);
        string optimizer = run.Files.Single(f => f.Key.StartsWith("Demo.Both", StringComparison.Ordinal) && !f.Key.EndsWith(".Gpu.g.cs", StringComparison.Ordinal)).Value;
        Assert.Contains("global::System.Math.FusedMultiplyAdd(", optimizer, StringComparison.Ordinal);
        Assert.Contains("K_1", optimizer, StringComparison.Ordinal);
    }
}
