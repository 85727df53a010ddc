// Built-in optimizers declared as expression rules (docs/expressions.md): rules the building blocks cannot
// express, written as per-element statements that the generator parses into the same fused kernels.

namespace OptGen;

/// <summary>
/// Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"): c = β₁m + (1 − β₁)g,
/// p ← p − η·(sign(c) + λp), m ← β₂m + (1 − β₂)g. Defaults as the paper: η = 1e-4, β = (0.9, 0.99), λ = 0.
/// </summary>
[Optimizer(Name = "Lion")]
[Hyperparameter("LearningRate", 1e-4, Range = HyperparameterRange.NonNegative)]
[Hyperparameter("Beta1", 0.9, Range = HyperparameterRange.UnitInterval)]
[Hyperparameter("Beta2", 0.99, Range = HyperparameterRange.UnitInterval)]
[Hyperparameter("WeightDecay", 0.0, Range = HyperparameterRange.NonNegative)]
[State("m", Name = "Momentum")]
[Update("let c = lerp(m, g, 1 - Beta1)")]
[Update("p = p - LearningRate * (sign(c) + WeightDecay * p)")]
[Update("m = lerp(m, g, 1 - Beta2)")]
public sealed partial class Lion;

/// <summary>
/// AdaBelief (Zhuang et al., 2020): m ← β₁m + (1 − β₁)g, s ← β₂s + (1 − β₂)(g − m)² + ε,
/// p ← p − η·(m/(1 − β₁ᵗ)) / (√(s/(1 − β₂ᵗ)) + ε). Defaults as adabelief-pytorch: η = 1e-3, β = (0.9, 0.999), ε = 1e-16.
/// </summary>
[Optimizer(Name = "AdaBelief")]
[Hyperparameter("LearningRate", 1e-3, Range = HyperparameterRange.NonNegative)]
[Hyperparameter("Beta1", 0.9, Range = HyperparameterRange.UnitInterval)]
[Hyperparameter("Beta2", 0.999, Range = HyperparameterRange.UnitInterval)]
[Hyperparameter("Epsilon", 1e-16, Range = HyperparameterRange.Positive)]
[State("m", Name = "FirstMoment")]
[State("s", Name = "BeliefVariance")]
[StepScalar("bc1", "1 - pow(Beta1, t)")]
[StepScalar("bc2", "sqrt(1 - pow(Beta2, t))")]
[Update("m = Beta1 * m + (1 - Beta1) * g")]
[Update("let d = g - m")]
[Update("s = Beta2 * s + (1 - Beta2) * d * d + Epsilon")]
[Update("p = p - LearningRate / bc1 * (m / (sqrt(s) / bc2 + Epsilon))")]
public sealed partial class AdaBelief;

/// <summary>
/// signSGD with momentum (Signum; Bernstein et al., 2018): m ← βm + (1 − β)g, p ← p − η·sign(m).
/// Defaults: η = 1e-3, β = 0.9.
/// </summary>
[Optimizer(Name = "Signum")]
[Hyperparameter("LearningRate", 1e-3, Range = HyperparameterRange.NonNegative)]
[Hyperparameter("Momentum", 0.9, Range = HyperparameterRange.UnitInterval)]
[State("m", Name = "MomentumBuffer")]
[Update("m = Momentum * m + (1 - Momentum) * g")]
[Update("p = p - LearningRate * sign(m)")]
public sealed partial class Signum;

/// <summary>
/// Adan (Xie et al., 2022), three moments over g and the gradient difference Δ = g − g_prev (Δ₁ = 0):
/// m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)Δ, n ← β₃n + (1 − β₃)(g + β₂Δ)²,
/// p ← (p − η·(m/(1 − β₁ᵗ) + β₂v/(1 − β₂ᵗ)) / (√(n/(1 − β₃ᵗ)) + ε)) / (1 + ηλ), as the official implementation.
/// Defaults: η = 1e-3, β = (0.98, 0.92, 0.99), ε = 1e-8, λ = 0.
/// </summary>
[Optimizer(Name = "Adan")]
[Hyperparameter("LearningRate", 1e-3, Range = HyperparameterRange.NonNegative)]
[Hyperparameter("Beta1", 0.98, Range = HyperparameterRange.UnitInterval)]
[Hyperparameter("Beta2", 0.92, Range = HyperparameterRange.UnitInterval)]
[Hyperparameter("Beta3", 0.99, Range = HyperparameterRange.UnitInterval)]
[Hyperparameter("Epsilon", 1e-8, Range = HyperparameterRange.Positive)]
[Hyperparameter("WeightDecay", 0.0, Range = HyperparameterRange.NonNegative)]
[State("m", Name = "FirstMoment")]
[State("v", Name = "DifferenceMoment")]
[State("n", Name = "SecondMoment")]
[State("gprev", Name = "PreviousGradient")]
[StepScalar("bc1", "1 - pow(Beta1, t)")]
[StepScalar("bc2", "1 - pow(Beta2, t)")]
[StepScalar("bc3", "sqrt(1 - pow(Beta3, t))")]
[Update("let diff = t == 1 ? 0 : g - gprev")]
[Update("gprev = g")]
[Update("m = Beta1 * m + (1 - Beta1) * g")]
[Update("v = Beta2 * v + (1 - Beta2) * diff")]
[Update("let u = g + Beta2 * diff")]
[Update("n = Beta3 * n + (1 - Beta3) * u * u")]
[Update("let dir = (m / bc1 + Beta2 * v / bc2) / (sqrt(n) / bc3 + Epsilon)")]
[Update("p = (p - LearningRate * dir) / (1 + LearningRate * WeightDecay)")]
public sealed partial class Adan;

/// <summary>
/// <c>torch.optim.Adam</c> (without maximize) re-declared as an expression rule, in the same operation order as
/// the building-block <see cref="Adam"/>, so the two give bit-identical results.
/// </summary>
[Optimizer(Name = "Adam (expression rule)")]
[Hyperparameter("LearningRate", 1e-3, Range = HyperparameterRange.NonNegative)]
[Hyperparameter("Beta1", 0.9, Range = HyperparameterRange.UnitInterval)]
[Hyperparameter("Beta2", 0.999, Range = HyperparameterRange.UnitInterval)]
[Hyperparameter("Epsilon", 1e-8, Range = HyperparameterRange.Positive)]
[Hyperparameter("WeightDecay", 0.0, Range = HyperparameterRange.NonNegative)]
[State("m", Name = "FirstMoment")]
[State("v", Name = "SecondMoment")]
[StepScalar("bc1", "1 - pow(Beta1, t)")]
[StepScalar("bc2", "sqrt(1 - pow(Beta2, t))")]
[Update("let d = g + WeightDecay * p")]
[Update("m = Beta1 * m + (1 - Beta1) * d")]
[Update("v = Beta2 * v + (1 - Beta2) * d * d")]
[Update("let denom = sqrt(v) / bc2 + Epsilon")]
[Update("p = p - LearningRate / bc1 * (m / denom)")]
public sealed partial class AdamExpression;
