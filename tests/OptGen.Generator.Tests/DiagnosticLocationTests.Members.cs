using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// What the user's own part of an optimizer class declares, against what the generated part declares, inherits and
/// calls: each clash is one OPTG diagnostic at the user's member (the expected span is marked <c>[|like this|]</c>),
/// never CS0102/CS0108/CS0229 in generated code or a generated call that reaches the user's member.
/// </summary>
public sealed partial class DiagnosticLocationTests
{
    private const string Lamb = "[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [BiasCorrection(BiasCorrectionMode.Power)] [Epsilon(1e-6)] [WeightDecay(0.01, Decoupled = true)] [TrustRatio]";
    private const string AdamRule = "[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [Epsilon(1e-8)]";
    private const string Expression = "[Optimizer] [State(\"m\")] [Update(\"m = 0.9 * m + g\")] [Update(\"p = p - 0.1 * m\")]";
    private const string ExpressionNorm = "[Optimizer] [State(\"m\")] [Update(\"m = 0.9 * m + g\")] [Update(\"let n = norm(m)\")] [Update(\"p = p - 0.1 * m / (n + 1)\")]";

    // ---- Members the generated base class has: hidden (CS0108 without a word before) or called by name ----

    [Theory]
    [InlineData(Lamb, "public int [|Passes|] => 3;")] // the brief's case: OptGen.MultiPassOptimizer.Passes
    [InlineData(AdamRule, "public int [|Descriptor|];")]
    [InlineData(AdamRule, "public double [|Length|] { get; set; }")]
    [InlineData(AdamRule, "public class [|Groups|] { }")]
    [InlineData(Expression, "public long [|StepCount|] => 0;")]
    [InlineData(ExpressionNorm, "public int [|Passes|];")]
    [InlineData(AdamRule, "public double [|this|][string name] => 0;")] // Optimizer's indexer by name: was CS0108 in the user's part, no OPTG diagnostic
    [InlineData(Expression, "public int [|this|][string name] { get => 0; set { } }")]
    public void OPTG0136_MemberHidesAnInheritedMember(string rule, string member) =>
        AssertMarked($"{rule} public partial class C {{ {member} }}", "OPTG0136");

    [Theory]
    [InlineData("public int [|GetState|];")] // a field: CS0108 before
    [InlineData("public class [|SetHyperparameter|] { }")]
    [InlineData("public new double [|GetHyperparameter|](int index) => 42;")] // 'new' and the same signature: every generated property read 42, silently
    [InlineData("public double [|GetHyperparameter|](long index) => 42;")] // an overload: a derived class's applicable method wins overload resolution
    [InlineData("public void [|ChangeStatePrecision|](int precision) { }")]
    public void OPTG0136_MemberNamedLikeOneGeneratedCodeCalls(string member) =>
        AssertMarked($"{AdamRule} public partial class C {{ {member} }}", "OPTG0136");

    [Fact]
    public void AnIndexerThatHidesNothingOrSaysNewCompiles()
    {
        // Another parameter list is an overload, not a hiding; 'new' says the hiding is meant (C# is silent then too).
        GeneratorHarness.Run run = GeneratorHarness.Generate("using OptGen;\nnamespace Demo;\n" + AdamRule + " public partial class A { public int this[int i] => i; }\n" + AdamRule + " public partial class B { public new double this[string name] => 0; }\n");
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.Contains("Demo.A.g.cs", run.Files.Keys);
        Assert.Contains("Demo.B.g.cs", run.Files.Keys);
    }

    [Fact]
    public void OPTG0136_MemberNamedLikeOneGeneratedCodeCallsOnAnExpressionRule() =>
        AssertMarked($"{Expression} public partial class C {{ public static int [|GetState|]; }}", "OPTG0136");

    // ---- Members the generated part declares: OPTG0013 at the user's member ----

    [Theory]
    [InlineData(Lamb, "private static readonly int [|RulePasses|] = 1;")] // was CS0102 + CS0229 in generated code
    [InlineData(Lamb, "private static int [|RuleReductions|];")]
    [InlineData(Lamb, "public int [|Reduce|];")] // was CS0102 beside the generated Reduce override
    [InlineData(ExpressionNorm, "public void [|Update|]() { }")]
    [InlineData(Expression, "internal static int [|CreateKernel|](int x) => x;")] // the expression front end did not check these
    [InlineData(Expression, "private class [|RuleDescriptor|] { }")]
    public void OPTG0013_MemberNamedLikeAGeneratedOne(string rule, string member) =>
        AssertMarked($"{rule} public partial class C {{ {member} }}", "OPTG0013");

