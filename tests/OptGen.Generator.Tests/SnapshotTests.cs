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
        {
            "LambDeclared",
            """
            [Optimizer]
            [Hyperparameter("Lr", 1e-3)]
            [Hyperparameter("Beta1", 0.9)]
            [Hyperparameter("Beta2", 0.999)]
            [Hyperparameter("Eps", 1e-6)]
            [Hyperparameter("Wd", 0.01)]
            [State("m")]
            [State("v")]
            [StepScalar("bc1", "1 - pow(Beta1, t)")]
            [StepScalar("bc2", "1 - pow(Beta2, t)")]
            [Update("m = Beta1 * m + (1 - Beta1) * g")]
            [Update("v = Beta2 * v + (1 - Beta2) * g * g")]
            [Update("let r = (m / bc1) / (sqrt(v / bc2) + Eps) + Wd * p")]
            [Update("let trust = norm(p) > 0 ? (norm(r) > 0 ? norm(p) / norm(r) : 1) : 1")]
            [Update("p = p - Lr * trust * r")]
            public partial class LambDeclared;
            """
        },
        {
            // LAMB from building blocks: [TrustRatio] lowers to the same two tensor norms as LambDeclared's norm(p), norm(r).
            "LambAttribute",
            """
            [Optimizer]
            [FirstMoment(Beta = 0.9)]
            [SecondMoment(Beta = 0.999)]
            [BiasCorrection(BiasCorrectionMode.Power)]
            [Epsilon(1e-6)]
            [WeightDecay(0.01, Decoupled = true)]
            [TrustRatio]
            public partial class LambAttribute;
            """
        },
        {
            "FactoredDeclared",
            """
            [Optimizer]
            [Hyperparameter("Lr", 1e-2)]
            [Hyperparameter("Decay", -0.8)]
            [Hyperparameter("Beta1", 0.9)]
            [State("r")]
            [State("c")]
            [State("s")]
            [State("v")]
            [State("m")]
            [StepScalar("w", "pow(t, Decay)")]
            [Update("let gg = g * g + 1e-30")]
            [Update("r = lerp(r, row_mean(gg), w)")]
            [Update("c = lerp(c, col_mean(gg), w)")]
            [Update("s = lerp(s, mean(gg), w)")]
            [Update("v = lerp(v, block_mean(gg, 256), w)")]
            [Update("m = Beta1 * m + (1 - Beta1) * g / sqrt(r * c / s)")]
            [Update("p = p - Lr * (m + 0.001 * g / sqrt(v)) / max(1, row_maxabs(g))")]
            public partial class FactoredDeclared;
            """
        },
        {
            // mean(r) of the compact per-row r, reduced between the passes (m + n floats of state, no extra s).
            "FactoredMeanOfStateDeclared",
            """
            [Optimizer]
            [Hyperparameter("Lr", 1e-2)]
            [Hyperparameter("Decay", -0.8)]
            [State("r")]
            [State("c")]
            [StepScalar("w", "pow(t, Decay)")]
            [Update("let gg = g * g + 1e-30")]
            [Update("r = lerp(r, row_mean(gg), w)")]
            [Update("c = lerp(c, col_mean(gg), w)")]
            [Update("p = p - Lr * g / sqrt(r * c / mean(r)) / max(1, norm(c))")]
            public partial class FactoredMeanOfStateDeclared;
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
