using System;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// OPTG0024 for a value of numbers alone that is finite in double but that the kernel receives as a float32 it does
/// not fit: every part of an [Update] that is the same for all elements is computed once per step in double and
/// rounded to float32, and <c>CreateKernel</c> refuses a value that is ±∞ there on every step. Reported at the part
/// of the string it comes from. Values that depend on t, a hyperparameter or an element are left to run time.
/// </summary>
public sealed partial class DiagnosticLocationTests
{
    [Theory]
    [InlineData("[Update(\"p = p - [|pow(2, 1000)|] * g\")]", "1.0715086071862673E+301", "∞")]
    [InlineData("[Update(\"p = p - [|exp(100)|] * g\")]", "2.6881171418161356E+43", "∞")]
    [InlineData("[Update(\"p = p - ([|1e30 * 1e30|]) * g\")]", "1.0000000000000001E+60", "∞")]
    [InlineData("[Update(\"p = p - g * ([|3e38 + 3e38|])\")]", "6E+38", "∞")]
    [InlineData("[Update(\"p = p - [|-exp(100)|] * g\")]", "-2.6881171418161356E+43", "−∞")]
    [InlineData("[Update(\"p = p - g * [|max(1, exp(100))|]\")]", "2.6881171418161356E+43", "∞")]
    [InlineData("[Update(\"p = g > [|exp(100)|] ? p : p - g\")]", "2.6881171418161356E+43", "∞")] // an operand of a comparison
    [InlineData("[State(\"m\")] [Update(\"m = lerp(m, g, [|exp(100)|])\")] [Update(\"p = p - m\")]", "2.6881171418161356E+43", "∞")]
    [InlineData("[Update(\"p = p - g * [|exp(0 - 200)|]\")]", "1.3838965267367376E-87", "0")] // as the number 1e-87 would be
    [InlineData("[StepScalar(\"k\", \"exp(100)\")] [Update(\"p = p - [|k|] * g\")]", "2.6881171418161356E+43", "∞")]
    [InlineData("[StepScalar(\"k\", \"exp(50)\")] [StepScalar(\"j\", \"k * k\")] [Update(\"p = p - [|j|] * g\")]", "2.688117141816135E+43", "∞")]
    [InlineData("[Update(@\"p = p - [|exp(100)|] * g\")]", "2.6881171418161356E+43", "∞")]
    [InlineData("[Update(\"\"\"p = p - [|exp(100)|] * g\"\"\")]", "2.6881171418161356E+43", "∞")]
    [InlineData("[Update(\"p = p - g / (norm(g) + 1) * [|exp(100)|]\")]", "2.6881171418161356E+43", "∞")] // a rule with reductions
    public void OPTG0024_KernelValueOfNumbersAloneOutsideFloat32(string attributes, string value, string float32)
    {
        Diagnostic d = AssertMarked($"[Optimizer] {attributes} public partial class C;", "OPTG0024");
        string message = d.GetMessage(CultureInfo.InvariantCulture);
        Assert.Contains($" is {value}, which is {float32} in float32", message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Inside a kernel scalar that depends on t or a hyperparameter, a part of numbers alone that the kernel receives as
    /// it is on some step: a branch of <c>? :</c> (also through a step scalar, negation, nested conditions), the
    /// reciprocal of a divisor's branch, a bound of max above float32 (min below). Reported at the part.
    /// </summary>
    [Theory]
    [InlineData("[Update(\"p = p - (t == 1 ? [|1e30 * 1e30|] : 1) * g\")]", "'1e30 * 1e30' in [Update] (the kernel receives it on the steps that select it) is 1.0000000000000001E+60, which is ∞")]
    [InlineData("[Update(\"p = p - (t == 1 ? 1 : [|1e30 * 1e30|]) * g\")]", "is 1.0000000000000001E+60, which is ∞")]
    [InlineData("[Update(\"p = p - select(t > 5, [|exp(100)|], 1) * g\")]", "is 2.6881171418161356E+43, which is ∞")]
    [InlineData("[Hyperparameter(\"Lr\", 0.1)] [Update(\"p = p - (t == 1 ? Lr : (t == 2 ? [|pow(2, 1000)|] : 1)) * g\")]", "is 1.0715086071862673E+301, which is ∞")]
    [InlineData("[Update(\"p = p - (t == 1 ? [|0 - exp(100)|] : 1) * g\")]", "is -2.6881171418161356E+43, which is −∞")]
    [InlineData("[Update(\"p = p - g * -(t == 1 ? [|exp(100)|] : 1)\")]", "is 2.6881171418161356E+43, which is ∞")]
    [InlineData("[Update(\"p = p - (t == 1 ? [|exp(0 - 200)|] : 1) * g\")]", "is 1.3838965267367376E-87, which is 0 in float32")]
    [InlineData("[Update(\"p = p - g / (p + (t == 1 ? [|exp(0 - 200)|] : 1))\")]", "which is 0 (and the update divides by it) in float32")]
    [InlineData("[StepScalar(\"k\", \"t == 1 ? [|exp(100)|] : 1\")] [Update(\"p = p - k * g\")]", "'exp(100)' in [StepScalar(\"k\")] (the kernel receives it on the steps that select it)")]
    [InlineData("[StepScalar(\"a\", \"t == 1 ? [|exp(100)|] : 1\")] [StepScalar(\"k\", \"a\")] [Update(\"p = p - k * g\")]", "'exp(100)' in [StepScalar(\"a\")]")]
    [InlineData("[StepScalar(\"k\", \"exp(t)\")] [Update(\"p = p - (t == 1 ? [|exp(100)|] : k) * g\")]", "'exp(100)' in [Update]")]
    [InlineData("[Update(\"p = p - g / (t == 1 ? [|exp(0 - 100)|] : 1)\")]", "The reciprocal of 'exp(0 - 100)' in [Update] (the kernel multiplies by it instead of dividing, on the steps that select it) is 2.688117141816135E+43")]
    [InlineData("[Hyperparameter(\"Lr\", 0.1)] [Update(\"p = p - max(Lr, [|exp(100)|]) * g\")]", "(max makes the value the kernel receives at least this) is 2.6881171418161356E+43")]
    [InlineData("[Hyperparameter(\"Lr\", 0.1)] [Update(\"p = p - min(Lr, [|0 - exp(100)|]) * g\")]", "(min makes the value the kernel receives at most this) is -2.6881171418161356E+43")]
    [InlineData("[Hyperparameter(\"Lr\", 0.1)] [Update(\"p = p - (t == 1 ? max(Lr, [|exp(100)|]) : Lr) * g\")]", "at least this")]
    [InlineData("[Update(\"p = p - g / (norm(g) + 1) * (t == 1 ? [|exp(100)|] : 1)\")]", "(the kernel receives it on the steps that select it)")] // a rule with reductions
    public void OPTG0024_APartOfNumbersAloneThatAValueDependingOnTReceives(string attributes, string expected)
    {
        Diagnostic d = AssertMarked($"[Optimizer] {attributes} public partial class C;", "OPTG0024");
        Assert.Contains(expected, d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void OPTG0113_ABranchZeroOfADivisorThatDependsOnT() =>
        Assert.Contains("(on the steps that select '0')", AssertMarked("[Optimizer] [Update(\"p = p - g / (t == 1 ? [|0|] : 2)\")] public partial class C;", "OPTG0113").GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    [Fact]
    public void OPTG0024_ADivisorOfNumbersAloneWhoseReciprocalOverflows()
    {
        // The kernel multiplies by 1/s, computed in double: 1/exp(−100) = 2.7e43.
        Diagnostic d = AssertMarked("[Optimizer] [Update(\"p = p - g / [|exp(0 - 100)|]\")] public partial class C;", "OPTG0024");
        Assert.Contains("The reciprocal of 'exp(0 - 100)' in [Update]", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void OPTG0024_ADivisorOfNumbersAloneThatRoundsToZero()
    {
        // CreateKernel would refuse it on every step: the kernel divides by a float32 0.
        Diagnostic d = AssertMarked("[Optimizer] [Update(\"p = p - g / (p + [|1e-30 * 1e-30|])\")] public partial class C;", "OPTG0024");
        Assert.Contains("which is 0 (and the update divides by it) in float32", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    /// <summary>
    /// Every number an attribute takes, past float32's range: each is diagnosed at its argument (OPTG0024 where the
    /// value is otherwise in range; the argument's own range diagnostic where it is not).
    /// </summary>
    [Theory]
    [InlineData("[LearningRate([|3.5e38|])]", "OPTG0024")]
    [InlineData("[LearningRate(0.01, [|Decay = 1e300|])]", "OPTG0024")]
    [InlineData("[FirstMoment([|Beta = 1e300|])]", "OPTG0009")]
    [InlineData("[SecondMoment([|Length = 1e300|])]", "OPTG0008")]
    [InlineData("[SecondMoment(Kind = SecondMomentKind.Sum, [|InitialValue = 1e300|])] [Epsilon(1e-10)]", "OPTG0024")]
    [InlineData("[SecondMoment(Beta = 0.99, [|Power = 1e300|])] [Epsilon(1e-8)]", "OPTG0026")]
    [InlineData("[SecondMoment(Beta = 0.99)] [Epsilon([|1e300|])]", "OPTG0024")]
    [InlineData("[Momentum([|1e300|])]", "OPTG0009")]
    [InlineData("[Momentum([|Length = 1e300|])]", "OPTG0008")]
    [InlineData("[Momentum(0.9, [|Dampening = 1e300|])]", "OPTG0015")]
    [InlineData("[WeightDecay([|-1e300|])]", "OPTG0015")]
    [InlineData("[FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [BiasCorrection(BiasCorrectionMode.Power)] [Epsilon(1e-8)] [NesterovMomentumDecay([|1e300|])]", "OPTG0024")]
    [InlineData("[FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [Epsilon(1e-8)] [TrustRatio([|Coefficient = 1e300|])]", "OPTG0132")]
    [InlineData("[FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [Epsilon(1e-8)] [TrustRatio([|MaxRatio = 1e-50|])]", "OPTG0132")]
    [InlineData("[Hyperparameter(\"X\", [|-3.5e38|])] [Update(\"p = p - X * g\")]", "OPTG0024")]
    [InlineData("[Hyperparameter(\"X\", [|1e300|], Range = HyperparameterRange.NonNegative)] [Update(\"p = p - X * g\")]", "OPTG0024")]
    [InlineData("[Update(\"p = p - g / (norm(g) + block_mean(g, [|1e300|]))\")]", "OPTG0024")] // a number in an [Update] is a float32 first
    public void NumericAttributeArgumentsOutsideFloat32AreDiagnosedAtTheArgument(string attributes, string id) =>
        AssertMarked($"[Optimizer] {attributes} public partial class C;", id);

    [Fact]
    public void KernelValuesThatFitFloat32OrAreNotConstantCompile()
    {
        // Large constants inside one value that fits, per-element products, values that depend on a hyperparameter,
        // on t or on an element: float32 holds them, or Step checks them on the values it is given.
        string[] updates =
        {
            "p = p - exp(100) * 1e-10 * g",            // one hoisted value: 2.7e33
            "p = p - g * 1e30 * 1e30",                 // (g · 1e30) · 1e30, per element
            "p = p - Lr * exp(100) * g",               // depends on Lr
            "p = p - pow(2, t) * g",                   // depends on t
            "p = p - exp(g * 100) * 1e-40",            // per element
            "p = p - g / exp(50)",                     // reciprocal 1.9e-22
            "p = p - g * exp(0 - 100)",                // 3.7e-44: a float32 subnormal, not 0
            "p = p - g / (p + 1e-40)",                 // a number, kept as written
            "p = p - k * 1e-10 * g",                   // a step scalar of 2.7e43 inside a value of 2.7e33
            "p = p - (exp(100) - exp(100) + 1) * g",   // intermediate values never reach float32
            "p = p - (t == 1 ? exp(100) : 1) * 1e-10 * g", // the kernel receives the product: at most 2.7e33
            "p = p - (t == 1 ? exp(100) * 1e-10 : 1) * g", // a branch that fits
            "p = p - min(Lr, exp(100)) * g",            // min with a huge bound is Lr (a float32 hyperparameter)
            "p = p - max(Lr, 0 - exp(100)) * g",        // and max with a hugely negative one
            "p = p - g / (t == 1 ? exp(50) : 1)",       // reciprocal 1.9e-22
            "p = p - g / (t == 1 ? 0.5 : Lr)",          // a divisor's branch that is not 0
            "p = p - (t == 1 ? k * 1e-10 : 1) * g",     // the step scalar of 2.7e43 inside a branch that fits
            "p = p - (g > 0 ? exp(100) * 1e-10 : Lr) * g", // per element: the branch is a kernel scalar of its own that fits
        };
        // RAdam's threshold is compared with ρₜ on the host in double: 1e300 (never rectify) is a valid double there.
        const string Rectified = "[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [BiasCorrection(BiasCorrectionMode.Power)] [Epsilon(1e-8)] [Rectified(Threshold = 1e300)] public partial class NeverRectified;\n";
        string source = "using OptGen;\nnamespace Demo;\n" + Rectified + string.Concat(updates.Select((u, i) =>
            $"[Optimizer] {(u.Contains("Lr", StringComparison.Ordinal) ? "[Hyperparameter(\"Lr\", 1e-10)] " : string.Empty)}{(u.Contains(" k ", StringComparison.Ordinal) ? "[StepScalar(\"k\", \"exp(100)\")] " : string.Empty)}[Update(\"{u}\")] public partial class Fits{i};\n")); // declares only what it uses (else OPTG0139, OPTG0140)
        GeneratorHarness.Run run = GeneratorHarness.Generate(source);
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.All(Enumerable.Range(0, updates.Length), i => Assert.Contains($"Demo.Fits{i}.g.cs", run.Files.Keys));
        Assert.Contains("Demo.NeverRectified.g.cs", run.Files.Keys);
    }
}
