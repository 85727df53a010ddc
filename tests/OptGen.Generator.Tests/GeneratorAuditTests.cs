using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// An adversarial audit of the generator: valid but unusual declarations must generate code that compiles without a
/// single warning (CPU and GPU halves, Nullable enable, every warning wave, warnings as errors), and every name a user
/// can choose — a property, a state, a step scalar, a local, a member of the class — checked against every identifier
/// generated code contains: either an OPTG diagnostic on that declaration or generated code that compiles.
/// </summary>
public sealed class GeneratorAuditTests
{
    // ---- Valid but unusual: compiles cleanly, CPU and GPU ----

    [Theory]
    [InlineData("namespace Demo; public partial struct S { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class A; }")]
    [InlineData("namespace Demo; public partial record struct S(int X) { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class A; }")]
    [InlineData("namespace Demo; public partial record R(int X) { [Optimizer] [Update(\"p = p - 0.1 * g\")] public partial class A; }")]
    [InlineData("namespace Demo; public partial interface I { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class A; }")]
    [InlineData("namespace Demo; public partial class O { [Optimizer] [FirstMoment(Beta = 0.9)] private partial class A; }")]
    [InlineData("namespace Demo; public partial class O { [Optimizer] [Update(\"p = p - 0.1 * g\")] protected internal partial class A; }")]
    [InlineData("namespace Demo; public partial class O { [Optimizer] [FirstMoment(Beta = 0.9)] private protected sealed partial class A; }")]
    [InlineData("namespace Demo; public static partial class O { internal partial class P { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class A; } }")]
    [InlineData("[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [Epsilon(1e-6)] [TrustRatio] public partial class A;")]
    [InlineData("namespace OptGen { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class A; }")]
    [InlineData("namespace OptGen.Kernels { [Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [Epsilon(1e-8)] [TrustRatio] public partial class A; }")]
    [InlineData("namespace System { [Optimizer] [Update(\"p = p - 0.1 * g * randn()\")] public partial class A; }")]
    [InlineData("namespace Demo.System.OptGen.ILGPU { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class A; }")]
    [InlineData("namespace @class.@event { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class @class; }")]
    [InlineData("namespace Demo; [Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [Epsilon(1e-8)] public partial class Math; [Optimizer] [FirstMoment(Beta = 0.8)] public partial class MathF; [Optimizer] [FirstMoment(Beta = 0.7)] public partial class Vector512; [Optimizer] [FirstMoment(Beta = 0.6)] public partial class Span; [Optimizer] [FirstMoment(Beta = 0.5)] public partial class StepOptions; [Optimizer] [Update(\"p = p - 0.1 * g * randn()\")] public partial class Unsafe; [Optimizer] [FirstMoment(Beta = 0.4)] public partial class Optimizer;")]
    [InlineData("namespace Demo; public class OptGen { } public class System { } [global::OptGen.Optimizer] [global::OptGen.FirstMoment(Beta = 0.9)] public partial class A { public class ILGPU { } public class Kernels { } }")]
    [InlineData("namespace Demo; [Optimizer] [FirstMoment(Beta = 0.9)] public partial class A; [SecondMoment(Beta = 0.999)] [Epsilon(1e-8)] public partial class A { }")]
    [InlineData("#nullable disable\nnamespace Demo; [Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [Epsilon(1e-8)] [TrustRatio] public partial class A;")]
    [InlineData("namespace Demo; [Optimizer] [FirstMoment(Beta = 0.9)] public abstract partial class A; public sealed class B : A { public B() : base(4) { } }")]
    [InlineData("namespace Demo; [Optimizer] [FirstMoment(Beta = 0.9)] public partial class A : Optimizer, global::System.IDisposable { public void Dispose() { } }")]
    [InlineData("namespace Demo; [Optimizer] [FirstMoment(Beta = 0.9)] public partial class A { public A() : this(0) { } public A(params int[] sizes) : this(sizes.Length) { } public A(int n, string s) : this(n) { } static A() { } ~A() { } }")]
    [InlineData("namespace Demo; [Optimizer] [FirstMoment(Beta = 0.9)] public partial class A { public required int X { get; init; } public double t; public int kernel; public int hyperparameters; }")]
    [InlineData("namespace Demo; [Optimizer] [FirstMoment(Beta = 0.9)] public partial class A { public new int Descriptor => 0; public void Step() { } public void Dispose() { } public override string ToString() => \"A\"; }")]
    [InlineData("namespace Demo; [Optimizer(Name = \"a\\\"b\\\\c\\n\\u2028\\0é\")] [FirstMoment(Beta = 0.9)] public partial class A; [Optimizer(Name = \"\")] [FirstMoment(Beta = 0.8)] public partial class B; [Optimizer(Name = null)] [FirstMoment(Beta = 0.7)] public partial class C;")]
    [InlineData("namespace Demo; static class K { public const double Lr = 0.1 * 2; } [Optimizer] [LearningRate(K.Lr)] [FirstMoment(Beta = 0.5 + 0.4)] [SecondMoment(Beta = 1 - 1e-3)] [Epsilon(float.Epsilon)] public partial class A;")]
    [InlineData("namespace Demo; [Optimizer] [LearningRate(-0.0)] [FirstMoment(Beta = -0.0)] [WeightDecay(float.MaxValue)] public partial class A;")]
    [InlineData("namespace Demo; [Optimizer] [SecondMoment(Kind = SecondMomentKind.Sum, Scope = MomentScope.Tensor)] [Epsilon(1e-6)] [Momentum(0.9, Nesterov = true)] public partial class A;")]
    [InlineData("namespace Demo; [Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Length = 10, Scope = MomentScope.Row)] [Epsilon(1e-6, Placement = EpsilonPlacement.InsideSqrt)] [BiasCorrection(BiasCorrectionMode.MinT)] [WeightDecay(0.01, Decoupled = true)] [Momentum(0.9, Nesterov = true)] public partial class A;")]
    [InlineData("namespace Demo; [Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Kind = SecondMomentKind.Mean, Scope = MomentScope.Column)] [Momentum(0, Nesterov = true)] [Maximize] [DefaultStatePrecision(StatePrecision.BFloat16)] public partial class A;")]
    [InlineData("namespace Demo; [Optimizer] [DefaultStatePrecision(StatePrecision.Int4Blockwise)] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [Epsilon(1e-6)] [TrustRatio(Form = TrustRatioForm.Lamb, MaxRatio = 10)] public partial class A;")]
    [InlineData("namespace Demo; [Optimizer] [DefaultStatePrecision(StatePrecision.Int8Blockwise)] [LearningRate(0.1)] public partial class A;")]
    public void AnUnusualButValidDeclarationCompilesCleanly(string declarations)
    {
        GeneratorHarness.AssertCompilesCleanly("using OptGen;\n" + declarations);
    }

