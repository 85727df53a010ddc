// Optimizers the demos declare themselves, exactly as a user would: the generator emits their fused kernels.

namespace OptGen.Samples.Theory;

/// <summary>A running average of length 50 with no bias correction: m ← (1 − 1/50)m + (1/50)g, p ← p − η·m.</summary>
[Optimizer(Name = "demo.ema_uncorrected")]
[LearningRate(1)]
[FirstMoment(Length = BiasCorrectionDemo.Length)]
public sealed partial class EmaUncorrected;

/// <summary>The same average with Adam's correction: p ← p − η·m/(1 − βᵗ), β = 1 − 1/50.</summary>
[Optimizer(Name = "demo.ema_power")]
[LearningRate(1)]
[FirstMoment(Length = BiasCorrectionDemo.Length)]
[BiasCorrection(BiasCorrectionMode.Power)]
public sealed partial class EmaPowerCorrected;

/// <summary>The lecture's correction: m ← (1 − 1/min(t, 50))m + (1/min(t, 50))g, p ← p − η·m.</summary>
[Optimizer(Name = "demo.ema_min_t")]
[LearningRate(1)]
[FirstMoment(Length = BiasCorrectionDemo.Length)]
[BiasCorrection(BiasCorrectionMode.MinT)]
public sealed partial class EmaMinT;

/// <summary>The exact average of everything seen, 1/t weights (1/min(t, N) with N beyond any run).</summary>
[Optimizer(Name = "demo.cumulative_average")]
[LearningRate(1)]
[FirstMoment(Length = 1e9)]
[BiasCorrection(BiasCorrectionMode.MinT)]
public sealed partial class CumulativeAverage;

/// <summary>
/// Stochastic gradient Langevin dynamics as an expression rule: Φ ← Φ − η·g + √(2ηT)·ξ, with ξ a standard normal
/// drawn inside the fused kernel by <c>randn()</c> (counter-based: a pure function of Seed, t and the element's
/// global index, so every SIMD width, thread count and the GPU kernel draw the same numbers).
/// </summary>
[Optimizer(Name = "demo.sgld")]
[Hyperparameter("LearningRate", 0.01, Range = HyperparameterRange.NonNegative)]
[Hyperparameter("Temperature", 1.0, Range = HyperparameterRange.NonNegative)]
[Hyperparameter("Seed", 0.0, Range = HyperparameterRange.NonNegative)]
[Update("p = p - LearningRate * g + sqrt(2 * LearningRate * Temperature) * randn()")]
public sealed partial class SgldRule;

/// <summary>
/// Adam in the lecture's batch-independent terms: η′ per example (η = B·η′), lengths in examples
/// (N = max(1, N′/B)), and the second moment averaging the batch mean of per-example squared gradients, so s
/// estimates μ² + σ² whatever B (the lecture's "Making Adam independent of B").
/// </summary>
[Optimizer(Name = "demo.adam_per_example_squares")]
[LearningRate(1e-4, Units = BatchUnits.PerExample)]
[FirstMoment(Length = BatchInvarianceDemo.FirstMomentExamples, Units = BatchUnits.PerExample)]
[SecondMoment(Length = BatchInvarianceDemo.SecondMomentExamples, Units = BatchUnits.PerExample, Input = SecondMomentInput.PerExampleSquares)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-12)]
public sealed partial class BatchInvariantAdam;

/// <summary>Standard Adam (s averages ĝ², which estimates μ² + σ²/B) with the same per-example units: η = B·η′, N = max(1, N′/B).</summary>
[Optimizer(Name = "demo.adam_linear_scaling")]
[LearningRate(1e-4, Units = BatchUnits.PerExample)]
[FirstMoment(Length = BatchInvarianceDemo.FirstMomentExamples, Units = BatchUnits.PerExample)]
[SecondMoment(Length = BatchInvarianceDemo.SecondMomentExamples, Units = BatchUnits.PerExample)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-12)]
public sealed partial class LinearScaledAdam;

/// <summary>Standard Adam with the lecture's noise-dominated rule η = √B·η₀ (lengths in examples).</summary>
[Optimizer(Name = "demo.adam_square_root_scaling")]
[LearningRate(1e-4, Units = BatchUnits.PerExampleSquareRoot)]
[FirstMoment(Length = BatchInvarianceDemo.FirstMomentExamples, Units = BatchUnits.PerExample)]
[SecondMoment(Length = BatchInvarianceDemo.SecondMomentExamples, Units = BatchUnits.PerExample)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-12)]
public sealed partial class SquareRootScaledAdam;
