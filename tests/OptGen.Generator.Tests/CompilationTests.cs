using System.Linq;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>The generated code compiles cleanly in a strict consumer, and rules are shared and normalized.</summary>
public sealed class CompilationTests
{
    [Fact]
    public void GeneratedCodeCompilesWithoutWarningsUnderNullableAndWarningsAsErrors()
    {
        // The harness compiles with nullable enabled and every warning reported as an error.
        GeneratorHarness.Run run = GeneratorHarness.Generate("""
            using OptGen;
            namespace Demo;

            [Optimizer]
            [LearningRate(0.001)]
            [FirstMoment(Beta = 0.9)]
            [SecondMoment(Beta = 0.999)]
            [BiasCorrection(BiasCorrectionMode.Power)]
            [Epsilon(1e-8)]
            [AmsGrad]
            [WeightDecay(0.01, Decoupled = true)]
            [Maximize]
            public partial class EverythingAdam;

            public static partial class Outer
            {
                [Optimizer]
                [SecondMoment(Kind = SecondMomentKind.Sum, InitialValue = 0.1)]
                [LearningRate(0.01, Decay = 0.001)]
                [Epsilon(1e-10)]
                internal partial class NestedAdagrad;
            }

            [Optimizer]
            [Momentum(Length = 10, Style = MomentumStyle.Classic)]
            public partial class Classic;

            [Optimizer]
            [SecondMoment(Beta = 0.9, Start = MomentStart.FirstSample)]
            public partial class RmsFirstSample;

            [Optimizer]
            [SecondMoment(Beta = 0.99, Centered = true, Name = "Alpha")]
            [Epsilon(1e-8)]
            [Momentum(0.9)]
            public partial class CenteredRmsProp;

            [Optimizer]
            [FirstMoment(Beta = 0.9)]
            [SecondMoment(Beta = 0.999, Kind = SecondMomentKind.InfinityNorm)]
            [BiasCorrection(BiasCorrectionMode.Power)]
            [Epsilon(1e-8)]
            public partial class Adamax;

            [Optimizer]
            [SecondMoment(Kind = SecondMomentKind.Mean)]
            public partial class AdagradRms;
            """);

        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.Equal(7, run.Files.Count(f => !f.Key.StartsWith("OptGen.Generated.", System.StringComparison.Ordinal)));
    }

    [Fact]
    public void LengthAndBetaDeclarationsShareOneKernel()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("""
            using OptGen;
            namespace Demo;

            [Optimizer]
            [FirstMoment(Length = 10)]
            [SecondMoment(Length = 1000)]
            [BiasCorrection(BiasCorrectionMode.Power)]
            [Epsilon(1e-8)]
            public partial class ByLength;

            [Optimizer]
            [FirstMoment(Beta = 0.9)]
            [SecondMoment(Beta = 0.999)]
            [BiasCorrection(BiasCorrectionMode.Power)]
            [Epsilon(1e-8)]
            public partial class ByBeta;
            """);

        Assert.Empty(run.Errors);
        Assert.Single(run.Files.Keys, k => k.StartsWith("OptGen.Generated.", System.StringComparison.Ordinal));
        string kernel = run.Files.Single(f => f.Key.StartsWith("OptGen.Generated.", System.StringComparison.Ordinal)).Value;
        Assert.Contains("<see cref=\"global::Demo.ByBeta\"/>, <see cref=\"global::Demo.ByLength\"/>", kernel);

        // Normalization: Length = 10 and Beta = 0.9 give the same default β₁.
        Assert.Contains("new(\"Beta1\", \"β₁\", 0.9,", run.Files["Demo.ByLength.g.cs"]);
        Assert.Contains("new(\"Beta1\", \"β₁\", 0.9,", run.Files["Demo.ByBeta.g.cs"]);
    }
}
