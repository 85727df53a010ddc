using System.Linq;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>The attribute forms of reductions ([TrustRatio], [SecondMoment(Scope = …)]): OPTG0130–OPTG0135, each at its argument.</summary>
public sealed partial class DiagnosticLocationTests
{
    private const string Adam = "[FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [BiasCorrection(BiasCorrectionMode.Power)] [Epsilon(1e-6)]";

    [Fact]
    public void OPTG0130_LambWithoutSecondMoment() =>
        AssertMarked("[Optimizer] [FirstMoment(Beta = 0.9)] [[|TrustRatio|]] partial class L;", "OPTG0130");

    [Fact]
    public void OPTG0130_LambFormWithoutSecondMomentIsAtTheForm() =>
        AssertMarked("[Optimizer] [WeightDecay(0.01, Decoupled = true)] [TrustRatio([|Form = TrustRatioForm.Lamb|], Coefficient = 2)] partial class L;", "OPTG0130");

    [Fact]
    public void OPTG0131_LambWithMomentum() =>
        AssertMarked($"[Optimizer] {Adam} [Momentum(0.9)] [[|TrustRatio(MaxRatio = 10)|]] partial class L;", "OPTG0131");

    [Fact]
    public void OPTG0131_LambWithASharedSecondMoment() =>
        AssertMarked("[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999, Scope = MomentScope.Row)] [Epsilon(1e-6)] [[|TrustRatio|]] partial class L;", "OPTG0131");

    [Fact]
    public void OPTG0131_LambWithRectification() =>
        AssertMarked($"[Optimizer] {Adam} [Rectified] [[|TrustRatio|]] partial class L;", "OPTG0131");

    [Fact]
    public void OPTG0131_LarsWithSecondMoment() =>
        AssertMarked($"[Optimizer] {Adam} [TrustRatio([|Form = TrustRatioForm.Lars|])] partial class L;", "OPTG0131");

    [Fact]
    public void OPTG0131_LarsWithDecoupledDecay() =>
        AssertMarked("[Optimizer] [WeightDecay(0.01, Decoupled = true)] [Momentum(0.9)] [TrustRatio([|Form = TrustRatioForm.Lars|])] partial class L;", "OPTG0131");