    // ---- A Nesterov step on a shared (scoped) second moment: compiled to 'dir' declared twice before ----

    [Fact]
    public void NesterovOnATensorScopedMomentMatchesItsFloat64Reference()
    {
        (GeneratorHarness.Run run, Compilation output) = KernelIdentityTests.GenerateAndCompile("""
            using OptGen;
            namespace Demo;
            [Optimizer] [LearningRate(0.1)] [SecondMoment(Kind = SecondMomentKind.Sum, Scope = MomentScope.Tensor)] [Epsilon(1e-6)] [Momentum(0.9, Nesterov = true)] public partial class A;
            """);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assembly assembly = KernelIdentityTests.Load(output);
        const int n = 19; // two 8-wide vectors and a scalar tail
        var optimizer = (OptGen.Optimizer)Activator.CreateInstance(assembly.GetType("Demo.A", throwOnError: true)!, n)!;

        // The reference, in float64: s ← s + mean(g²) over the tensor; dir = g/(√s + ε);
        // b ← μ·b + dir (b = dir at t = 1); dir ← dir + μ·b; p ← p − η·dir.
        float[] p = Enumerable.Range(0, n).Select(i => (float)Math.Sin(i + 1)).ToArray();
        double[] expected = p.Select(x => (double)x).ToArray();
        double[] b = new double[n];
        double s = 0;
        for (int step = 1; step <= 4; step++)
        {
            float[] g = Enumerable.Range(0, n).Select(i => (float)Math.Cos((step * 7) + (i * 0.37))).ToArray();
            optimizer.Step(p, g, null);
            s += g.Sum(x => (double)x * x) / n;
            for (int i = 0; i < n; i++)
            {
                double dir = g[i] / (Math.Sqrt(s) + 1e-6);
                b[i] = step == 1 ? dir : (0.9 * b[i]) + dir;
                expected[i] -= 0.1 * (dir + (0.9 * b[i]));
            }
        }

        for (int i = 0; i < n; i++)
        {
            Assert.True(Math.Abs(p[i] - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"p[{i}] = {p[i]}, float64 reference {expected[i]}");
        }
    }

    [Fact]
    public void EveryScopedMomentCombinesWithEveryMomentumStyle()
    {
        // The Nesterov bug above was one cell of this table: each shared-moment scope and kind, with each momentum
        // style and with or without LAMB, is either refused with an OPTG diagnostic on its line or compiles cleanly.
        string[] kinds = { "Beta = 0.999", "Kind = SecondMomentKind.Sum", "Kind = SecondMomentKind.Mean", "Beta = 0.999, Kind = SecondMomentKind.InfinityNorm" };
        string[] scopes = { "Tensor", "Row", "Column", "Block, BlockLength = 32" };
        string[] momenta = { string.Empty, "[Momentum(0.9)]", "[Momentum(0.9, Nesterov = true)]", "[Momentum(0.9, Style = MomentumStyle.Classic)]", "[FirstMoment(Beta = 0.9)] [BiasCorrection(BiasCorrectionMode.Power)]" };
        string[] extras = { string.Empty, "[WeightDecay(0.01, Decoupled = true)] [TrustRatio]" };
        var lines = (from kind in kinds from scope in scopes from momentum in momenta from extra in extras select $"[SecondMoment({kind}, Scope = MomentScope.{scope})] [Epsilon(1e-6)] {momentum} {extra}").ToArray();
        var source = new StringBuilder("using OptGen;\nnamespace Demo;\n");
        for (int i = 0; i < lines.Length; i++)
        {
            source.AppendLine($"[Optimizer] {lines[i]} public partial class C{i};");
        }

        AssertEachRefusedOrCompiled(GeneratorHarness.Generate(source.ToString(), ilgpu: true), lines);
    }

    [Fact]
    public void TheOldestSupportedLanguageVersionCompilesEveryKindOfRule()
    {
        // OPTG0014 asks for C# 11: generated code (CPU and GPU, reductions, scopes, host state, randn) must compile there.
        string source = Regex.Replace(NameSources, "public partial class (\\w+);", "public partial class $1 { }");
        GeneratorHarness.Run run = GeneratorHarness.Generate(source, Microsoft.CodeAnalysis.CSharp.LanguageVersion.CSharp11, ilgpu: true);
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.Equal(5, run.Files.Count(f => f.Key.StartsWith("Demo.", StringComparison.Ordinal) && !f.Key.EndsWith(".Gpu.g.cs", StringComparison.Ordinal)));
    }

    // ---- Every name generated code uses, declared by the user in every way ----

    /// <summary>Rules whose generated code (CPU and GPU, with and without reductions, host state, randn) supplies the names.</summary>
    private const string NameSources = """
        using OptGen;
        namespace Demo;
        [Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [BiasCorrection(BiasCorrectionMode.Power)] [Epsilon(1e-6)] [WeightDecay(0.01, Decoupled = true)] [TrustRatio] [DefaultStatePrecision(StatePrecision.Int8Blockwise)] public partial class Lamb;
        [Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [BiasCorrection(BiasCorrectionMode.Power)] [Epsilon(1e-8)] [NesterovMomentumDecay(0.004)] public partial class NAdam;
        [Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999, Scope = MomentScope.Block, BlockLength = 64)] [Epsilon(1e-8)] public partial class AdamMini;
        [Optimizer] [Hyperparameter("Lr", 0.1)] [State("v")] [StepScalar("k", "Lr / t")] [Update("v = 0.9 * v + g * g")] [Update("let r = row_mean(v)")] [Update("let c = col_mean(v)")] [Update("p = p - k * g * r * c")] public partial class Factored;
        [Optimizer] [Hyperparameter("Lr", 0.01)] [Hyperparameter("Seed", 0.0, Range = HyperparameterRange.NonNegative)] [Update("p = p - Lr * g + sqrt(2 * Lr) * randn()")] public partial class Sgld;
        """;

    private static readonly Lazy<string[]> GeneratedIdentifiers = new(() =>
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate(NameSources, ilgpu: true);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        string code = string.Join("\n", run.Files.Values.Select(f => Regex.Replace(f, "//.*", string.Empty)));
        return Regex.Matches(code, "\\b[A-Za-z_][A-Za-z0-9_]*\\b").Select(m => m.Value)
            .Where(n => Microsoft.CodeAnalysis.CSharp.SyntaxFacts.GetKeywordKind(n) == Microsoft.CodeAnalysis.CSharp.SyntaxKind.None
                && Microsoft.CodeAnalysis.CSharp.SyntaxFacts.GetContextualKeywordKind(n) == Microsoft.CodeAnalysis.CSharp.SyntaxKind.None
                && !n.StartsWith("UpdateKernel_", StringComparison.Ordinal))
            .Concat(new[] { "Passes", "Groups", "Length", "Descriptor", "Equals", "ToString", "GetHashCode", "GetType", "MemberwiseClone", "hostState", "_" })
            .Distinct(StringComparer.Ordinal)
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToArray();
    });

