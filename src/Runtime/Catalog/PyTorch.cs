// The built-in optimizers with PyTorch's semantics, declared with the same attributes a user writes.

namespace OptGen;

/// <summary>
/// <c>torch.optim.Adam</c>: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p − η·(m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + ε),
/// with L2 weight decay and maximize. Defaults as PyTorch: η = 1e-3, β = (0.9, 0.999), ε = 1e-8, λ = 0.
/// </summary>
[Optimizer(Name = "torch.optim.Adam")]
[LearningRate(1e-3)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[WeightDecay(0)]
[Maximize]
public sealed partial class Adam;

/// <summary>
/// <c>torch.optim.AdamW</c>: Adam with decoupled weight decay p ← p·(1 − ηλ). Defaults as PyTorch: η = 1e-3,
/// β = (0.9, 0.999), ε = 1e-8, λ = 1e-2.
/// </summary>
[Optimizer(Name = "torch.optim.AdamW")]
[LearningRate(1e-3)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[WeightDecay(1e-2, Decoupled = true)]
[Maximize]
public sealed partial class AdamW;

/// <summary><c>torch.optim.SGD</c> without momentum: p ← p − η·(g + λp).</summary>
[Optimizer(Name = "torch.optim.SGD")]
[LearningRate(1e-3)]
[WeightDecay(0)]
[Maximize]
public sealed partial class Sgd;

/// <summary>
/// <c>torch.optim.SGD</c> with momentum: b ← μb + (1 − τ)g (b₁ = g), p ← p − η·b. Defaults: η = 1e-3, μ = 0.9.
/// </summary>
[Optimizer(Name = "torch.optim.SGD(momentum)")]
[LearningRate(1e-3)]
[Momentum(0.9)]
[WeightDecay(0)]
[Maximize]
public sealed partial class SgdMomentum;

/// <summary><c>torch.optim.SGD</c> with Nesterov momentum: b ← μb + g (b₁ = g), p ← p − η·(g + μb).</summary>
[Optimizer(Name = "torch.optim.SGD(nesterov)")]
[LearningRate(1e-3)]
[Momentum(0.9, Nesterov = true)]
[WeightDecay(0)]
[Maximize]
public sealed partial class SgdNesterov;

/// <summary>
/// <c>torch.optim.RMSprop</c>: v ← αv + (1 − α)g², p ← p − η·g/(√v + ε). Defaults as PyTorch: η = 1e-2,
/// α = 0.99, ε = 1e-8.
/// </summary>
[Optimizer(Name = "torch.optim.RMSprop")]
[LearningRate(1e-2)]
[SecondMoment(Beta = 0.99, Name = "Alpha")]
[Epsilon(1e-8)]
[WeightDecay(0)]
[Maximize]
public sealed partial class RmsProp;
