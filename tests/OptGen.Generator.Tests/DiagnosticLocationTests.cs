using System;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// Every OPTG diagnostic, each at its exact place: the expected span is marked <c>[|like this|]</c> in the source.
/// Each case also checks the severity, the help link into docs/diagnostics.md, and that an error generates no
/// source for its class.
/// </summary>
public sealed partial class DiagnosticLocationTests
{
    /// <summary>Runs the generator on the marked source; requires exactly one OPTG diagnostic, with this ID, at the marked span.</summary>
    /// <param name="inDemo">Whether the source goes into <c>namespace Demo</c> after <c>using OptGen;</c> (else it is the whole file).</param>
    internal static Diagnostic AssertMarked(string markedSource, string id, DiagnosticSeverity severity = DiagnosticSeverity.Error, LanguageVersion version = LanguageVersion.Latest, bool inDemo = true)
    {
        string marked = inDemo ? "using OptGen;\nnamespace Demo;\n" + markedSource : markedSource;
        int start = marked.IndexOf("[|", StringComparison.Ordinal);
        int end = marked.IndexOf("|]", StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "the test source must mark the expected span with [| |]");
        string source = marked.Remove(end, 2).Remove(start, 2);
        int length = end - start - 2;

        GeneratorHarness.Run run = GeneratorHarness.Generate(source, version);
        Assert.True(run.Exceptions.Count == 0, string.Join("\n", run.Exceptions));
        Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id == "CS8785");
        Diagnostic diagnostic = Assert.Single(run.OptGenDiagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(severity, diagnostic.Descriptor.DefaultSeverity);
        Assert.Equal(source.Substring(start, length), source.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length));
        Assert.Equal((start, length), (diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length));
        Assert.Equal("Consumer.cs", diagnostic.Location.GetLineSpan().Path);
        Assert.Equal("https://github.com/optgen/optgen/blob/main/docs/diagnostics.md#" + id.ToLowerInvariant(), diagnostic.Descriptor.HelpLinkUri);
        if (severity == DiagnosticSeverity.Error)
        {
            Assert.DoesNotContain(run.Files.Keys, k => k.StartsWith("Demo.", StringComparison.Ordinal));
        }

