using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// [NesterovMomentumDecay], [Rectified] and [DeltaAccumulator] each need particular attributes beside them; a
/// missing or conflicting one is OPTG0035, OPTG0036 or OPTG0037 (one per attribute) on the attribute, a bad value OPTG0015 on the argument, and the valid
/// forms generate code that compiles.
/// </summary>
public sealed class StepScheduleDiagnosticTests
{
    private const string AdamCore = "[FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [BiasCorrection(BiasCorrectionMode.Power)]";

    private static void AssertDiagnostic(string source, string id, string markedText, string messagePart)
    {
        string full = "using OptGen;\nnamespace Demo;\n" + source;
        GeneratorHarness.Run run = GeneratorHarness.Generate(full);
        Assert.Empty(run.Exceptions);
        Diagnostic diagnostic = Assert.Single(run.OptGenDiagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Contains(messagePart, diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), System.StringComparison.Ordinal);
        Assert.Equal(markedText, full.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length));
        Assert.Empty(run.Files);
    }

    [Theory]
    [InlineData(AdamCore + " [Epsilon(1e-8)] [NesterovMomentumDecay(0.004)]")]
    [InlineData(AdamCore + " [Epsilon(1e-8, BeforeBiasCorrection = true)] [Rectified]")]
    [InlineData(AdamCore + " [Epsilon(1e-8)] [Rectified(Threshold = 4.5)] [WeightDecay(0.01, Decoupled = true)]")]
    [InlineData("[SecondMoment(Beta = 0.9, Name = \"Rho\")] [Epsilon(1e-6, Placement = EpsilonPlacement.InsideSqrt)] [DeltaAccumulator] [Maximize]")]
    public void ValidFormsCompile(string attributes)
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate($"using OptGen;\nnamespace Demo;\n[Optimizer] {attributes} public partial class Rule;");
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.Equal(2, run.Files.Count);
    }

    [Fact]
    public void NAdamNeedsPowerCorrection() => AssertDiagnostic(
        "[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [Epsilon(1e-8)] [NesterovMomentumDecay(0.004)] public partial class N;",
        "OPTG0035", "0.004", "BiasCorrection");

    [Fact]
    public void NAdamTakesNoMomentum() => AssertDiagnostic(
        $"[Optimizer] {AdamCore} [Epsilon(1e-8)] [Momentum(0.9)] [NesterovMomentumDecay(0.004)] public partial class N;",
        "OPTG0035", "0.004", "remove [Momentum]");

    [Fact]
    public void NAdamDecayMustBeNonNegative() => AssertDiagnostic(
        $"[Optimizer] {AdamCore} [Epsilon(1e-8)] [NesterovMomentumDecay(-1.0)] public partial class N;",
        "OPTG0015", "-1.0", "momentum decay");

    [Fact]
    public void RectifiedNeedsEpsilonOutside() => AssertDiagnostic(
        $"[Optimizer] {AdamCore} [Epsilon(1e-8, Placement = EpsilonPlacement.InsideSqrt)] [Rectified] public partial class R;",
        "OPTG0036", "Rectified", "outside the root");

    [Fact]
    public void RectifiedThresholdAboveFour() => AssertDiagnostic(
        $"[Optimizer] {AdamCore} [Epsilon(1e-8)] [Rectified(Threshold = 3)] public partial class R;",
        "OPTG0015", "Threshold = 3", ">= 4");

    [Fact]
    public void RectifiedNeedsAFirstMoment() => AssertDiagnostic(
        "[Optimizer] [SecondMoment(Beta = 0.999)] [BiasCorrection(BiasCorrectionMode.Power)] [Epsilon(1e-8)] [Rectified] public partial class R;",
        "OPTG0036", "Rectified", "[FirstMoment]");

    [Fact]
    public void DeltaAccumulatorNeedsEpsilonInside() => AssertDiagnostic(
        "[Optimizer] [SecondMoment(Beta = 0.9)] [Epsilon(1e-6)] [DeltaAccumulator] public partial class D;",
        "OPTG0037", "DeltaAccumulator", "InsideSqrt");

    [Fact]
    public void DeltaAccumulatorTakesNoFirstMoment() => AssertDiagnostic(
        "[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.9)] [Epsilon(1e-6, Placement = EpsilonPlacement.InsideSqrt)] [DeltaAccumulator] public partial class D;",
        "OPTG0037", "DeltaAccumulator", "[FirstMoment]");

    [Fact]
    public void DeltaAccumulatorNeedsAnAverage() => AssertDiagnostic(
        "[Optimizer] [SecondMoment(Kind = SecondMomentKind.Sum)] [Epsilon(1e-6, Placement = EpsilonPlacement.InsideSqrt)] [DeltaAccumulator] public partial class D;",
        "OPTG0037", "DeltaAccumulator", "exponential-average");

    [Fact]
    public void NAdamCarriesItsProductAsHostState()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate($"using OptGen;\nnamespace Demo;\n[Optimizer] {AdamCore} [Epsilon(1e-8)] [NesterovMomentumDecay(0.004)] public partial class N;");
        string optimizer = run.Files.Single(f => !f.Key.StartsWith("OptGen.Generated.", System.StringComparison.Ordinal)).Value;
        Assert.Contains("protected override void AdvanceHostState(", optimizer, System.StringComparison.Ordinal);
        Assert.Contains("new(\"MuProduct\", \"Π\", 1.0)", optimizer, System.StringComparison.Ordinal);
        Assert.Contains("public double MuProduct => GetHostState(0);", optimizer, System.StringComparison.Ordinal);
    }
}
