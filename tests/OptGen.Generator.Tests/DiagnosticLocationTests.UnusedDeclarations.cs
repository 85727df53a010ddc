using System;
using System.Globalization;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// OPTG0139 (a [Hyperparameter] the update never reads), OPTG0140 (a [StepScalar] the update never reads) and OPTG0141
/// (a [State] the update reads but never assigns: always 0): warnings at the declaration's name; the code is still
/// generated and compiles. What counts is the rule as it runs (after statements that cannot change the result are
/// dropped), as for OPTG0138; a hyperparameter read in any way (directly, through a step scalar, a condition, a
/// reduction rule, as the seed of randn) and a state assigned in any way is not reported.
/// </summary>
public sealed partial class DiagnosticLocationTests
{
    [Theory]
    [InlineData("[Hyperparameter(\"[|Wd|]\", 0.01)] [Update(\"p = p - 0.1 * g\")]", "")]
    [InlineData("[Hyperparameter(@\"[|Wd|]\", 0.01)] [Update(\"p = p - 0.1 * g\")]", "")]
    [InlineData("[Hyperparameter(\"\"\"[|Wd|]\"\"\", 0.01)] [Update(\"p = p - 0.1 * g\")]", "")]
    [InlineData("[Hyperparameter(\"[|Wd|]\", 1, Range = HyperparameterRange.Boolean)] [Update(\"p = p - 0.1 * g\")]", "")]
    [InlineData("[Hyperparameter(\"[|Wd|]\", 0.01)] [Update(\"let x = Wd * p\")] [Update(\"p = p - 0.1 * g\")]", " (what reads it")] // a local nothing reads
    [InlineData("[Hyperparameter(\"[|Seed|]\", 3)] [Update(\"p = p - 0.1 * g\")]", "")] // no randn(): nothing is seeded
    [InlineData("[Hyperparameter(\"[|Wd|]\", 0.01)] [Update(\"p = p - 0.1 * g / (norm(g) + 1)\")]", "")] // a rule with reductions
    public void OPTG0139_UnusedHyperparameter(string declarations, string why)
    {
        Diagnostic d = AssertMarked($"[Optimizer] {declarations} public partial class C;", "OPTG0139", DiagnosticSeverity.Warning);
        string message = d.GetMessage(CultureInfo.InvariantCulture);
        string name = declarations.Contains("Seed", StringComparison.Ordinal) ? "Seed" : "Wd";
        Assert.StartsWith($"The hyperparameter '{name}' of 'C' is never used by the update{why}", message, StringComparison.Ordinal);
        Assert.EndsWith($"or remove [Hyperparameter(\"{name}\", …)]", message, StringComparison.Ordinal);
    }