    [Fact]
    public void OPTG0131_PerExampleSquares() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.999, Input = SecondMomentInput.PerExampleSquares)] [Epsilon(1e-6)] [[|TrustRatio|]] partial class L;", "OPTG0131");

    [Fact]
    public void OPTG0132_NegativeCoefficient() =>
        AssertMarked($"[Optimizer] {Adam} [TrustRatio([|Coefficient = -1|])] partial class L;", "OPTG0132");

    [Fact]
    public void OPTG0132_CoefficientZeroInFloat32() =>
        AssertMarked("[Optimizer] [Momentum(0.9)] [TrustRatio(Form = TrustRatioForm.Lars, [|Coefficient = 1e-50|])] partial class L;", "OPTG0132");

    [Fact]
    public void OPTG0132_MaxRatioNaN() =>
        AssertMarked($"[Optimizer] {Adam} [TrustRatio(Coefficient = 1, [|MaxRatio = double.NaN|])] partial class L;", "OPTG0132");

    [Fact]
    public void OPTG0133_CenteredSharedMoment() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, Centered = true, [|Scope = MomentScope.Row|])] [Epsilon(1e-8)] partial class L;", "OPTG0133");

    [Fact]
    public void OPTG0133_SharedMomentOfPerExampleSquares() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, [|Scope = MomentScope.Tensor|], Input = SecondMomentInput.PerExampleSquares)] [Epsilon(1e-8)] partial class L;", "OPTG0133");

    [Fact]
    public void OPTG0133_SharedMomentWithAnInitialValue() =>
        AssertMarked("[Optimizer] [SecondMoment(Kind = SecondMomentKind.Sum, InitialValue = 0.1, [|Scope = MomentScope.Column|])] [Epsilon(1e-10)] partial class L;", "OPTG0133");

    [Fact]
    public void OPTG0134_BlockWithoutLength() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, [|Scope = MomentScope.Block|])] [Epsilon(1e-8)] partial class L;", "OPTG0134");

    [Fact]
    public void OPTG0134_BlockOfZero() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, Scope = MomentScope.Block, [|BlockLength = 0|])] [Epsilon(1e-8)] partial class L;", "OPTG0134");

    [Fact]
    public void OPTG0134_LengthWithoutBlockScope() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, Scope = MomentScope.Row, [|BlockLength = 16|])] [Epsilon(1e-8)] partial class L;", "OPTG0134");

    [Fact]
    public void OPTG0135_AttributeRuleWithReductionsNamesOptimizer() =>
        AssertMarked($"[Optimizer] {Adam} [TrustRatio] public partial class L : [|OptGen.Optimizer|];", "OPTG0135");

    [Fact]
    public void OPTG0135_ExpressionRuleWithReductionsNamesOptimizer() =>
        AssertMarked("""[Optimizer] [Hyperparameter("Lr", 0.1)] [Update("p = p - Lr * norm(g) * g")] public partial class E : [|Optimizer|];""", "OPTG0135");

    // `: object` is a base class as well: without OPTG0006 the generated `: OptGen.Optimizer` (or ReductionOptimizer)
    // made CS0263 and errors inside the generated code.
    [Fact]
    public void OPTG0006_AttributeRuleWithReductionsNamesObject() =>
        AssertMarked($"[Optimizer] {Adam} [TrustRatio] public partial class L : [|object|];", "OPTG0006");

    [Fact]
    public void OPTG0006_ElementWiseRuleNamesSystemObjectInAnotherPart() =>
        AssertMarked($"[Optimizer] {Adam} public partial class L; public partial class L : [|System.Object|], System.IDisposable {{ public void Dispose() {{ }} }}", "OPTG0006");

    [Fact]
    public void OPTG0006_ExpressionRuleNamesObject() =>
        AssertMarked("""[Optimizer] [Hyperparameter("Lr", 0.1)] [Update("p = p - Lr * norm(g) * g")] public partial class E : [|object|];""", "OPTG0006");

    [Fact]
    public void AnInterfaceListIsNoBaseClass()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate($"using OptGen;\nnamespace Demo;\n[Optimizer] {Adam} [TrustRatio] public partial class L : System.IDisposable {{ public void Dispose() {{ }} }}");
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
    }

    [Fact]
    public void TrustRatioOnAnExpressionRuleIsABuildingBlock() =>
        AssertMarked("""[Optimizer] [Hyperparameter("Lr", 0.1)] [Update("p = p - Lr * g")] [[|TrustRatio|]] partial class E;""", "OPTG0108");

    [Fact]
    public void TrustRatioWithoutOptimizerWarns() =>
        AssertMarked("[[|TrustRatio|]] partial class NoOptimizer;", "OPTG0019", Microsoft.CodeAnalysis.DiagnosticSeverity.Warning);

    [Fact]
    public void ANameTakenByReductionOptimizerIsReportedAtName()
    {
        // A rule with reductions derives from ReductionOptimizer, whose Passes an element-wise rule may use as a name.
        Microsoft.CodeAnalysis.Diagnostic d = AssertMarked($"[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999, [|Name = \"Passes\"|])] [Epsilon(1e-6)] [TrustRatio] partial class L;", "OPTG0021");
        Assert.Contains("OptGen.ReductionOptimizer.Passes", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), System.StringComparison.Ordinal);
        GeneratorHarness.Run run = GeneratorHarness.Generate("using OptGen;\nnamespace Demo;\n[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999, Name = \"Passes\")] [Epsilon(1e-6)] partial class L;");
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
    }

    [Fact]
    public void AnElementWiseRuleMayStillNameOptimizer()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate($"using OptGen;\nnamespace Demo;\n[Optimizer] {Adam} public partial class L : OptGen.Optimizer;");
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
    }

    [Fact]
    public void TheAttributeLambsKernelListsItsPassesAndBytes()
    {
        // The remarks are printed from the plan: the two norms of pass 1 and each pass's bytes, as for LambDeclared.
        GeneratorHarness.Run run = GeneratorHarness.Generate($"using OptGen;\nnamespace Demo;\n[Optimizer] {Adam} [WeightDecay(0.01, Decoupled = true)] [TrustRatio] public partial class L;");
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        string kernel = run.Files.Single(f => f.Key.StartsWith("OptGen.Generated.", System.StringComparison.Ordinal)).Value;
        Assert.Contains("pass 1: norm (norm_0), norm (norm_1) per tensor: reads p, g, m, v, writes m, v: 16 + 8 = 24 bytes per element.", kernel, System.StringComparison.Ordinal);
        Assert.Contains("pass 2: the update with the tensor's reductions: reads p, m, v, writes p: 12 + 4 = 16 bytes per element.", kernel, System.StringComparison.Ordinal);
        string optimizer = run.Files["Demo.L.g.cs"];
        Assert.Contains("norm_1 = norm(r) over each tensor", optimizer, System.StringComparison.Ordinal);
        Assert.Contains(": global::OptGen.ReductionOptimizer", optimizer, System.StringComparison.Ordinal);
    }
}
