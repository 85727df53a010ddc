using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>The batch-size vocabulary's diagnostics (per-example units, per-example squares), each at its argument.</summary>
public sealed partial class DiagnosticLocationTests
{
    [Fact]
    public void OPTG0050_SquareRootLength() =>
        AssertMarked("[Optimizer] [FirstMoment(Length = 10, [|Units = BatchUnits.PerExampleSquareRoot|])] partial class RootLength;", "OPTG0050");

    [Fact]
    public void OPTG0050_SumHasNoLength() =>
        AssertMarked("[Optimizer] [SecondMoment(Kind = SecondMomentKind.Sum, [|Units = BatchUnits.PerExample|])] [Epsilon(1e-10)] partial class SumPerExample;", "OPTG0050");

    [Fact]
    public void OPTG0050_MomentumSquareRoot() =>
        AssertMarked("[Optimizer] [Momentum(Length = 10, [|Units = BatchUnits.PerExampleSquareRoot|])] partial class RootMomentum;", "OPTG0050");

    [Fact]
    public void OPTG0050_NAdamFirstMomentPerExample() =>
        AssertMarked(
            """
            [Optimizer]
            [FirstMoment(Beta = 0.9, [|Units = BatchUnits.PerExample|])]
            [SecondMoment(Beta = 0.999)]
            [BiasCorrection(BiasCorrectionMode.Power)]
            [Epsilon(1e-8)]
            [NesterovMomentumDecay(4e-3)]
            partial class NAdamPerExample;
            """,
            "OPTG0050");

    [Fact]
    public void OPTG0051_InfinityNormOfSquares() =>
        AssertMarked(
            "[Optimizer] [FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999, Kind = SecondMomentKind.InfinityNorm, [|Input = SecondMomentInput.PerExampleSquares|])] [Epsilon(1e-8)] partial class MaxOfSquares;",
            "OPTG0051");

    [Fact]
    public void BatchUnitsOutOfTheEnumAreRefused() =>
        AssertMarked("[Optimizer] [LearningRate(0.1, [|Units = (BatchUnits)7|])] partial class Seven;", "OPTG0015");

    [Fact]
    public void AHyperparameterNamedBatchSizeIsRefused() =>
        AssertMarked("[Optimizer] [Hyperparameter(\"[|BatchSize|]\", 1.0)] [Update(\"p = p - BatchSize * g\")] partial class Named;", "OPTG0109");
}
