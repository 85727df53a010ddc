using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// Declarations that used to crash the generator or the compiler, break inside generated code, or pass without a
/// word: each now gets code that compiles or one OPTG diagnostic at the offending declaration or argument (the
/// expected span is marked <c>[|like this|]</c>). Together with <see cref="DiagnosticLocationTests"/> this covers
/// every descriptor (see its EveryDescriptorIsCoveredHereAndDocumented).
/// </summary>
public sealed class RobustnessTests
{
    private static Diagnostic AssertMarked(string markedSource, string id) => DiagnosticLocationTests.AssertMarked(markedSource, id);

    // ---- File names: unique ignoring case, bounded in length ----

    [Theory]
    [InlineData("namespace Demo { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class Foo; [Optimizer] [FirstMoment(Beta = 0.8)] public partial class FOO; }")]
    [InlineData("namespace A.Models { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class Rule; } namespace A.MODELS { [Optimizer] [FirstMoment(Beta = 0.8)] public partial class Rule; }")]
    [InlineData("namespace Demo { [Optimizer] [Hyperparameter(\"X\", 0.1)] [Update(\"p = p - X * g\")] public partial class Foo; [Optimizer] [Hyperparameter(\"X\", 0.1)] [Update(\"p = p - X * g\")] public partial class FOO; }")]
    public void NamesDifferingOnlyInCaseGetTheirOwnFilesAndCompile(string declarations)
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("using OptGen;\n" + declarations);
        Assert.Empty(run.Exceptions);
        Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id == "CS8785");
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        string[] optimizers = run.Files.Keys.Where(k => !k.StartsWith("OptGen.Generated.", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, optimizers.Length);
        Assert.Equal(2, optimizers.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.Equal(run.Files.Count, run.Files.Keys.Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    [Fact]
    public void AVeryLongClassNameGetsABoundedFileNameAndCompiles()
    {
        string name = "Optimizer" + new string('x', 231);
        GeneratorHarness.Run run = GeneratorHarness.Generate($"using OptGen;\nnamespace Demo.Long.Namespace;\n[Optimizer] [FirstMoment(Beta = 0.9)] public partial class {name};");
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        string file = Assert.Single(run.Files.Keys, k => !k.StartsWith("OptGen.Generated.", StringComparison.Ordinal));
        Assert.StartsWith("Demo.Long.Namespace.Optimizerxxx", file, StringComparison.Ordinal);
        Assert.True(file.Length <= OutputNames.MaximumHintLength + ".g.cs".Length, file);
    }

    [Fact]
    public void BoundedNamesAreStableAndTellLongNamesApart()
    {
        string a = new string('a', 300) + "One";
        string b = new string('a', 300) + "Two";
        Assert.Equal(OutputNames.MaximumHintLength, OutputNames.Bounded(a, null).Length);
        Assert.Equal(OutputNames.Bounded(a, null), OutputNames.Bounded(a, null));
        Assert.NotEqual(OutputNames.Bounded(a, null), OutputNames.Bounded(b, null));
        Assert.Equal("Demo.Short", OutputNames.Bounded("Demo.Short", null));
    }

    [Fact]
    public void OfNamesDifferingOnlyInCaseTheOrdinalFirstKeepsItsNameAsDocumented()
    {
        // docs/architecture.md (Names): declarations in ordinal order, "FOO" before "Foo"; the later one gets "_" and
        // 8 hex digits of a hash of its declaration.
        GeneratorHarness.Run run = GeneratorHarness.Generate("using OptGen;\nnamespace Demo { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class Foo; [Optimizer] [FirstMoment(Beta = 0.8)] public partial class FOO; }");
        Assert.Empty(run.Errors);
        Assert.Contains("Demo.FOO.g.cs", run.Files.Keys);
        string foo = Assert.Single(run.Files.Keys, k => k.StartsWith("Demo.Foo", StringComparison.Ordinal) && k.EndsWith(".g.cs", StringComparison.Ordinal) && !k.EndsWith(".Gpu.g.cs", StringComparison.Ordinal));
        Assert.Matches("^Demo\\.Foo_[0-9a-f]{8}\\.g\\.cs$", foo);
    }

    // ---- Huge and deep expressions: a diagnostic, never a stack overflow or a quadratic pass ----

    [Theory]
    [InlineData(10_000)]
    [InlineData(201)]
    public void AHugeFlatSumIsTooComplex(int terms)
    {
        string sum = string.Join(" + ", Enumerable.Repeat("g", terms));
        Diagnostic d = AssertTooComplex($"p = p - {sum}");
        Assert.Contains("200", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void ASumAtTheLimitCompiles()
    {
        // 'p - g - g …' with 199 operators: a path of 200 nodes down the tree.
        string sum = string.Join(" - ", Enumerable.Repeat("g", 199));
        GeneratorHarness.Run run = GeneratorHarness.Generate($"using OptGen;\nnamespace Demo;\n[Optimizer] [Update(\"p = p - {sum}\")] public partial class Long;");
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
    }

    [Theory]
    [InlineData(100_000)]
    [InlineData(65)]
    public void DeepParenthesesAreTooComplex(int depth) =>
        AssertTooComplex("p = " + new string('(', depth) + "p" + new string(')', depth));

    [Fact]
    public void ALongConditionalChainIsTooComplex() =>
        AssertTooComplex("p = " + string.Concat(Enumerable.Repeat("g > 0 ? p : ", 50_000)) + "p");

    [Fact]
    public void DeepUnaryMinusIsTooComplex() => AssertTooComplex("p = " + new string('-', 100_000) + "p");

    [Fact]
    public void NestedLerpsThatExpandExponentiallyAreTooComplex()
    {
        // lerp(a, b, w) = a + w·(b − a) repeats a: 20 levels would be 2^20 copies of the innermost p.
        string nested = "p";
        for (int i = 0; i < 20; i++)
        {
            nested = $"lerp({nested}, g, 0.5)";
        }

        AssertTooComplex("p = " + nested);
    }

    private static Diagnostic AssertTooComplex(string statement)
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate($"using OptGen;\nnamespace Demo;\n[Optimizer] [Update(\"{statement}\")] public partial class Huge;");
        Assert.Empty(run.Exceptions);
        Diagnostic d = Assert.Single(run.OptGenDiagnostics);
        Assert.Equal("OPTG0112", d.Id);
        Assert.Empty(run.Files);
        return d;
    }

    // ---- Errors that used to surface inside generated code ----

    [Fact]
    public void OPTG0023_PrimaryConstructor() =>
        AssertMarked("[Optimizer] [FirstMoment(Beta = 0.9)] public partial class Primary[|(string s)|] { }", "OPTG0023");

    [Fact]
    public void OPTG0023_PrimaryConstructorOnAnExpressionRule() =>
        AssertMarked("[Optimizer] [Update(\"p = p - 0.1 * g\")] public partial class Primary[|()|];", "OPTG0023");

    [Fact]
    public void OPTG0013_ParameterLayoutConstructorCollides() =>
        AssertMarked("[Optimizer] public partial class C { public [|C|](ParameterLayout layout) : base(null!, layout) { } }", "OPTG0013");

    [Fact]
    public void OPTG0109_HyperparameterNamedLikeTheClass() =>
        AssertMarked("[Optimizer] [Hyperparameter(\"[|Lr|]\", 0.1)] [Update(\"p = p - Lr * g\")] public partial class Lr;", "OPTG0109");

    [Fact]
    public void OPTG0109_StateNamedLikeTheClass() =>
        AssertMarked("[Optimizer] [State(\"m\", [|Name = \"Mom\"|])] [Update(\"m = 0.9 * m + g\")] [Update(\"p = p - 0.1 * m\")] public partial class Mom;", "OPTG0109");

    [Fact]
    public void OPTG0109_StatePropertyNamedLikeTheClass() =>
        AssertMarked("[Optimizer] [State(\"[|velocity|]\")] [Update(\"velocity = 0.9 * velocity + g\")] [Update(\"p = p - 0.1 * velocity\")] public partial class Velocity;", "OPTG0109");

    [Fact]
    public void OPTG0021_ExpressionRuleClassNamedLikeAGeneratedMember() =>
        AssertMarked("[Optimizer] [Update(\"p = p - 0.1 * g\")] public partial class [|RunKernel|];", "OPTG0021");

    [Fact]
    public void OPTG0021_AttributeRuleClassNamedLikeItsProperty() =>
        AssertMarked("[Optimizer] [FirstMoment(Beta = 0.9)] public partial class [|Beta1|];", "OPTG0021");

    // ---- Accepted without a word before ----

    [Fact]
    public void OPTG0113_DivisionByALiteralZero() =>
        AssertMarked("[Optimizer] [Update(\"p = p - g / [|0|]\")] public partial class Z;", "OPTG0113");

    [Fact]
    public void OPTG0113_DivisionByAConstantThatFoldsToZero() =>
        AssertMarked("[Optimizer] [Hyperparameter(\"LearningRate\", 0.1)] [StepScalar(\"k\", \"LearningRate / ([|1 - 1|])\")] [Update(\"p = p - k * g\")] public partial class Z;", "OPTG0113");

    [Fact]
    public void OPTG0113_RsqrtOfZero() =>
        AssertMarked("[Optimizer] [Update(\"p = p - g * rsqrt([|2 * 0|])\")] public partial class Z;", "OPTG0113");

    [Fact]
    public void DivisionByANonZeroConstantCompiles()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("using OptGen;\nnamespace Demo;\n[Optimizer] [Update(\"p = p - g / (2 - 1)\")] public partial class Fine;");
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
    }

    [Fact]
    public void OPTG0024_EpsilonUnderflowsToZero() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.99)] [Epsilon([|1e-50|])] public partial class F;", "OPTG0024");

    [Fact]
    public void OPTG0024_LearningRateOverflows() =>
        AssertMarked("[Optimizer] [LearningRate([|1e300|])] public partial class F;", "OPTG0024");

    [Fact]
    public void OPTG0024_WeightDecayOverflows() =>
        AssertMarked("[Optimizer] [WeightDecay([|1e300|])] public partial class F;", "OPTG0024");

    [Fact]
    public void OPTG0024_HyperparameterDefaultOverflows() =>
        AssertMarked("[Optimizer] [Hyperparameter(\"X\", [|1e300|])] [Update(\"p = p - X * g\")] public partial class F;", "OPTG0024");

    [Fact]
    public void OPTG0024_PositiveHyperparameterDefaultUnderflows() =>
        AssertMarked("[Optimizer] [Hyperparameter(\"X\", [|1e-50|], Range = HyperparameterRange.Positive)] [Update(\"p = p - g / X\")] public partial class F;", "OPTG0024");

    [Fact]
    public void OPTG0024_LiteralInAnUpdateOverflows() =>
        AssertMarked("[Optimizer] [Update(\"p = p - [|1e300|] * g\")] public partial class F;", "OPTG0024");

    [Fact]
    public void OPTG0024_LiteralInAnUpdateUnderflows() =>
        AssertMarked("[Optimizer] [Update(\"p = p - g / [|1e-50|]\")] public partial class F;", "OPTG0024");

    [Fact]
    public void Float32EdgeValuesAreAccepted()
    {
        // A NonNegative default that underflows to 0 is still valid; a subnormal float32 literal is not 0; a step
        // scalar is double, so its literals may leave float32's range.
        GeneratorHarness.Run run = GeneratorHarness.Generate("""
            using OptGen;
            namespace Demo;
            [Optimizer] [Hyperparameter("X", 1e-50, Range = HyperparameterRange.NonNegative)] [StepScalar("k", "1e300 * 1e-300")] [Update("p = p - (X + 1e-40) * k * g")] public partial class Edge;
            [Optimizer] [SecondMoment(Beta = 0.99)] [Epsilon(1e-40)] [LearningRate(3e38)] public partial class Edge2;
            """);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
    }

    // ---- One descriptor per invalid combination (OPTG0016 retired) ----

    [Fact]
    public void OPTG0025_SumTakesNoBeta() =>
        AssertMarked("[Optimizer] [SecondMoment(Kind = SecondMomentKind.Sum, [|Beta = 0.9|])] public partial class C;", "OPTG0025");

    [Fact]
    public void OPTG0027_CenteredSum() =>
        AssertMarked("[Optimizer] [SecondMoment(Kind = SecondMomentKind.Sum, [|Centered = true|])] public partial class C;", "OPTG0027");

    [Fact]
    public void OPTG0028_InfinityNormWithPower() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, Kind = SecondMomentKind.InfinityNorm, [|Power = 1|])] [Epsilon(1e-8)] public partial class C;", "OPTG0028");

    [Fact]
    public void OPTG0030_InfinityNormWithEpsilonPlacement() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, Kind = SecondMomentKind.InfinityNorm)] [Epsilon(1e-8, [|Placement = EpsilonPlacement.InsideSqrt|])] public partial class C;", "OPTG0030");

    [Fact]
    public void OPTG0031_MinTOnInfinityNorm() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, Kind = SecondMomentKind.InfinityNorm)] [Epsilon(1e-8)] [BiasCorrection([|BiasCorrectionMode.MinT|])] public partial class C;", "OPTG0031");

    [Fact]
    public void OPTG0032_BeforeBiasCorrectionWithoutPowerCorrection() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9)] [Epsilon(1e-8, [|BeforeBiasCorrection = true|])] public partial class C;", "OPTG0032");

    [Fact]
    public void OPTG0033_NesterovWithDampening() =>
        AssertMarked("[Optimizer] [Momentum(0.9, Dampening = 0.1, [|Nesterov = true|])] public partial class C;", "OPTG0033");

    [Fact]
    public void OPTG0034_ClassicMomentumWithDampening() =>
        AssertMarked("[Optimizer] [Momentum(0.9, [|Dampening = 0.1|], Style = MomentumStyle.Classic)] public partial class C;", "OPTG0034");

    [Fact]
    public void OPTG0035_NAdamWithoutPowerCorrection() =>
        AssertMarked("[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [Epsilon(1e-8)] [NesterovMomentumDecay([|0.004|])] public partial class C;", "OPTG0035");

    [Fact]
    public void OPTG0036_RectifiedWithMomentum() =>
        AssertMarked("[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [BiasCorrection(BiasCorrectionMode.Power)] [Epsilon(1e-8)] [Momentum(0.9)] [[|Rectified|]] public partial class C;", "OPTG0036");

    [Fact]
    public void OPTG0037_DeltaAccumulatorWithFirstMoment() =>
        AssertMarked("[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.9)] [Epsilon(1e-6, Placement = EpsilonPlacement.InsideSqrt)] [[|DeltaAccumulator|]] public partial class C;", "OPTG0037");
}
