// Optimizers with hyperparameters in per-example units (the lecture's batch-size sections), declared as a user would.

using OptGen;

namespace OptGen.Runtime.Tests;

/// <summary>Adam in per-example units: η′ for one example (η = B·η′), lengths in examples (N = max(1, N′/B)).</summary>
[Optimizer]
[LearningRate(1e-4, Units = BatchUnits.PerExample)]
[FirstMoment(Length = 100, Units = BatchUnits.PerExample)]
[SecondMoment(Length = 1000, Units = BatchUnits.PerExample)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
public partial class PerExampleAdam;

/// <summary>The same rule in per-step units: the reference the per-example one must equal at η = B·η′, N = max(1, N′/B).</summary>
[Optimizer]
[LearningRate(1e-4)]
[FirstMoment(Length = 100)]
[SecondMoment(Length = 1000)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
public partial class PerStepAdam;

/// <summary>Adam with the lecture's noise-dominated scaling η = √B·η′ (lengths per step).</summary>
[Optimizer]
[LearningRate(1e-3, Units = BatchUnits.PerExampleSquareRoot)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
public partial class SquareRootAdam;

/// <summary>
/// The lecture's "Putting It Together": EMA momentum p ← p − η·m with η = B·η′ and N_g = max(1, N′_g/B), which is
/// classic momentum with step B·η′/N_g.
/// </summary>
[Optimizer]
[LearningRate(0.01, Units = BatchUnits.PerExample)]
[FirstMoment(Length = 64, Units = BatchUnits.PerExample)]
public partial class PerExampleEmaMomentum;

/// <summary>PyTorch's heavy ball with its coefficient given per example (μ′ = 1 − 1/N′), decoupled weight decay on η = B·η′.</summary>
[Optimizer]
[LearningRate(0.01, Units = BatchUnits.PerExample)]
[Momentum(Length = 32, Units = BatchUnits.PerExample)]
[WeightDecay(0.01)]
public partial class PerExampleSgdMomentum;

/// <summary>The per-example EMA momentum as an expression rule: B and batchDecay.</summary>
[Optimizer]
[Hyperparameter("LearningRate", 0.01)]
[Hyperparameter("Beta1", 1 - (1.0 / 64))]
[State("m")]
[Update("m = lerp(m, g, 1 - batchDecay(Beta1))")]
[Update("p = p - B * LearningRate * m")]
public partial class PerExampleEmaExpression;

/// <summary>Adam averaging the batch mean of per-example squared gradients (the lecture's "Making Adam independent of B").</summary>
[Optimizer]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999, Input = SecondMomentInput.PerExampleSquares)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
public partial class PerExampleSquaresAdam;

/// <summary>The same rule as an expression rule, reading gsq.</summary>
[Optimizer]
[Hyperparameter("LearningRate", 1e-3)]
[Hyperparameter("Beta1", 0.9, Range = HyperparameterRange.UnitInterval)]
[Hyperparameter("Beta2", 0.999, Range = HyperparameterRange.UnitInterval)]
[Hyperparameter("Epsilon", 1e-8, Range = HyperparameterRange.Positive)]
[State("m")]
[State("v")]
[StepScalar("bc1", "1 - pow(Beta1, t)")]
[StepScalar("bc2", "1 - pow(Beta2, t)")]
[Update("m = lerp(m, g, 1 - Beta1)")]
[Update("v = lerp(v, gsq, 1 - Beta2)")]
[Update("p = p - LearningRate / bc1 * m / (sqrt(v / bc2) + Epsilon)")]
public partial class PerExampleSquaresAdamExpression;

/// <summary>Adagrad's sum over per-example squares.</summary>
[Optimizer]
[LearningRate(0.05)]
[SecondMoment(Kind = SecondMomentKind.Sum, Input = SecondMomentInput.PerExampleSquares)]
[Epsilon(1e-10)]
public partial class PerExampleSquaresAdagrad;