    [Fact]
    public void OPTG0013_ExplicitGpuKernelSourceImplementation()
    {
        // The GPU half implements OptGen.Gpu.IGpuKernelSource.CreateGpuUpdate itself (CS8646 before).
        const string source = "using OptGen;\nnamespace Demo;\n" + AdamRule + " public partial class C : OptGen.Gpu.IGpuKernelSource { OptGen.Gpu.GpuUpdate OptGen.Gpu.IGpuKernelSource.CreateGpuUpdate(ILGPU.Runtime.Accelerator accelerator, int groups) => null!; }";
        GeneratorHarness.Run run = GeneratorHarness.Generate(source, ilgpu: true);
        Assert.Empty(run.Exceptions);
        Diagnostic d = Assert.Single(run.OptGenDiagnostics);
        Assert.Equal("OPTG0013", d.Id);
        Assert.Equal("CreateGpuUpdate", source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        Assert.Empty(run.Files);
    }

    [Fact]
    public void OPTG0109_StatePropertyNamedLikeAGeneratedMember() =>
        AssertMarked("[Optimizer] [State(\"m\", [|Name = \"RulePasses\"|])] [Update(\"m = 0.9 * m + g\")] [Update(\"let n = norm(m)\")] [Update(\"p = p - 0.1 * m / (n + 1)\")] public partial class C;", "OPTG0109");

    // ---- [SecondMoment(Name = …)]: the camelCase local in CreateKernel beside its parameters and the other hyperparameters ----

    [Theory]
    [InlineData("hyperparameters")] // was CS0841/CS0136/CS0021
    [InlineData("step")] // was CS0136 and CS1503
    [InlineData("T")] // its local 't' was CS0128 beside 't = step'
    [InlineData("GradientScale")] // was CS0136
    [InlineData("learningRate")] // its local 'learningRate' was CS0128 beside LearningRate's
    [InlineData("beta1")]
    [InlineData("RulePasses")] // a rule with reductions declares this table
    public void OPTG0021_SecondMomentNameThatGeneratedCodeUses(string name) =>
        AssertMarked($"[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.99, [|Name = \"{name}\"|])] [Epsilon(1e-6)] [TrustRatio] public partial class C;", "OPTG0021");

    [Fact]
    public void OPTG0017_SecondMomentNamedDiscard() =>
        // 'double _ = hyperparameters[…]' is a discard: CS0029 in generated code before.
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.99, [|Name = \"_\"|])] [Epsilon(1e-6)] public partial class C;", "OPTG0017");

    [Theory]
    [InlineData("Equals")] // a kernel field 'Equals' hid ValueType.Equals: CS0108 in the generated kernel
    [InlineData("ToString")]
    [InlineData("Segments")]
    public void OPTG0109_StepScalarNamedLikeAMemberOfTheKernel(string name) =>
        AssertMarked($"[Optimizer] [Hyperparameter(\"Lr\", 0.1)] [StepScalar(\"[|{name}|]\", \"Lr / t\")] [Update(\"p = p - {name} * g\")] public partial class C;", "OPTG0109");

    // ---- Types that take the place of a namespace generated code names from global:: ----

    [Theory]
    [InlineData("namespace OptGen;\n[Optimizer] [FirstMoment(Beta = 0.9)] public partial class [|Gpu|];")]
    [InlineData("namespace OptGen;\n[Optimizer] [FirstMoment(Beta = 0.9)] public partial class [|Kernels|];")]
    [InlineData("namespace OptGen;\n[Optimizer] [FirstMoment(Beta = 0.9)] public partial class [|Generated|];")]
    [InlineData("using OptGen;\n[Optimizer] [FirstMoment(Beta = 0.9)] public partial class [|System|];")]
    [InlineData("using OptGen;\n[Optimizer] [Update(\"p = p - 0.1 * g\")] public partial class [|ILGPU|];")]
    [InlineData("using OptGen;\npublic partial class [|System|] { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class Inner; }")]
    [InlineData("using OptGen;\nnamespace Demo { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class [|Rule|]; }\nnamespace OptGen.Gpu { } namespace OptGen { public static class Gpu { } }")]
    public void OPTG0137_TypeHidesANamespaceOfGeneratedCode(string source)
    {
        // Before: CS0437 and dozens of errors in every generated file, with no OPTG diagnostic.
        Diagnostic d = AssertMarked(source, "OPTG0137", inDemo: false);
        Assert.Contains("global::", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    // ---- Every part of the class must be partial ----

    [Fact]
    public void OPTG0001_AnotherPartIsNotPartial()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate(new[]
        {
            "using OptGen;\nnamespace Demo;\n[Optimizer] [FirstMoment(Beta = 0.9)] public partial class C;",
            "namespace Demo;\npublic class C { }",
        });
        Assert.Empty(run.Exceptions);
        Diagnostic d = Assert.Single(run.OptGenDiagnostics);
        Assert.Equal("OPTG0001", d.Id);
        Assert.Equal("Consumer2.cs", d.Location.GetLineSpan().Path);
        Assert.Equal(new Microsoft.CodeAnalysis.Text.LinePosition(1, 13), d.Location.GetLineSpan().StartLinePosition);
        Assert.Empty(run.Files);
    }

    [Fact]
    public void OPTG0013_UserMemberInAnotherFileIsMarkedThere()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate(new[]
        {
            "using OptGen;\nnamespace Demo;\n[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [Epsilon(1e-6)] [TrustRatio] public partial class C;",
            "namespace Demo;\npublic partial class C { public int Passes => 2; }",
        });
        Diagnostic d = Assert.Single(run.OptGenDiagnostics);
        Assert.Equal("OPTG0136", d.Id);
        Assert.Equal("Consumer2.cs", d.Location.GetLineSpan().Path);
        Assert.Equal(new Microsoft.CodeAnalysis.Text.LinePosition(1, 36), d.Location.GetLineSpan().StartLinePosition);
    }

    [Fact]
    public void OPTG0200_NonNegativeStateOfNull() =>
        // A null state name was skipped without a word.
        AssertMarked("[Optimizer] [NonNegativeState([|null!|])] [FirstMoment(Beta = 0.9)] public partial class C;", "OPTG0200");

    [Theory]
    [InlineData("[Update(\"let x = g +[|*|] g\")] [Update(\"p = p - x\")]")]
    [InlineData("[Update(\"  let   x=g+[|*|]g\")] [Update(\"let y = 2 * x\")] [Update(\"p = p - x * y\")]")]
    public void OPTG0100_ALetWithASyntaxErrorIsReportedOnce(string attributes) =>
        // Its uses were reported again as undeclared (OPTG0101): two diagnostics for one mistake.
        AssertMarked($"[Optimizer] {attributes} public partial class C;", "OPTG0100");
}
