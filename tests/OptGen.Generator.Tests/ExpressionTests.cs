using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// Expression rules: every diagnostic of the expression language at its exact place inside the string literal.
/// (The built-in expression rules are snapshotted with the rest of the catalog by <see cref="CatalogSnapshotTests"/>.)
/// </summary>
public sealed class ExpressionTests
{
    /// <summary>The catalog's expression rules, moved into namespace Demo so they do not clash with the referenced OptGen assembly.</summary>
    private static string CatalogSource([CallerFilePath] string caller = "") =>
        File.ReadAllText(Path.Combine(Path.GetDirectoryName(caller)!, "..", "..", "src", "Runtime", "Catalog", "Expressions.cs"))
            .Replace("namespace OptGen;", "using OptGen;\nnamespace Demo;");

    [Fact]
    public void PartialStateTrafficSkipsLoadsAndStores()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("""
            using OptGen;
            namespace Demo;
            [Optimizer]
            [State("m")] [State("last")] [State("zero")]
            [Update("m = 0.5 * m + 0.5 * g")]
            [Update("last = m + zero")]
            [Update("p = p - last")]
            public partial class Partial;
            """);
        Assert.Equal("OPTG0141", Assert.Single(run.OptGenDiagnostics).Id); // zero is read, never written: a warning, and the code is generated
        Assert.Empty(run.Errors);
        string kernel = run.Files.Single(f => f.Key.StartsWith("OptGen.Generated.", StringComparison.Ordinal)).Value;
        Assert.Contains("public const int BytesRead = 16;", kernel);    // p, g, m, zero
        Assert.Contains("public const int BytesWritten = 12;", kernel); // p, m, last
        Assert.Contains("float last = default;", kernel);
        Assert.Contains("float zero = TState.Load(ref state, (2 * stride) + i);", kernel);
        Assert.DoesNotContain("TState.Store(ref state, (2 * stride) + i, zero);", kernel);
        Assert.Contains("TState.Store(ref state, stride + i, last);", kernel);
        Assert.Contains("16 bytes read (p, g, m, zero) + 12 bytes written (p, m, last)", kernel);
    }

    /// <summary>
    /// A state that is read but never written (OPTG0141, a warning: the code is generated) read after a reduction, in
    /// a later pass of a multi-pass rule: that pass loads it too (found by the mutation fuzz: "the name 'zero' does
    /// not exist" inside the generated pass kernel).
    /// </summary>
    [Theory]
    [InlineData("group_mean(g)")]
    [InlineData("norm(g)")]
    [InlineData("row_mean(g * g)")]
    public void AReadOnlyStateReadAfterAReductionIsLoadedInItsPass(string reduction)
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate($$"""
            using OptGen;
            namespace Demo;
            [Optimizer]
            [State("m")] [State("last")] [State("zero")]
            [Update("m = 0.5 * m + 0.5 * g")]
            [Update("last = {{reduction}} + zero")]
            [Update("p = p - last")]
            public partial class Partial;
            """, ilgpu: true);
        Assert.Equal("OPTG0141", Assert.Single(run.OptGenDiagnostics).Id);
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.Errors);
    }

    /// <summary>The same with a state assigned a uniform value (c = Lr): stored per element, loaded where a later pass reads it.</summary>
    [Theory]
    [InlineData("group_mean(g)")]
    [InlineData("norm(g)")]
    [InlineData("row_mean(g * g)")]
    public void AUniformStateReadAfterAReductionIsLoadedInItsPass(string reduction)
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate($$"""
            using OptGen;
            namespace Demo;
            [Optimizer]
            [Hyperparameter("Lr", 0.1)] [State("c")] [State("last")]
            [Update("c = Lr")]
            [Update("last = {{reduction}} + c")]
            [Update("p = p - last")]
            public partial class Partial;
            """, ilgpu: true);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.Errors);
    }

    [Fact]
    public void AReductionOfACompactStateIsReducedBetweenThePasses()
    {
        // mean(r) of the per-row r (updated from row_mean): no state s of its own, r stays one value per row, and
        // the row loop between the passes reduces it (weighted by each row's elements) after r's update.
        GeneratorHarness.Run run = GeneratorHarness.Generate("""
            using OptGen;
            namespace Demo;
            [Optimizer]
            [State("r")]
            [Update("r = lerp(r, row_mean(g * g), 0.1)")]
            [Update("p = p - g / sqrt(r / maxabs(r) + 0.001)")]
            public partial class MeanOfState;
            """);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        string optimizer = run.Files.Single(f => !f.Key.StartsWith("OptGen.Generated.", StringComparison.Ordinal)).Value;
        string kernel = run.Files.Single(f => f.Key.StartsWith("OptGen.Generated.", StringComparison.Ordinal)).Value;
        Assert.Contains("RuleStateScopes = { new(global::OptGen.ReductionScopeKind.Row) }", optimizer);
        Assert.Contains("new(\"pass 1: row_mean (row_mean_0)\", new[] { \"g\" }", optimizer);
        Assert.Contains("then maxabs (maxabs_1) of them", optimizer);
        Assert.Contains("unit_segments.Add(1, global::OptGen.ReductionScopeKind.Row, 0, segment_index, ref maxabs_1_total, maxabs_1);", kernel);
        Assert.Contains("unit_segments.SetTotal(1, maxabs_1_total);", kernel);
        Assert.DoesNotContain("maxabs_1_partial", kernel);
    }

    [Fact]
    public void ExpressionRulesStayCachedAcrossAnUnrelatedEdit()
    {
        Microsoft.CodeAnalysis.CSharp.CSharpCompilation compilation = GeneratorHarness.Compilation(CatalogSource());
        GeneratorDriver driver = GeneratorHarness.Driver().RunGenerators(compilation);
        var edited = compilation.AddSyntaxTrees(Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText("namespace Demo; internal sealed class Unrelated { }", GeneratorHarness.ParseOptions()));
        GeneratorRunResult result = driver.RunGenerators(edited).GetRunResult().Results.Single();
        foreach (string step in new[] { TrackingNames.Parse, TrackingNames.Lower, TrackingNames.Kernels })
        {
            Assert.NotEmpty(result.TrackedSteps[step]);
            foreach (IncrementalGeneratorRunStep run in result.TrackedSteps[step])
            {
                foreach ((object value, IncrementalStepRunReason reason) in run.Outputs)
                {
                    Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {reason} for {value}");
                }
            }
        }
    }

    // ---- Diagnostics: each at its column inside the string. ----

    private const string Header = "using OptGen;\nnamespace Demo;\n";

    /// <summary>
    /// Runs the generator over <paramref name="attributes"/> on a class; the single OPTG diagnostic must have
    /// <paramref name="id"/> and cover the text between ⟦ and ⟧ in <paramref name="attributes"/> (markers removed).
    /// </summary>
    private static void AssertAt(string attributes, string id)
    {
        int open = attributes.IndexOf('⟦');
        int close = attributes.IndexOf('⟧');
        Assert.True(open >= 0 && close > open, "the test must mark the expected span with ⟦ ⟧");
        string clean = attributes.Remove(close, 1).Remove(open, 1);
        string source = Header + "[Optimizer]\n" + clean + "\npublic partial class Rule;\n";
        GeneratorHarness.Run run = GeneratorHarness.Generate(source);
        Assert.Empty(run.Exceptions);
        Diagnostic diagnostic = Assert.Single(run.OptGenDiagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        int start = Header.Length + "[Optimizer]\n".Length + open;
        Assert.Equal((start, close - open - 1), (diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length));
        Assert.DoesNotContain("Demo.Rule.g.cs", run.Files.Keys);
    }

    [Theory]
    [InlineData("[Update(\"p = p - ⟦*⟧ g\")]")]                       // a token where an operand belongs
    [InlineData("[Update(\"p = p ⟦#⟧ g\")]")]                         // an unknown character
    [InlineData("[Update(\"p = sqrt(p⟦⟧\")]")]                        // missing ')': at the end of the string
    [InlineData("[Update(\"p = p - ⟦1.5x⟧\")]")]                     // a malformed number
    [InlineData("[Update(\"p = p ⟦g⟧\")]")]                           // two operands in a row
    [InlineData("[Update(\"p = p < g ⟦<⟧ 1 ? p : g\")]")]             // chained comparison
    [InlineData("[Update(\"⟦1⟧ = p\")]")]                             // not an assignable name
    [InlineData("[Update(\"p ⟦+⟧= g\")]")]                            // no compound assignment
    [InlineData("[Update(\"p = b⟦_⟧x\")]")]                           // '_' is not part of names
    [InlineData("[Update(\"p = p\\t- ⟦*⟧ g\")]")]                      // after an escape sequence in a regular string
    [InlineData("[Update(\"p = p\\u0020- ⟦\\u0024⟧\")]")]             // the mistake is itself an escape sequence
    [InlineData("[Update(@\"p = p - ⟦\"\"⟧\")]")]                    // verbatim: "" is one character
    [InlineData("[Update(@\"p = p\n - ⟦$⟧\")]")]                      // verbatim across lines
    [InlineData("[Update(\"\"\"p = p - ⟦$⟧ g\"\"\")]")]                // raw string
    [InlineData("[StepScalar(\"k\", \"1 - ⟦)⟧\")] [Update(\"p = p\")]")] // in a step scalar
    public void SyntaxError(string attributes) => AssertAt(attributes, "OPTG0100");

    [Theory]
    [InlineData("[Update(\"p = p - ⟦lr⟧ * g\")]")]
    [InlineData("[Update(\"⟦x⟧ = g\")] [Update(\"p = p\")]")]
    [InlineData("[StepScalar(\"k\", \"⟦Beta⟧ * 2\")] [Update(\"p = p - k\")]")]
    public void UnknownName(string attributes) => AssertAt(attributes, "OPTG0101");

    [Theory]
    [InlineData("[Update(\"p = p - ⟦foo⟧(g)\")]")]
    [InlineData("[State(\"m\")] [Update(\"p = ⟦m⟧(g)\")]")]
    public void UnknownFunction(string attributes) => AssertAt(attributes, "OPTG0102");

    [Theory]
    [InlineData("[Update(\"p = ⟦min⟧(p)\")]")]
    [InlineData("[Update(\"p = p - ⟦sqrt⟧(g, p)\")]")]
    [InlineData("[Update(\"p = ⟦lerp⟧(p, g)\")]")]
    [InlineData("[Update(\"p = ⟦fma⟧(p, g)\")]")]
    [InlineData("[Update(\"p = ⟦fma⟧(p, g, g, p)\")]")]
    [InlineData("[Update(\"p = p + ⟦randn⟧(g)\")]")]
    public void ArgumentCount(string attributes) => AssertAt(attributes, "OPTG0103");

    [Theory]
    [InlineData("[Update(\"p = p - (⟦g > 0⟧)\")]")]                   // a comparison used as a number
    [InlineData("[Update(\"p = ⟦g⟧ ? p : g\")]")]                      // a number used as a condition
    [InlineData("[Update(\"p = select(⟦p + g⟧, p, g)\")]")]
    [InlineData("[Update(\"p = ⟦p == g⟧\")]")]                         // a statement's value must be a number
    [InlineData("[Update(\"p = p - ⟦sqrt⟧\")]")]                       // a function used as a value
    [InlineData("[Update(\"p = p < g ? ⟦p > 0⟧ : g\")]")]
    public void TypeError(string attributes) => AssertAt(attributes, "OPTG0104");

    [Theory]
    [InlineData("[Update(\"p = p - ⟦x⟧\")] [Update(\"let x = g\")]")]  // a local before its let
    [InlineData("[Update(\"let x = ⟦x⟧ + g\")] [Update(\"p = p - x\")]")]
    [InlineData("[StepScalar(\"a\", \"⟦b⟧ + 1\")] [StepScalar(\"b\", \"2\")] [Update(\"p = p - a * b\")]")]
    public void ReadBeforeDefinition(string attributes) => AssertAt(attributes, "OPTG0105");

    [Theory]
    [InlineData("[Update(\"⟦g⟧ = 0\")] [Update(\"p = p\")]")]
    [InlineData("[Hyperparameter(\"Lr\", 0.1)] [Update(\"⟦Lr⟧ = 1\")] [Update(\"p = p\")]")]
    [InlineData("[StepScalar(\"k\", \"t\")] [Update(\"⟦k⟧ = 1\")] [Update(\"p = p\")]")]
    [InlineData("[Update(\"⟦t⟧ = 1\")] [Update(\"p = p\")]")]
    public void ReadOnlyTarget(string attributes) => AssertAt(attributes, "OPTG0106");

    [Theory]
    [InlineData("[StepScalar(\"k\", \"⟦p⟧ * 2\")] [Update(\"p = p - k\")]")]   // per-element value on the host
    [InlineData("[Update(\"p = ⟦pow⟧(p, 2)\")]")]                              // pow of a per-element value
    [InlineData("[StepScalar(\"k\", \"2 * ⟦randn⟧()\")] [Update(\"p = p - k\")]")]  // a random draw on the host
    [InlineData("[Update(\"p = p - ⟦pow⟧(2, randn())\")]")]                     // randn() is per element
    [InlineData("[StepScalar(\"k\", \"⟦rand⟧()\")] [Update(\"p = p - k\")]")]
    public void NotAvailableHere(string attributes) => AssertAt(attributes, "OPTG0107");

    // Reductions (docs/expressions.md#reductions): each misuse at its offending argument.
    [Theory]
    [InlineData("[StepScalar(\"k\", \"2 * ⟦norm⟧(p)\")] [Update(\"p = p - k * g\")]", "OPTG0114")]             // per tensor, not per step
    [InlineData("[Update(\"p = p - norm(⟦g * norm(p)⟧) * g\")]", "OPTG0115")]                                     // a reduction inside another
    [InlineData("[Update(\"let s = g / norm(g)\")] [Update(\"p = p - sum(⟦s⟧) * g\")]", "OPTG0115")]           // over a value computed from one
    [InlineData("[State(\"m\")] [Update(\"m = m + mean(g)\")] [Update(\"p = p - maxabs(⟦m * g⟧) * g\")]", "OPTG0115")] // a state updated from one
    [InlineData("[Hyperparameter(\"Lr\", 0.1)] [Update(\"p = p - norm(⟦Lr⟧) * g\")]", "OPTG0116")]             // the same for every element
    [InlineData("[Update(\"p = p - sum(⟦2⟧) * g\")]", "OPTG0116")]
    [InlineData("[Update(\"p = p - ⟦norm⟧(g, p)\")]", "OPTG0103")]                                                  // one argument
    [InlineData("[Update(\"let n = norm(g)\")] [Update(\"p = p - n * ⟦randn⟧()\")]", "OPTG0107")]              // no random draws in two passes
    [InlineData("[Update(\"let z = randn()\")] [Update(\"p = p - z * ⟦norm⟧(g)\")]", "OPTG0107")]
    [InlineData("[Update(\"p = p - sum(⟦randn⟧()) * g\")]", "OPTG0107")]                                       // a draw inside the first reduction (generated code did not compile)
    [InlineData("[Update(\"p = p - row_norm(g + ⟦rand⟧()) * g\")]", "OPTG0107")]
    [InlineData("[Update(\"p = p - block_maxabs(⟦randn⟧(), 4) * g\")]", "OPTG0107")]
    [InlineData("[Update(\"p = p - global_mean(⟦randn⟧()) * g\")]", "OPTG0107")]
    [InlineData("[Update(\"let n = norm(g)\")] [Update(\"p = p - n * ⟦gsq⟧\")]", "OPTG0107")]                // the passes do not load gsq
    [InlineData("[Update(\"let q = gsq\")] [Update(\"p = p - q * ⟦norm⟧(g)\")]", "OPTG0107")]
    [InlineData("[Update(\"p = p - norm(⟦g < 0⟧)\")]", "OPTG0104")]                                                 // a condition is not a number
    [InlineData("[Hyperparameter(\"⟦Passes⟧\", 1)] [Update(\"p = p - norm(g) * g\")]", "OPTG0109")]            // a member of ReductionOptimizer
    // Row, column and block reductions (docs/expressions.md#reductions): the block length, the arity, the same misuse as tensor scope.
    [InlineData("[Update(\"p = p - block_mean(g, ⟦0⟧) * g\")]", "OPTG0117")]                                      // not positive
    [InlineData("[Update(\"p = p - block_sum(g, ⟦2.5⟧) * g\")]", "OPTG0117")]                                     // not whole
    [InlineData("[Hyperparameter(\"Lr\", 4)] [Update(\"p = p - block_norm(g, ⟦Lr⟧) * g\")]", "OPTG0117")]      // not known when compiled
    [InlineData("[Update(\"p = p - block_maxabs(g, ⟦p⟧) * g\")]", "OPTG0117")]                                    // per element
    [InlineData("[Update(\"p = p - block_mean(g, ⟦3e9⟧) * g\")]", "OPTG0117")]                                    // longer than any tensor
    [InlineData("[Update(\"p = p - block_mean(g, ⟦norm(g)⟧) * g\")]", "OPTG0117")]                                // a reduction
    [InlineData("[Update(\"p = p - ⟦block_mean⟧(g) * g\")]", "OPTG0103")]                                          // needs its length
    [InlineData("[Update(\"p = p - ⟦row_mean⟧(g, 4) * g\")]", "OPTG0103")]
    [InlineData("[StepScalar(\"k\", \"⟦col_sum⟧(p)\")] [Update(\"p = p - k * g\")]", "OPTG0114")]                 // not in a step scalar
    [InlineData("[Update(\"p = p - row_mean(⟦g * col_norm(g)⟧) * g\")]", "OPTG0115")]                              // scopes do not nest
    [InlineData("[State(\"r\")] [Update(\"r = row_mean(g * g)\")] [Update(\"p = p - col_mean(⟦r⟧) * g\")]", "OPTG0115")] // over a compact state
    // A tensor reduction of a state computed from a reduction needs the state compact, final, and not feeding a compact state.
    [InlineData("[State(\"m\")] [Update(\"m = 0.5 * m + g * mean(g)\")] [Update(\"p = p - norm(⟦m⟧) * g\")]", "OPTG0115")]       // m is per element
    [InlineData("[State(\"r\")] [Update(\"r = row_mean(g * g)\")] [Update(\"p = p - mean(⟦r⟧) * g\")] [Update(\"r = 0.5 * r\")]", "OPTG0115")] // read before its last assignment
    [InlineData("[State(\"r\")] [State(\"s\")] [Update(\"r = row_mean(g * g)\")] [Update(\"s = mean(⟦r⟧)\")] [Update(\"p = p - s * g\")]", "OPTG0115")] // a compact state from it
    [InlineData("[State(\"r\")] [State(\"c\")] [Update(\"r = row_mean(g * g)\")] [Update(\"c = col_mean(g * g)\")] [Update(\"p = p - sum(⟦r * c⟧) * g\")]", "OPTG0115")] // per element (row × column)
    [InlineData("[Update(\"p = p - row_norm(⟦1⟧) * g\")]", "OPTG0116")]
    [InlineData("[StepScalar(\"k\", \"⟦global_norm⟧(g)\")] [Update(\"p = p - k * g\")]", "OPTG0114")]            // per step, yet not a step scalar
    [InlineData("[Update(\"p = p - group_mean(⟦g / global_norm(g)⟧) * g\")]", "OPTG0115")]
    [InlineData("[Update(\"p = p - row⟦_⟧median(g) * g\")]", "OPTG0100")]                                          // '_' only in the scoped reductions
    public void ReductionMisuse(string attributes, string id) => AssertAt(attributes, id);

    [Fact]
    public void MixedWithBuildingBlocks() => AssertAt("[⟦FirstMoment(Beta = 0.9)⟧] [Update(\"p = p - g\")]", "OPTG0108");

    [Theory]
    [InlineData("[State(\"m\")] [State(\"⟦M⟧\")] [Update(\"p = p - m\")]")]        // duplicate, ignoring case
    [InlineData("[State(\"⟦2x⟧\")] [Update(\"p = p\")]")]                          // not a name
    [InlineData("[Hyperparameter(\"⟦Step⟧\", 1)] [Update(\"p = p\")]")]            // reserved
    [InlineData("[Hyperparameter(\"⟦ElementOffset⟧\", 1)] [Update(\"p = p + randn()\")]")]  // a randn() kernel's field
    [InlineData("[Hyperparameter(\"⟦Length⟧\", 1)] [Update(\"p = p\")]")]          // a member of OptGen.Optimizer
    [InlineData("[Update(\"let x = g\")] [Update(\"let ⟦x⟧ = p\")] [Update(\"p = p - x\")]")]
    [InlineData("[State(\"m\", ⟦Name = \"bad name\"⟧)] [Update(\"p = p - m\")]")]
    [InlineData("[Update(\"let ⟦sqrt⟧ = g\")] [Update(\"p = p\")]")]
    public void InvalidDeclaration(string attributes) => AssertAt(attributes, "OPTG0109");

    [Theory]
    [InlineData("[Hyperparameter(\"Beta\", ⟦1.5⟧, Range = HyperparameterRange.UnitInterval)] [Update(\"p = p * Beta\")]")]
    [InlineData("[Hyperparameter(\"Lr\", ⟦double.NaN⟧)] [Update(\"p = p * Lr\")]")]
    public void InvalidDefault(string attributes) => AssertAt(attributes, "OPTG0110");

    [Fact]
    public void NoParameterUpdate()
    {
        string source = Header + "[Optimizer] [State(\"m\")] [Update(\"m = g\")] public partial class Idle;";
        GeneratorHarness.Run run = GeneratorHarness.Generate(source);
        Diagnostic diagnostic = Assert.Single(run.OptGenDiagnostics);
        Assert.Equal("OPTG0111", diagnostic.Id);
        Assert.Empty(run.Files);
        Assert.Equal("Idle", GetText(diagnostic, source));
    }

    [Fact]
    public void CollisionWithADeclaredMember()
    {
        string source = Header + "[Optimizer] [Hyperparameter(\"Lr\", 1)] [Update(\"p = p - Lr * g\")] public partial class Clash { public int Lr; }";
        GeneratorHarness.Run run = GeneratorHarness.Generate(source);
        Diagnostic diagnostic = Assert.Single(run.OptGenDiagnostics);
        Assert.Equal("OPTG0013", diagnostic.Id);
        Assert.Equal("Lr", GetText(diagnostic, source));
    }

    [Fact]
    public void ConstantStringsThatAreNotLiteralsPointAtTheArgument()
    {
        string source = Header + "[Optimizer] [Update(\"p = p \" + \"- #\")] public partial class Joined;";
        GeneratorHarness.Run run = GeneratorHarness.Generate(source);
        Diagnostic diagnostic = Assert.Single(run.OptGenDiagnostics);
        Assert.Equal("OPTG0100", diagnostic.Id);
        Assert.Equal("\"p = p \" + \"- #\"", GetText(diagnostic, source));
    }

    private static string GetText(Diagnostic diagnostic, string source) =>
        source.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length);
}