        return diagnostic;
    }

    [Fact]
    public void OPTG0001_NotPartial() => AssertMarked("[Optimizer] public sealed class [|Plain|] { }", "OPTG0001");

    [Fact]
    public void OPTG0002_Static() => AssertMarked("[Optimizer] static partial class [|Holder|] { }", "OPTG0002");

    [Fact]
    public void OPTG0003_Generic() => AssertMarked("[Optimizer] public partial class [|Gen|]<T> { }", "OPTG0003");

    [Fact]
    public void OPTG0003_NestedInGeneric() =>
        AssertMarked("public partial class Outer<T> { [Optimizer] public partial class [|Inner|] { } }", "OPTG0003");

    [Fact]
    public void OPTG0004_Struct() => AssertMarked("[Optimizer] public partial struct [|Point|] { }", "OPTG0004");

    [Fact]
    public void OPTG0004_Interface() => AssertMarked("[Optimizer] public partial interface [|IRule|] { }", "OPTG0004");

    [Fact]
    public void OPTG0004_Record() => AssertMarked("[Optimizer] public partial record [|Rec|];", "OPTG0004");

    [Fact]
    public void OPTG0004_StructWithRuleAttributes() =>
        AssertMarked("[Optimizer] [FirstMoment(Beta = 0.9)] public partial struct [|Point|] { }", "OPTG0004");

    [Fact]
    public void OPTG0005_ContainingTypeNotPartial() =>
        AssertMarked("public class [|Outer|] { [Optimizer] public partial class Inner { } }", "OPTG0005");

    [Fact]
    public void OPTG0006_BaseClass() =>
        AssertMarked("[Optimizer] public partial class Derived : [|System.Exception|] { }", "OPTG0006");

    [Fact]
    public void OPTG0007_NeitherLengthNorBeta() =>
        AssertMarked("[Optimizer] [[|FirstMoment|]] public partial class Neither;", "OPTG0007");

    [Fact]
    public void OPTG0007_BothLengthAndBeta() =>
        AssertMarked("[Optimizer] [SecondMoment(Length = 10, [|Beta = 0.9|])] public partial class Both;", "OPTG0007");

    [Fact]
    public void OPTG0007_MomentumCoefficientAndLength() =>
        AssertMarked("[Optimizer] [Momentum(0.9, [|Length = 10|])] public partial class Both;", "OPTG0007");

    [Fact]
    public void OPTG0008_LengthNaN() =>
        AssertMarked("[Optimizer] [FirstMoment([|Length = double.NaN|])] public partial class L;", "OPTG0008");

    [Fact]
    public void OPTG0008_LengthInfinite() =>
        AssertMarked("[Optimizer] [SecondMoment([|Length = double.PositiveInfinity|])] public partial class L;", "OPTG0008");

    [Fact]
    public void OPTG0008_LengthNegative() =>
        AssertMarked("[Optimizer] [Momentum([|Length = -3|])] public partial class L;", "OPTG0008");

    [Fact]
    public void OPTG0008_LengthSoLargeThatBetaRoundsToOne() =>
        AssertMarked("[Optimizer] [FirstMoment([|Length = 1e300|])] public partial class L;", "OPTG0008");

    [Fact]
    public void OPTG0009_BetaNegative() =>
        AssertMarked("[Optimizer] [SecondMoment([|Beta = -0.1|])] public partial class B;", "OPTG0009");

    [Fact]
    public void OPTG0009_BetaNaN() =>
        AssertMarked("[Optimizer] [FirstMoment([|Beta = double.NaN|])] public partial class B;", "OPTG0009");

    [Fact]
    public void OPTG0009_MomentumAboveOne() =>
        AssertMarked("[Optimizer] [Momentum([|1.5|])] public partial class B;", "OPTG0009");

    [Fact]
    public void OPTG0010_EpsilonNaN() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.99)] [Epsilon([|double.NaN|])] public partial class E;", "OPTG0010");

    [Fact]
    public void OPTG0010_EpsilonNegative() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.99)] [Epsilon([|-1e-8|])] public partial class E;", "OPTG0010");

    [Fact]
    public void OPTG0010_DecoupledEpsilonZero()
    {
        Diagnostic d = AssertMarked("[Optimizer] [SecondMoment(Beta = 0.99)] [Epsilon([|0|], Placement = EpsilonPlacement.Decoupled)] public partial class E;", "OPTG0010");
        Assert.Contains("decoupled", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void OPTG0011_NothingToCorrect() =>
        AssertMarked("[Optimizer] [BiasCorrection([|BiasCorrectionMode.MinT|])] public partial class N;", "OPTG0011");

    [Fact]
    public void OPTG0012_AmsGradWithoutSecondMoment() =>
        AssertMarked("[Optimizer] [FirstMoment(Beta = 0.9)] [[|AmsGrad|]] public partial class A;", "OPTG0012");

    [Fact]
    public void OPTG0012_EpsilonInsideSqrtWithoutSecondMoment() =>
        AssertMarked("[Optimizer] [[|Epsilon(1e-8, Placement = EpsilonPlacement.InsideSqrt)|]] public partial class A;", "OPTG0012");

    [Fact]
    public void OPTG0013_MemberCollides() =>
        AssertMarked("[Optimizer] [FirstMoment(Beta = 0.9)] public partial class C { public int [|Beta1|]; }", "OPTG0013");

    [Fact]
    public void OPTG0013_ConstructorCollides() =>
        AssertMarked("[Optimizer] public partial class C { public [|C|](int n) : base(null!, n) { } }", "OPTG0013");

    [Fact]
    public void OPTG0014_OldLanguageVersion() =>
        AssertMarked("[Optimizer] public partial class [|Old|] { }", "OPTG0014", version: LanguageVersion.CSharp10);

    [Fact]
    public void OPTG0015_NegativeLearningRate() =>
        AssertMarked("[Optimizer] [LearningRate([|-1|])] public partial class R;", "OPTG0015");

    [Fact]
    public void OPTG0015_Dampening() =>
        AssertMarked("[Optimizer] [Momentum(0.9, [|Dampening = 2|])] public partial class R;", "OPTG0015");

    [Fact]
    public void OPTG0015_UndefinedEnumValue() =>
        AssertMarked("[Optimizer] [FirstMoment(Beta = 0.9)] [BiasCorrection([|(BiasCorrectionMode)7|])] public partial class R;", "OPTG0015");

    [Fact]
    public void OPTG0015_UndefinedNamedEnumValue() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9)] [Epsilon(1e-8, [|Placement = (EpsilonPlacement)(-1)|])] public partial class R;", "OPTG0015");

    [Fact]
    public void OPTG0026_InvalidPower() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, [|Power = 2|])] public partial class P;", "OPTG0026");

    [Fact]
    public void OPTG0029_InfinityNormWithoutEpsilon() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, [|Kind = SecondMomentKind.InfinityNorm|])] public partial class P;", "OPTG0029");

    [Fact]
    public void OPTG0032_EpsilonBeforeCorrectionOfASum() =>
        AssertMarked("[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Kind = SecondMomentKind.Sum)] [BiasCorrection(BiasCorrectionMode.Power)] [Epsilon(1e-8, [|BeforeBiasCorrection = true|])] public partial class P;", "OPTG0032");

    [Fact]
    public void OPTG0020_WrongEnumType() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9)] [[|Epsilon(1e-8, Placement = MomentInput.Gradient)|]] public partial class W;", "OPTG0020");

    [Fact]
    public void OPTG0017_KeywordName() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, [|Name = \"class\"|])] public partial class N;", "OPTG0017");

    [Fact]
    public void OPTG0018_DuplicateRuleAttribute() =>
        AssertMarked("[Optimizer] [FirstMoment(Beta = 0.9)] [[|FirstMoment(Beta = 0.8)|]] public partial class D;", "OPTG0018");

    [Fact]
    public void OPTG0018_OptimizerOnTwoParts() =>
        AssertMarked("[Optimizer] public partial class D;\n[[|Optimizer|]] public partial class D;", "OPTG0018");

    [Fact]
    public void OPTG0019_RuleAttributeWithoutOptimizer()
    {
        AssertMarked("[[|FirstMoment(Beta = 0.9)|]] public partial class NoOptimizer;", "OPTG0019", DiagnosticSeverity.Warning);
        Assert.Empty(GeneratorHarness.Generate("using OptGen;\n[FirstMoment(Beta = 0.9)] public partial class NoOptimizer;").Files);
    }

    [Fact]
    public void OPTG0019_NotReportedWhenAnotherPartHasOptimizer()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("using OptGen;\nnamespace Demo;\n[FirstMoment(Beta = 0.9)] public partial class Split;\n[Optimizer] public partial class Split;");
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.Contains("new(\"Beta1\"", run.Files["Demo.Split.g.cs"], StringComparison.Ordinal);
    }

    [Fact]
    public void OPTG0200_SignOverrideNamesNoState() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.999)] [NonNegativeState([|\"w\"|])] public partial class W;", "OPTG0200");

    [Fact]
    public void OPTG0200_SignOverrideOfOneStateTwice() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.999)] [NonNegativeState(\"v\")] [NonNegativeState([|\"SecondMoment\"|], false)] public partial class W;", "OPTG0200");

    [Fact]
    public void OPTG0200_SignOverrideOnAnExpressionRule() =>
        AssertMarked("[Optimizer] [State(\"m\")] [Update(\"m = m + g\")] [Update(\"p = p - 0.1 * m\")] [NonNegativeState([|\"s\"|])] public partial class W;", "OPTG0200");

    [Fact]
    public void OPTG0015_UndefinedStatePrecision() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.999)] [DefaultStatePrecision([|(StatePrecision)7|])] public partial class W;", "OPTG0015");

    [Fact]
    public void OPTG0018_StatePrecisionDeclaredTwice() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.999)] [DefaultStatePrecision(StatePrecision.Int8Blockwise)] [[|DefaultStatePrecision(StatePrecision.Int4Blockwise)|]] public partial class W;", "OPTG0018");

    [Fact]
    public void StateStorageAttributesReachTheGeneratedCode()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate(
            "using OptGen;\nnamespace Demo;\n[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [DefaultStatePrecision(StatePrecision.Int4Blockwise)] [NonNegativeState(\"m\")] [NonNegativeState(\"v\", false)] public partial class Q;");
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        string code = run.Files["Demo.Q.g.cs"];
        Assert.Contains("new(\"FirstMoment\", \"m\", IsNonNegative: true)", code, StringComparison.Ordinal);
        Assert.Contains("new(\"SecondMoment\", \"v\"),", code, StringComparison.Ordinal);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(code, "ChangeStatePrecision\\(global::OptGen.StatePrecision.Int4Blockwise\\);").Count);

        // An expression rule takes them too.
        run = GeneratorHarness.Generate(
            "using OptGen;\nnamespace Demo;\n[Optimizer] [State(\"m\")] [Update(\"m = m + g\")] [Update(\"p = p - 0.1 * m\")] [DefaultStatePrecision(StatePrecision.Int8Blockwise)] [NonNegativeState(\"m\")] public partial class E;");
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.Contains("new(\"M\", \"m\", IsNonNegative: true)", run.Files["Demo.E.g.cs"], StringComparison.Ordinal);
    }

    [Fact]
    public void OPTG0020_WrongArgumentType() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9)] [[|Epsilon(\"tiny\")|]] public partial class W;", "OPTG0020");

    [Fact]
    public void OPTG0020_UnknownNamedArgument() =>
        AssertMarked("[Optimizer] [[|FirstMoment(Lenght = 10)|]] public partial class W;", "OPTG0020");

    [Fact]
    public void OPTG0020_MissingValue() =>
        AssertMarked("[Optimizer] [[|FirstMoment(Length = )|]] public partial class W;", "OPTG0020");

    [Fact]
    public void OPTG0020_NoSuchConstructor() =>
        AssertMarked("[Optimizer] [[|Maximize(1)|]] public partial class W;", "OPTG0020");

    [Fact]
    public void OPTG0021_NameOfAnotherGeneratedMember() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, [|Name = \"LearningRate\"|])] public partial class T;", "OPTG0021");

    [Fact]
    public void OPTG0021_NameOfAnInheritedMember() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, [|Name = \"StepCount\"|])] public partial class T;", "OPTG0021");

    [Fact]
    public void OPTG0021_NameOfTheClass() =>
        AssertMarked("[Optimizer] [SecondMoment(Beta = 0.9, [|Name = \"Alpha\"|])] public partial class Alpha;", "OPTG0021");

    [Fact]
    public void OPTG0022_FileLocal() => AssertMarked("[Optimizer] [|file|] partial class Local { }", "OPTG0022");

    [Fact]
    public void EveryDescriptorIsCoveredHereAndDocumented()
    {
        string[] ids = typeof(OptGenGenerator).Assembly.GetType("OptGen.Generator.Diagnostics.DiagnosticDescriptors")!
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => ((DiagnosticDescriptor)f.GetValue(null)!).Id)
            .OrderBy(id => id, StringComparer.Ordinal)
            .ToArray();
        Assert.Equal(ids.Length, ids.Distinct().Count());
        // The expression language's diagnostics (OPTG01xx) are tested, with their locations, in ExpressionTests and
        // RobustnessTests; RobustnessTests also holds the cases of the robustness work (issue 16).
        string[] expressionTested = new[] { "ExpressionTests.cs", "RobustnessTests.cs" }
            .SelectMany(file => System.Text.RegularExpressions.Regex.Matches(System.IO.File.ReadAllText(Path("tests/OptGen.Generator.Tests/" + file)), "\"(OPTG01[0-9]{2})\"").Cast<System.Text.RegularExpressions.Match>())
            .Select(m => m.Groups[1].Value)
            .ToArray();
        string[] tested = typeof(DiagnosticLocationTests).GetMethods().Concat(typeof(RobustnessTests).GetMethods()).Select(m => m.Name).Where(n => n.StartsWith("OPTG", StringComparison.Ordinal)).Select(n => n.Substring(0, 8))
            .Concat(expressionTested)
            .Distinct()
            .ToArray();
        Assert.Empty(ids.Except(tested));

        string docs = System.IO.File.ReadAllText(Path("docs/diagnostics.md"));
        string shipped = System.IO.File.ReadAllText(Path("src/Generator/AnalyzerReleases.Shipped.md")) + System.IO.File.ReadAllText(Path("src/Generator/AnalyzerReleases.Unshipped.md"));
        foreach (string id in ids)
        {
            Assert.Contains($"## {id}", docs, StringComparison.Ordinal);
            Assert.Contains(id + " ", shipped, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void EveryRuleAttributeIsWatchedAndReachesTheGenerator()
    {
        Type[] attributes = typeof(OptGen.Optimizer).Assembly.GetExportedTypes()
            .Where(t => t.Namespace == "OptGen" && typeof(Attribute).IsAssignableFrom(t))
            .ToArray();
        Assert.NotEmpty(attributes);
        foreach (Type attribute in attributes)
        {
            AttributeUsageAttribute usage = attribute.GetCustomAttribute<AttributeUsageAttribute>()!;
            Assert.True(usage.AllowMultiple, $"{attribute.Name}: AllowMultiple = true, so a repeat is OPTG0018 rather than CS0579");
            Assert.True(usage.ValidOn.HasFlag(AttributeTargets.Struct) && usage.ValidOn.HasFlag(AttributeTargets.Interface), $"{attribute.Name}: valid on structs and interfaces, so the misuse is OPTG0004 rather than CS0592");
            if (attribute != typeof(OptGen.OptimizerAttribute))
            {
                Assert.Contains(attribute.Name, Parser.RuleAttributes);
            }
        }
    }

    private static string Path(string relative, [System.Runtime.CompilerServices.CallerFilePath] string caller = "") =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(caller)!, "..", "..", relative);
}
