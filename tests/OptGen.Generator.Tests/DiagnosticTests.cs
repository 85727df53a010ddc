using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>Each mistake gives its OPTG diagnostic at the offending place, and stops emission for that class only.</summary>
public sealed class DiagnosticTests
{
    private static void AssertDiagnostic(string source, string id, string markedText)
    {
        string full = "using OptGen;\nnamespace Demo;\n" + source;
        GeneratorHarness.Run run = GeneratorHarness.Generate(full);
        Assert.Empty(run.Exceptions);
        Diagnostic diagnostic = Assert.Single(run.OptGenDiagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        string located = full.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length);
        Assert.Equal(markedText, located);
    }

    [Fact]
    public void NotPartial() => AssertDiagnostic("[Optimizer] public class Plain;", "OPTG0001", "Plain");

    [Fact]
    public void StaticClass() => AssertDiagnostic("[Optimizer] public static partial class Holder;", "OPTG0002", "Holder");

    [Fact]
    public void GenericClass() => AssertDiagnostic("[Optimizer] public partial class Gen<T>;", "OPTG0003", "Gen");

    [Fact]
    public void BothLengthAndBeta() =>
        AssertDiagnostic("[Optimizer] [FirstMoment(Length = 10, Beta = 0.9)] public partial class Both;", "OPTG0007", "Beta = 0.9");

    [Fact]
    public void LengthBelowOne() =>
        AssertDiagnostic("[Optimizer] [SecondMoment(Length = 0.5)] public partial class Short;", "OPTG0008", "Length = 0.5");

    [Fact]
    public void BetaOutOfRange() =>
        AssertDiagnostic("[Optimizer] [FirstMoment(Beta = 1.0)] public partial class One;", "OPTG0009", "Beta = 1.0");

    [Fact]
    public void EpsilonNotPositive() =>
        AssertDiagnostic("[Optimizer] [SecondMoment(Beta = 0.9)] [Epsilon(0.0, Placement = EpsilonPlacement.Decoupled)] public partial class Zero;", "OPTG0010", "0.0");

    [Fact]
    public void BiasCorrectionWithoutMoment() =>
        AssertDiagnostic("[Optimizer] [BiasCorrection(BiasCorrectionMode.Power)] public partial class Nothing;", "OPTG0011", "BiasCorrectionMode.Power");

    [Fact]
    public void AmsGradWithoutSecondMoment() =>
        AssertDiagnostic("[Optimizer] [FirstMoment(Beta = 0.9)] [AmsGrad] public partial class Ams;", "OPTG0012", "AmsGrad");

    [Fact]
    public void NameCollision() =>
        AssertDiagnostic("[Optimizer] public partial class Clash { public int LearningRate; }", "OPTG0013", "LearningRate");

    [Fact]
    public void ErrorsStopOnlyTheirClass()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("""
            using OptGen;
            namespace Demo;
            [Optimizer] [FirstMoment(Beta = 2)] public partial class Bad;
            [Optimizer] [FirstMoment(Beta = 0.5)] public partial class Good;
            """);
        Assert.Equal("OPTG0009", Assert.Single(run.OptGenDiagnostics).Id);
        Assert.Contains("Demo.Good.g.cs", run.Files.Keys);
        Assert.DoesNotContain("Demo.Bad.g.cs", run.Files.Keys);
    }

    [Fact]
    public void OldLanguageVersion()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("using OptGen;\nnamespace Demo { [Optimizer] public partial class Old { } }", LanguageVersion.CSharp10);
        Assert.Contains(run.OptGenDiagnostics, d => d.Id == "OPTG0014");
    }
}
