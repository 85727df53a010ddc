using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Generator.Tests;

/// <summary>
/// Adversarial reductions over compact state (tensor, row, column and block states reduced by tensor reductions, mixed
/// with hyperparameters, t, other reductions, randn, a zero divisor, global/row scopes): the generator never throws,
/// and each rule is either diagnosed inside its own declaration or compiles with no warning (Nullable, warnings as errors).
/// </summary>
public sealed class OverStateDeclarationTests(ITestOutputHelper output)
{
    public static TheoryData<string> Rules() => new()
    {
        "[State(\"r\")] [Update(\"r = mean(g * g)\")] [Update(\"p = p - sum(r) * g\")]",
        "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - mean(r) * norm(r) * g / (1 + maxabs(r) + sum(r))\")]",
        "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - mean(r * t + Lr) * g\")]",
        "[State(\"r\")] [Update(\"r = block_mean(g * g, 3)\")] [Update(\"p = p - mean(r) * g\")]",
        "[State(\"r\")] [State(\"m\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"m = 0.9 * m + g / (mean(r) + 1)\")] [Update(\"p = p - m\")]",
        "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - norm(g / (r + 1)) * mean(r) * g\")]",
        "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - mean(mean(r)) * g\")]",
        "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - mean(r) * mean(r) * g\")]",
        "[State(\"r\")] [State(\"c\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"c = lerp(c, col_mean(g * g), 0.1)\")] [Update(\"p = p - g * mean(r) / (mean(c) + 1)\")]",
        "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - row_mean(r) * g\")]",
        "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - global_mean(r) * g\")]",
        "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - mean(r) * g\")] [Update(\"p = p - mean(r) * g\")]",
        "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - mean(randn() * r) * g\")]",
        "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - mean(r / 0) * g\")]",
        "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - mean(p * r) * g\")]",
        "[State(\"r\")] [State(\"s\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"s = lerp(s, row_mean(g), 0.1)\")] [Update(\"p = p - mean(r - s * s) * g\")]",
        "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - mean(r) * g\")] [Update(\"r = r\")]",
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void NeverThrowsAndDiagnosesOrCompilesCleanly(string rule)
    {
        string text = "using OptGen;\nnamespace Demo;\n[Optimizer]\n[Hyperparameter(\"Lr\", 0.01)]\n" + rule + "\npublic partial class Probe;\n";
        GeneratorHarness.Run run = GeneratorHarness.Generate(text);
        output.WriteLine(string.Join("\n", run.OptGenDiagnostics.Select(d => d + " @ '" + text.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length) + "'")));
        Assert.Empty(run.Exceptions);
        Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id is "CS8785" or "CS8784");
        Assert.Empty(run.Errors);
        // Lr is declared for the rules that read it; the others get OPTG0139 on it, and only that outside the rule.
        Diagnostic[] lr = run.OptGenDiagnostics.Where(d => d.Id == "OPTG0139").ToArray();
        Assert.Equal(rule.Contains("Lr", StringComparison.Ordinal) || run.OptGenDiagnostics.Any(d => d.Descriptor.DefaultSeverity == DiagnosticSeverity.Error) ? 0 : 1, lr.Length);
        Assert.All(lr, d => Assert.Equal("Lr", text.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length)));
        Assert.All(run.OptGenDiagnostics.Except(lr), d => Assert.True(d.Location.SourceSpan.Length > 0 && d.Location.SourceSpan.Start >= text.IndexOf("[State", StringComparison.Ordinal)));
    }
}