    [Fact]
    public void OPTG0139_And0140_AHyperparameterReadOnlyByAnUnusedStepScalar()
    {
        // Both are reported: the step scalar is never used, so the hyperparameter never reaches the update either.
        const string Source = "using OptGen;\nnamespace Demo;\n[Optimizer] [Hyperparameter(\"Lr\", 0.1)] [Hyperparameter(\"Beta2\", 0.999)] [StepScalar(\"bc2\", \"1 - pow(Beta2, t)\")] [Update(\"p = p - Lr * g\")] public partial class C;";
        GeneratorHarness.Run run = GeneratorHarness.Generate(Source);
        Assert.Empty(run.Exceptions);
        Assert.Equal(new[] { ("OPTG0139", "Beta2"), ("OPTG0140", "bc2") }, run.OptGenDiagnostics.Select(d => (d.Id, Marked(d, Source))).OrderBy(x => x.Id));
        Assert.Contains("is never used by the update (what reads it cannot change the result and is dropped)", run.OptGenDiagnostics.First(d => d.Id == "OPTG0139").GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Empty(run.Errors);
        Assert.Contains("Demo.C.g.cs", run.Files.Keys);
    }

    [Theory]
    [InlineData("[StepScalar(\"[|bc1|]\", \"1 - pow(0.9, t)\")] [Update(\"p = p - 0.1 * g\")]", "")]
    [InlineData("[StepScalar(@\"[|bc1|]\", \"1 - pow(0.9, t)\")] [Update(\"p = p - 0.1 * g\")]", "")]
    [InlineData("[StepScalar(\"[|bc1|]\", \"1 - pow(0.9, t)\")] [Update(\"let x = bc1 * g\")] [Update(\"p = p - 0.1 * g\")]", " (what reads it")]
    [InlineData("[StepScalar(\"[|bc1|]\", \"1 - pow(0.9, t)\")] [Update(\"p = p - 0.1 * g / (norm(g) + 1)\")]", "")]
    public void OPTG0140_UnusedStepScalar(string declarations, string why)
    {
        Diagnostic d = AssertMarked($"[Optimizer] {declarations} public partial class C;", "OPTG0140", DiagnosticSeverity.Warning);
        string message = d.GetMessage(CultureInfo.InvariantCulture);
        Assert.StartsWith($"The step scalar 'bc1' of 'C' is never used by the update{why}", message, StringComparison.Ordinal);
        Assert.EndsWith("or remove [StepScalar(\"bc1\", …)]", message, StringComparison.Ordinal);
    }

    [Fact]
    public void OPTG0140_AChainOfStepScalarsWhoseLastIsUnused()
    {
        // a is read by b, b by nothing: b is reported as unused and a as read only by what is dropped.
        const string Source = "using OptGen;\nnamespace Demo;\n[Optimizer] [StepScalar(\"a\", \"t * 2\")] [StepScalar(\"b\", \"a + 1\")] [Update(\"p = p - 0.1 * g\")] public partial class C;";
        GeneratorHarness.Run run = GeneratorHarness.Generate(Source);
        Assert.Equal(new[] { ("OPTG0140", "a"), ("OPTG0140", "b") }, run.OptGenDiagnostics.Select(d => (d.Id, Marked(d, Source))).OrderBy(x => x.Item2));
        Assert.Contains("(what reads it cannot change the result and is dropped)", run.OptGenDiagnostics.Single(d => Marked(d, Source) == "a").GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.DoesNotContain("(what reads it", run.OptGenDiagnostics.Single(d => Marked(d, Source) == "b").GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Empty(run.Errors);
    }

    [Theory]
    [InlineData("[State(\"[|u|]\")] [Update(\"p = p - 0.1 * (g + u)\")]")]
    [InlineData("[State(\"[|u|]\", Name = \"Offset\")] [Update(\"p = p - 0.1 * (g + u)\")]")]
    [InlineData("[State(@\"[|u|]\")] [Update(\"p = p - 0.1 * (g + u)\")]")]
    [InlineData("[State(\"[|u|]\")] [Update(\"u = u\")] [Update(\"p = p - 0.1 * u * g\")]")] // a self-assignment is dropped
    [InlineData("[State(\"[|u|]\")] [Update(\"p = u > 0 ? p : p - 0.1 * g\")]")] // in a condition
    [InlineData("[State(\"[|u|]\")] [Update(\"let x = 2 * u\")] [Update(\"p = p - 0.1 * x * g\")]")] // through a local
    [InlineData("[State(\"[|u|]\")] [Update(\"p = p - 0.1 * g / (norm(u) + 1)\")]")] // in a reduction's operand
    [InlineData("[State(\"m\")] [State(\"[|u|]\")] [Update(\"m = 0.9 * m + g + u\")] [Update(\"p = p - 0.1 * m\")]")] // beside a state that is written
    public void OPTG0141_StateReadButNeverWritten(string declarations)
    {
        Diagnostic d = AssertMarked($"[Optimizer] {declarations} public partial class C;", "OPTG0141", DiagnosticSeverity.Warning);
        Assert.StartsWith("The state 'u' of 'C' is read by the update but no statement assigns it: it stays 0 on every step", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void NoUnusedDeclarationWarningForDeclarationsUsedInAnyWay()
    {
        string[] rules =
        {
            "[Hyperparameter(\"Lr\", 0.1)] [Update(\"p = p - Lr * g\")]",                                                   // directly
            "[Hyperparameter(\"Lr\", 0.1)] [StepScalar(\"k\", \"Lr / t\")] [Update(\"p = p - k * g\")]",                     // through a step scalar
            "[Hyperparameter(\"Lr\", 0.1)] [StepScalar(\"a\", \"Lr / t\")] [StepScalar(\"b\", \"a * a\")] [Update(\"p = p - b * g\")]", // through a chain
            "[Hyperparameter(\"On\", 1, Range = HyperparameterRange.Boolean)] [Update(\"p = On > 0 ? p - 0.1 * g : p\")]",  // in a condition
            "[Hyperparameter(\"Lr\", 0.1)] [Update(\"p = p - (t == 1 ? Lr : 0.1) * g\")]",                                  // in one branch
            "[Hyperparameter(\"Lr\", 0.1)] [Hyperparameter(\"Seed\", 0)] [Update(\"p = p - Lr * g * randn()\")]",            // Seed seeds randn()
            "[Hyperparameter(\"Seed\", 0)] [Update(\"p = p - 0.1 * g * rand()\")]",                                         // and rand()
            "[Hyperparameter(\"Lr\", 0.1)] [Update(\"p = p - Lr * g / (norm(g) + 1)\")]",                                   // a rule with reductions
            "[Hyperparameter(\"Lr\", 0.1)] [State(\"m\")] [Update(\"m = lerp(m, g, 0.1)\")] [Update(\"p = p - Lr * m\")]",  // a state read and written
            "[State(\"m\")] [Update(\"m = g * g\")] [Update(\"p = p - 0.1 * g\")]",                                         // written only (OPTG0138's "used")
            "[State(\"m\")] [Update(\"p = p - 0.1 * (g + m)\")] [Update(\"m = g\")]",                                         // read before its assignment
            "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - 0.1 * g / sqrt(r + 1)\")]",  // a compact state
            "[State(\"v\")] [Update(\"v = block_mean(g * g, 4)\")] [Update(\"p = p - 0.1 * g / (mean(v) + 1)\")]",          // reduced between the passes
            "[Hyperparameter(\"B\", 2)] [Update(\"p = p - B * 0.1 * g\")]",                                                 // a B of its own
            "[Hyperparameter(\"Beta\", 0.9, Range = HyperparameterRange.UnitInterval)] [State(\"m\")] [Update(\"m = lerp(m, g, 1 - batchDecay(Beta))\")] [Update(\"p = p - 0.1 * m\")]",
        };
        var source = new StringBuilder("using OptGen;\nnamespace Demo;\n");
        for (int i = 0; i < rules.Length; i++)
        {
            source.Append($"[Optimizer] {rules[i]} public partial class Used{i};\n");
        }

        GeneratorHarness.Run run = GeneratorHarness.Generate(source.ToString(), ilgpu: true);
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.All(Enumerable.Range(0, rules.Length), i => Assert.Contains($"Demo.Used{i}.g.cs", run.Files.Keys));
    }

    [Fact]
    public void UnusedDeclarationWarningsLeaveTheCodeGenerated()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("using OptGen;\nnamespace Demo;\n[Optimizer] [Hyperparameter(\"Lr\", 0.1)] [Hyperparameter(\"Wd\", 0.1)] [StepScalar(\"k\", \"t\")] [State(\"u\")] [Update(\"p = p - Lr * (g + u)\")] public partial class C;", ilgpu: true);
        Assert.Empty(run.Exceptions);
        Assert.Equal(new[] { "OPTG0139", "OPTG0140", "OPTG0141" }, run.OptGenDiagnostics.Select(d => d.Id).OrderBy(i => i, StringComparer.Ordinal));
        Assert.All(run.OptGenDiagnostics, d => Assert.Equal(DiagnosticSeverity.Warning, d.Descriptor.DefaultSeverity));
        Assert.Empty(run.Errors);
        Assert.Contains("public double Wd", run.Files["Demo.C.g.cs"], StringComparison.Ordinal); // still a property of the optimizer
        Assert.Contains("Demo.C.Gpu.g.cs", run.Files.Keys);
    }

    /// <summary>The text a diagnostic marks in the source.</summary>
    private static string Marked(Diagnostic d, string source) => source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length);
}
