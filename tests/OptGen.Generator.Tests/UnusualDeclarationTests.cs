using System;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// A table of declarations written with C# features the other tables do not use: attributes through using aliases,
/// named constructor arguments in any order, constants, nameof and enum casts as arguments, Unicode and escaped
/// identifiers, odd white space inside statements, nesting in private and doubly nested optimizers, members of C#
/// 11–13 (required, partial properties, indexers, operators, events). Valid ones generate code that compiles
/// cleanly, CPU and GPU (Nullable, warnings as errors); malformed ones get one OPTG diagnostic at the offending
/// argument (marked <c>[|like this|]</c>) and no code.
/// </summary>
public sealed class UnusualDeclarationTests
{
    [Theory]
    [InlineData("using H = OptGen.HyperparameterAttribute; using U = OptGen.UpdateAttribute; using O = OptGen.OptimizerAttribute; [O] [H(\"Lr\", 0.1)] [U(\"p = p - Lr * g\")] public partial class A;")]
    [InlineData("using O = OptGen.OptimizerAttribute; using F = OptGen.FirstMomentAttribute; [O] [F(Beta = 0.9)] public partial class A;")]
    [InlineData("[Optimizer] [Hyperparameter(defaultValue: 0.1, name: \"Lr\")] [Update(statement: \"p = p - Lr * g\")] public partial class A;")]
    [InlineData("[Optimizer] [StepScalar(expression: \"Lr / t\", name: \"k\")] [Hyperparameter(defaultValue: 0.1, name: \"Lr\", Range = HyperparameterRange.NonNegative)] [Update(\"p = p - k * g\")] public partial class A;")]
    [InlineData("static class K { public const double Beta = 0.9; public const string Rule = \"p = p - \" + \"m\"; } [Optimizer] [Hyperparameter(nameof(K.Beta), K.Beta, Range = (HyperparameterRange)3)] [State(\"m\", Name = nameof(A.Momentum))] [Update(\"m = lerp(m, g, 1 - Beta)\")] [Update(K.Rule)] public partial class A;")]
    [InlineData("[Optimizer] [FirstMoment(Beta = 0.9)] public partial class Ωmega; [Optimizer] [FirstMoment(Beta = 0.8)] public partial class 日本語; [Optimizer] [FirstMoment(Beta = 0.7)] public partial class \\u0042eta;")]
    [InlineData("[Optimizer] [State(\"m\", Name = \"Ωmega\")] [Update(\"m = g\")] [Update(\"p = p - 0.1 * m\")] public partial class A;")]
    [InlineData("[Optimizer] [Update(\"p = p -\\u00A0g\\t*\\t0.5\\r\\n\")] public partial class A; [Optimizer] [Update(\"p = p - g\\u2028* 0.25\")] public partial class B;")]
    [InlineData("[Optimizer] [Update(\"\"\"\n    p = p - 0.5 * g\n    \"\"\")] public partial class A;")]
    [InlineData("[Optimizer(Name = \"x*/y</summary>&amp;\\u2028z\")] [State(\"m\", Name = \"M\")] [Update(\"m = g < 0 ? g : m\")] [Update(\"p = p - 0.1 * m\")] public partial class A;")]
    [InlineData("partial class Outer { private partial class Mid { [Optimizer] [FirstMoment(Beta = 0.9)] protected internal partial class A; } }")]
    [InlineData("public partial class Outer { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class Outer2 { [Optimizer] [Hyperparameter(\"Lr\", 0.1)] [Update(\"p = p - Lr * g\")] public partial class Inner; } }")]
    [InlineData("[Optimizer] [FirstMoment(Beta = 0.9)] public partial class A { public partial int P { get; } public partial int P => 1; public required int R { get; init; } }")]
    [InlineData("[Optimizer] [FirstMoment(Beta = 0.9)] public partial class A { public static implicit operator int(A a) => 0; public int this[int i] => i; public event System.Action? Changed { add { } remove { } } }")]
    [InlineData("[Optimizer] [Hyperparameter(\"Lr\", 0.1)] [Update(\"p = p - Lr * g\")] [System.Obsolete(\"old\")] public partial class A; [Optimizer] [FirstMoment(Beta = 0.9)] [System.Diagnostics.CodeAnalysis.Experimental(\"X1\")] public partial class B;")]
    [InlineData("[Optimizer] [Hyperparameter(\"System\", 0.1)] [State(\"MathF\")] [StepScalar(\"Vector128\", \"System / t\")] [Update(\"MathF = g\")] [Update(\"let Math = sqrt(abs(MathF))\")] [Update(\"p = p - Vector128 * Math\")] public partial class A;")]
    public void AnUnusualButValidDeclarationCompilesCleanly(string declarations)
    {
        GeneratorHarness.AssertCompilesCleanly("using OptGen;\nnamespace Demo;\n" + declarations);
    }

    [Theory]
    [InlineData("using H = OptGen.HyperparameterAttribute; [Optimizer] [H(\"Lr\", [|1e300|])] [Update(\"p = p - Lr * g\")] public partial class A;", "OPTG0024")]
    [InlineData("[Optimizer] [Hyperparameter([|defaultValue: 1e300|], name: \"Lr\")] [Update(statement: \"p = p - Lr * g\")] public partial class A;", "OPTG0024")]
    [InlineData("[Optimizer] [Hyperparameter(defaultValue: 0.1, name: \"Lr\")] [Update(statement: \"p = p - Lr * [|q|]\")] public partial class A;", "OPTG0101")]
    [InlineData("[Optimizer] [StepScalar(expression: \"t * [|q|]\", name: \"k\")] [Update(\"p = p - k * g\")] public partial class A;", "OPTG0101")]
    [InlineData("static class K { public const string Rule = \"p = p - q\"; } [Optimizer] [Update([|K.Rule|])] public partial class A;", "OPTG0101")] // not a literal: the whole argument
    [InlineData("[Optimizer] [Hyperparameter(\"Beta\", 0.9, [|Range = (HyperparameterRange)99|])] [Update(\"p = p - Beta * g\")] public partial class A;", "OPTG0015")]
    [InlineData("[Optimizer] [State(\"m\", [|Name = \"@class\"|])] [Update(\"m = g\")] [Update(\"p = p - 0.1 * m\")] public partial class A;", "OPTG0109")]
    [InlineData("[Optimizer] [Update(\"p = p - g /[|/|] comment\")] public partial class A;", "OPTG0100")] // no comments in the language: the second '/' is unexpected
    [InlineData("[Optimizer] [FirstMoment(Beta = 0.9)] public partial class A { public double [|this|][string name] => 0; }", "OPTG0136")]
    [InlineData("[|file|] partial class Outer { [Optimizer] [FirstMoment(Beta = 0.9)] public partial class A; }", "OPTG0022")]
    public void AMalformedDeclarationIsDiagnosedAtTheArgument(string declarations, string id) =>
        DiagnosticLocationTests.AssertMarked(declarations, id);
}