    [Theory]
    [InlineData("[Optimizer] [FirstMoment(Beta = 0.9)] [BiasCorrection(BiasCorrectionMode.Power)] [Epsilon(1e-8)] [TrustRatio] [WeightDecay(0.01, Decoupled = true)] [SecondMoment(Beta = 0.99, Name = \"{0}\")] public partial class C{1};")]
    [InlineData("[Optimizer] [FirstMoment(Beta = 0.9)] [BiasCorrection(BiasCorrectionMode.Power)] [Epsilon(1e-8)] [NesterovMomentumDecay(0.004)] [SecondMoment(Beta = 0.99, Name = \"{0}\")] public partial class C{1};")]
    [InlineData("[Optimizer] [Hyperparameter(\"{0}\", 0.5)] [State(\"v\")] [StepScalar(\"k\", \"{0} / (1 - pow(0.9, t))\")] [Update(\"v = 0.9 * v + g * g\")] [Update(\"let r = row_mean(v)\")] [Update(\"p = p - k * {0} * g * r\")] public partial class C{1};")]
    [InlineData("[Optimizer] [Hyperparameter(\"{0}\", 0.5)] [StepScalar(\"k\", \"{0} / t\")] [Update(\"p = p - k * {0} * g + randn()\")] public partial class C{1};")]
    [InlineData("[Optimizer] [State(\"{0}\")] [Update(\"{0} = 0.9 * {0} + g\")] [Update(\"let r = norm({0})\")] [Update(\"p = p - 0.1 * {0} * r\")] public partial class C{1};")]
    [InlineData("[Optimizer] [State(\"m\", Name = \"{0}\")] [Update(\"m = 0.9 * m + g\")] [Update(\"let r = norm(m)\")] [Update(\"p = p - 0.1 * m * r\")] public partial class C{1};")]
    [InlineData("[Optimizer] [Hyperparameter(\"Lr\", 0.1)] [State(\"v\")] [StepScalar(\"{0}\", \"Lr / t\")] [Update(\"v = 0.9 * v + g * g\")] [Update(\"let r = col_mean(v)\")] [Update(\"p = p - {0} * g * r\")] public partial class C{1};")]
    [InlineData("[Optimizer] [State(\"m\")] [Update(\"m = 0.9 * m + g\")] [Update(\"let {0} = 2 * m\")] [Update(\"let r = norm({0})\")] [Update(\"p = p - 0.1 * {0} * r\")] public partial class C{1};")]
    [InlineData("[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [Epsilon(1e-8)] [TrustRatio] public partial class C{1} {{ public int {0}; }}")]
    [InlineData("[Optimizer] [State(\"m\")] [Update(\"m = 0.9 * m + g\")] [Update(\"p = p - 0.1 * m\")] public partial class C{1} {{ public void {0}(int x) {{ }} }}")]
    public void EveryNameGeneratedCodeUsesIsRefusedOrCompiles(string template)
    {
        // One class per name, all in one compilation.
        string[] names = GeneratedIdentifiers.Value;
        var source = new StringBuilder("using OptGen;\nnamespace Demo;\n");
        foreach ((string name, int i) in names.Select((n, i) => (n, i)))
        {
            source.AppendLine(string.Format(System.Globalization.CultureInfo.InvariantCulture, template, name, i));
        }

        AssertEachRefusedOrCompiled(GeneratorHarness.Generate(source.ToString(), ilgpu: true), names);
    }

