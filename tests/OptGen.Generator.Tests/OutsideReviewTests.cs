using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// Declarations an outside reviewer tried against the generator that gave compiler errors inside generated code or
/// were accepted without a word. Each now gets one OPTG diagnostic at the offending argument or expression part (the
/// expected span is marked <c>[|like this|]</c>), or code that compiles.
/// </summary>
public sealed class OutsideReviewTests
{
    private static Diagnostic AssertMarked(string markedSource, string id) => DiagnosticLocationTests.AssertMarked(markedSource, id);

    // ---- A state named like a Step method's type parameter (CS0412 in generated code) or the GPU kernel's index (CS0100) ----

    [Theory]
    [InlineData("TState")]
    [InlineData("TParameter")]
    [InlineData("TGradient")]
    [InlineData("tstate")]
    public void OPTG0109_StateNamedLikeAStepTypeParameter(string name) =>
        AssertMarked($"[Optimizer] [State(\"[|{name}|]\")] [Update(\"p = p - 0.1 * g\")] public partial class C;", "OPTG0109");

    [Fact]
    public void OPTG0109_StateNamedLikeTheGpuKernelsIndex() =>
        // The ILGPU kernel takes (Index1D index, …, ArrayView<float> m, …): a state 'index' was CS0100 there.
        AssertMarked("[Optimizer] [State(\"[|index|]\")] [Update(\"p = p - 0.1 * g\")] public partial class C;", "OPTG0109");

    [Fact]
    public void OPTG0109_LocalNamedLikeAStepTypeParameter() =>
        AssertMarked("[Optimizer] [Update(\"let [|TState|] = 2 * g\")] [Update(\"p = p - g\")] public partial class C;", "OPTG0109");

    // ---- Expression rules skipped the attribute checks every building-block rule gets ----

    [Fact]
    public void OPTG0015_HyperparameterRangeOutOfRange()
    {
        // (HyperparameterRange)99 used to become Finite silently: the optimizer then accepted any finite value.
        Diagnostic d = AssertMarked("[Optimizer] [Hyperparameter(\"X\", 0.5, [|Range = (HyperparameterRange)99|])] [Update(\"p = p - X * g\")] public partial class C;", "OPTG0015");
        Assert.Contains("HyperparameterRange.Positive", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void OPTG0018_DuplicateOptimizerOnAnExpressionRule() =>
        // Every OptGen attribute allows repeats for the compiler, so only the generator can say it; it used to take one silently.
        AssertMarked("[Optimizer] [[|Optimizer(Name = \"Other\")|]] [Update(\"p = p - 0.1 * g\")] public partial class C;", "OPTG0018");

    [Fact]
    public void RepeatedExpressionAttributesAreNotDuplicates()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("""
            using OptGen;
            namespace Demo;
            [Optimizer] [Hyperparameter("A", 0.1, Range = HyperparameterRange.Positive)] [Hyperparameter("B", 0.9, Range = HyperparameterRange.UnitInterval)]
            [State("m")] [State("v")] [StepScalar("k", "A / (1 - pow(B, t))")] [StepScalar("j", "k * 2")]
            [Update("m = B * m + g")] [Update("v = max(v, abs(g))")] [Update("p = p - j * m / (v + 1)")]
            public partial class Many;
            """);
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
    }

    // ---- A part made of numbers alone that is NaN or ∞: the kernel would make every parameter NaN ----

    [Theory]
    [InlineData("p = p - [|sqrt(0 - 1)|] * g")]
    [InlineData("p = p - [|log(0)|] * g")]
    [InlineData("p = p - [|exp(1000)|] * g")]
    [InlineData("p = p - [|1e38 * 1e38 * 1e38 * 1e38 * 1e38 * 1e38 * 1e38 * 1e38 * 1e38|] * g")]
    [InlineData("p = p - g * ([|1e38 * 1e38 * 1e38 * 1e38 * 1e38 * 1e38 * 1e38 * 1e38 * 1e38|])")]
    [InlineData("p = p - 2 * max(1, [|exp(800)|]) * g")]
    public void OPTG0024_NumbersAloneThatAreNotFinite(string statement) =>
        AssertMarked($"[Optimizer] [Update(\"{statement}\")] public partial class C;", "OPTG0024");

    [Fact]
    public void OPTG0024_StepScalarOfNumbersAloneThatIsInfinite() =>
        AssertMarked("[Optimizer] [StepScalar(\"k\", \"[|pow(0, 0 - 1)|]\")] [Update(\"p = p - k * g\")] public partial class C;", "OPTG0024");

    [Fact]
    public void FiniteFoldsAndPerStepValuesCompile()
    {
        // Large intermediate values that stay finite in double, and values that depend on t, are left alone.
        GeneratorHarness.Run run = GeneratorHarness.Generate("""
            using OptGen;
            namespace Demo;
            [Optimizer] [StepScalar("k", "1e200 * 1e100 * 1e-290")] [StepScalar("j", "1 / t")] [Update("p = p - k * j * exp(0 - 1000) * g + log(1) * p")] public partial class Fine;
            """);
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
    }

    // ---- An operation's span covers the parentheses around its operands ----

    [Theory]
    [InlineData("p = p - g / ([|(1) - 1|])", "OPTG0113")]
    [InlineData("p = p - g / ([|(2 - 1) - (3 - 2)|])", "OPTG0113")]
    [InlineData("p = p - g * ([|(1e38 * 1e38 * 1e38 * 1e38 * 1e38) * 1e38 * 1e38 * 1e38 * 1e38|])", "OPTG0024")]
    public void AnOperationOnParenthesizedOperandsIsMarkedWhole(string statement, string id) =>
        // The span used to start inside the first operand's '(' and end before the last one's ')': "1) - 1".
        AssertMarked($"[Optimizer] [Update(\"{statement}\")] public partial class C;", id);

    // ---- Class names that generated code must escape ----

    [Theory]
    [InlineData("public partial class @file;")]
    [InlineData("public partial class @required;")]
    [InlineData("public partial class @record;")]
    [InlineData("public partial class @scoped;")]
    [InlineData("public partial class @var;")]
    [InlineData("public partial class @field;")]
    [InlineData("public partial class @partial;")]
    [InlineData("public partial class @record { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class Inner; }")]
    [InlineData("public partial class @event { [Optimizer] [Update(\"p = p - 0.1 * g\")] public partial class @value; }")]
    public void ContextualKeywordClassNamesCompileAtTheHighestWarningLevel(string declaration)
    {
        // Unescaped in generated code, @file and @required read as modifiers (syntax errors), @record and @scoped are
        // CS8860/CS9062, and @var is CS8981 at the SDK's default warning level: all inside generated code.
        string source = "using OptGen;\nnamespace Demo;\n" + (declaration.Contains("[Optimizer]", StringComparison.Ordinal) ? declaration : "[Optimizer] [FirstMoment(Beta = 0.9)] " + declaration);
        GeneratorHarness.Run run = GenerateAtWarningLevel(source, 9999);
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
    }

    [Fact]
    public void AnAllLowercaseClassNameWarnsOnlyInTheUsersOwnFile()
    {
        GeneratorHarness.Run run = GenerateAtWarningLevel("using OptGen;\nnamespace Demo;\n[Optimizer] [FirstMoment(Beta = 0.9)] public partial class lower;", 9999);
        Diagnostic d = Assert.Single(run.Errors);
        Assert.Equal("CS8981", d.Id);
        Assert.Equal("Consumer.cs", d.Location.GetLineSpan().Path);
    }

    private static GeneratorHarness.Run GenerateAtWarningLevel(string source, int warningLevel)
    {
        Microsoft.CodeAnalysis.CSharp.CSharpCompilation compilation = GeneratorHarness.Compilation(source);
        compilation = compilation.WithOptions(compilation.Options.WithWarningLevel(warningLevel));
        GeneratorDriver driver = GeneratorHarness.Driver().RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out var diagnostics);
        GeneratorDriverRunResult result = driver.GetRunResult();
        return new GeneratorHarness.Run(
            result.Results.SelectMany(r => r.GeneratedSources).ToDictionary(g => g.HintName, g => g.SourceText.ToString()),
            diagnostics.AddRange(result.Diagnostics),
            output.GetDiagnostics(),
            result.Results.Where(r => r.Exception is not null).Select(r => r.Exception!).ToList());
    }

