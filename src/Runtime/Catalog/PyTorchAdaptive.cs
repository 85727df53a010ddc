// The rest of torch.optim's per-parameter adaptive optimizers, declared with attributes.

namespace OptGen;

/// <summary>
/// <c>torch.optim.Adagrad</c>: s ← s + g² (s₀ = initial_accumulator_value), ηₜ = η/(1 + (t − 1)·lr_decay),
/// p ← p − ηₜ·g/(√s + ε), with L2 weight decay and maximize. Defaults as PyTorch: η = 1e-2, lr_decay = 0,
/// s₀ = 0, ε = 1e-10. Set <c>InitialAccumulatorValue</c> before the first step (or call <c>Reset</c> after).
/// </summary>
[Optimizer(Name = "torch.optim.Adagrad")]
[LearningRate(1e-2, Decay = 0)]
[SecondMoment(Kind = SecondMomentKind.Sum, InitialValue = 0)]
[Epsilon(1e-10)]
[WeightDecay(0)]
[Maximize]
public sealed partial class Adagrad;

/// <summary>
/// <c>torch.optim.Adamax</c>: m ← β₁m + (1 − β₁)g, u ← max(β₂u, |g| + ε), p ← p − η/(1 − β₁ᵗ)·m/u, with L2
/// weight decay and maximize. Defaults as PyTorch: η = 2e-3, β = (0.9, 0.999), ε = 1e-8.
/// </summary>
[Optimizer(Name = "torch.optim.Adamax")]
[LearningRate(2e-3)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999, Kind = SecondMomentKind.InfinityNorm)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[WeightDecay(0)]
[Maximize]
public sealed partial class Adamax;

/// <summary>
/// <c>torch.optim.NAdam</c> with PyTorch 2 semantics: μₜ = β₁(1 − ½·0.96^(tψ)), Πₜ = μ₁⋯μₜ (carried across
/// steps), m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², d = √(v/(1 − β₂ᵗ)) + ε,
/// p ← p − η(1 − μₜ)/(1 − Πₜ)·g/d − η·μₜ₊₁/(1 − Πₜμₜ₊₁)·m/d, with L2 weight decay and maximize (PyTorch 2). Defaults as PyTorch:
/// η = 2e-3, β = (0.9, 0.999), ε = 1e-8, ψ = 4e-3.
/// </summary>
[Optimizer(Name = "torch.optim.NAdam")]
[LearningRate(2e-3)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[NesterovMomentumDecay(4e-3)]
[WeightDecay(0)]
[Maximize]
public sealed partial class NAdam;

/// <summary>
/// <c>torch.optim.RAdam</c>: Adam's moments; with ρ∞ = 2/(1 − β₂) − 1 and ρₜ = ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ), a step with
/// ρₜ &gt; 5 is p ← p − η·rₜ·√(1 − β₂ᵗ)/(1 − β₁ᵗ)·m/(√v + ε), any other p ← p − η·m/(1 − β₁ᵗ); L2 weight decay and maximize (PyTorch 2).
/// Defaults as PyTorch: η = 1e-3, β = (0.9, 0.999), ε = 1e-8.
/// </summary>
[Optimizer(Name = "torch.optim.RAdam")]
[LearningRate(1e-3)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8, BeforeBiasCorrection = true)]
[Rectified]
[WeightDecay(0)]
[Maximize]
public sealed partial class RAdam;

/// <summary>
/// <c>torch.optim.Adadelta</c>: v ← ρv + (1 − ρ)g², u = √(Δ + ε)/√(v + ε)·g, Δ ← ρΔ + (1 − ρ)u², p ← p − η·u,
/// with L2 weight decay and maximize. Defaults as PyTorch: η = 1, ρ = 0.9, ε = 1e-6.
/// </summary>
[Optimizer(Name = "torch.optim.Adadelta")]
[LearningRate(1.0)]
[SecondMoment(Beta = 0.9, Name = "Rho")]
[Epsilon(1e-6, Placement = EpsilonPlacement.InsideSqrt)]
[DeltaAccumulator]
[WeightDecay(0)]
[Maximize]
public sealed partial class Adadelta;