    /// <summary>
    /// Class Ck of the run is declared on line k + 2 (after 'using' and 'namespace'): each must have an OPTG diagnostic on
    /// its own line or generated code, and no compiler diagnostic may point into a generated file.
    /// </summary>
    private static void AssertEachRefusedOrCompiled(GeneratorHarness.Run run, string[] cases)
    {
        Assert.Empty(run.Exceptions);
        Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id == "CS8785");
        string[] inGenerated = run.CompileDiagnostics
            .Where(d => d.Severity >= DiagnosticSeverity.Warning && d.Location.GetLineSpan().Path != "Consumer.cs")
            .Select(d => $"{d.Id} {d.Location.GetLineSpan().Path}: {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}")
            .ToArray();
        Assert.True(inGenerated.Length == 0, string.Join("\n", inGenerated.Take(20)));

        var refused = new HashSet<int>(run.OptGenDiagnostics.Select(d => d.Location.GetLineSpan().StartLinePosition.Line - 2));
        string[] dropped = cases.Where((n, i) => !refused.Contains(i) && !run.Files.ContainsKey($"Demo.C{i}.g.cs")).ToArray();
        Assert.True(dropped.Length == 0, "neither generated nor refused: " + string.Join(", ", dropped));
        Assert.True(run.Files.Count > 1, "some cases must be accepted");
    }
}