    // ---- A refused declaration is reported once, not again at every use ----

    [Theory]
    [InlineData("[State(\"[|TState|]\")] [Update(\"TState = 0.9 * TState + g\")] [Update(\"p = p - 0.1 * TState\")]")]
    [InlineData("[Hyperparameter(\"[|Kernel|]\", 0.1)] [Update(\"p = p - Kernel * g\")]")]
    [InlineData("[StepScalar(\"[|stride|]\", \"1 / t\")] [Update(\"p = p - stride * g\")]")]
    [InlineData("[Update(\"let [|state|] = 2 * g\")] [Update(\"p = p - state\")]")]
    public void ARefusedNameIsReportedOnlyAtItsDeclaration(string attributes) =>
        // Each used to add an OPTG0101/OPTG0105 at every use: four diagnostics for one mistake.
        AssertMarked($"[Optimizer] {attributes} public partial class C;", "OPTG0109");

    // ---- Constructor arguments given by name, in another order ----

    [Theory]
    [InlineData("[Hyperparameter([|defaultValue: 1e300|], name: \"X\")] [Update(\"p = p - X * g\")]", "OPTG0024")]
    [InlineData("[Hyperparameter([|defaultValue: 2|], name: \"X\", Range = HyperparameterRange.UnitInterval)] [Update(\"p = p - X * g\")]", "OPTG0110")]
    [InlineData("[Hyperparameter(defaultValue: 0.1, name: \"[|p|]\")] [Update(\"p = p - g\")]", "OPTG0109")]
    [InlineData("[StepScalar(expression: \"1 / [|0|]\", name: \"k\")] [Update(\"p = p - k * g\")]", "OPTG0113")]
    [InlineData("[StepScalar(\"T2X\", \"t\")] [StepScalar(expression: \"t\", name: \"[|t2x|]\")] [Update(\"p = p - T2X * g\")]", "OPTG0109")]
    public void NamedConstructorArgumentsInAnotherOrderAreMarkedWhereTheyAre(string attributes, string id) =>
        // Arguments were found by their position in the source, so 'name:' got the default's diagnostic and the
        // expression's column was looked up in the name's literal.
        AssertMarked($"[Optimizer] {attributes} public partial class C;", id);
}
