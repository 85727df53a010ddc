using System.Collections.Generic;
using System.Linq;
using Xunit;

using OptGen.Testing;

namespace OptGen.Generator.Tests;

/// <summary>
/// Golden snapshots of the generated code for rules that are not in the catalog (every catalog optimizer — among
/// them the lecture's Adam with 1/min(t, N), RMSProp with ε inside √ and EMA momentum — is snapshotted by
/// <see cref="CatalogSnapshotTests"/>). Review a changed snapshot like code: it is what users step into.
/// </summary>
public sealed class SnapshotTests
{
    public static TheoryData<string, string> Declarations => new()
    {
        {
            "AdamPyTorch",
            """
            [Optimizer]
            [FirstMoment(Beta = 0.9)]
            [SecondMoment(Beta = 0.999)]
            [BiasCorrection(BiasCorrectionMode.Power)]
            [Epsilon(1e-8)]
            public partial class AdamPyTorch;
            """
        },
        {
            "SgdNesterovWeightDecay",
            """
            [Optimizer]
            [LearningRate(0.1)]
            [Momentum(0.9, Nesterov = true)]
            [WeightDecay(1e-4)]
            [Maximize]
            public partial class SgdNesterovWeightDecay;
            """
        },
        {
            "AdamPerExample",
            """
            [Optimizer]
            [LearningRate(1e-4, Units = BatchUnits.PerExample)]
            [FirstMoment(Length = 100, Units = BatchUnits.PerExample)]
            [SecondMoment(Length = 1000, Units = BatchUnits.PerExample)]
            [BiasCorrection(BiasCorrectionMode.Power)]
            [Epsilon(1e-8)]
            public partial class AdamPerExample;
            """
        },
        {
            "AdamPerExampleSquares",
            """
            [Optimizer]
            [FirstMoment(Beta = 0.9)]
            [SecondMoment(Beta = 0.999, Input = SecondMomentInput.PerExampleSquares)]
            [BiasCorrection(BiasCorrectionMode.Power)]
            [Epsilon(1e-8)]
            public partial class AdamPerExampleSquares;
            """
        },
    };

    [Theory]
    [MemberData(nameof(Declarations))]
    public void GeneratedCodeMatchesSnapshot(string name, string declaration)
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("using OptGen;\nnamespace Demo;\n\n" + declaration);

        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.Equal(2, run.Files.Count);
        Snapshot.VerifyAll(run.Files.OrderBy(f => f.Key)
            .Select(file => ($"{name}.{(file.Key.StartsWith("OptGen.Generated.", System.StringComparison.Ordinal) ? "Kernel" : "Optimizer")}", file.Value)));
    }
}
