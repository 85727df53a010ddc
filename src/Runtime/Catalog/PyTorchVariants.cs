// Structural variants of the PyTorch optimizers: a torch.optim flag that changes the rule's structure (amsgrad,
// centered, momentum > 0 for RMSprop, decoupled_weight_decay for NAdam and RAdam) is a separate attribute
// declaration here, so that each kernel does only the work its rule needs. Numeric arguments (betas, eps,
// weight_decay, maximize, …) stay settable properties.

namespace OptGen;

/// <summary>
/// <c>torch.optim.Adam(amsgrad=True)</c>: Adam whose denominator uses the running maximum v̂ ← max(v̂, v) of the raw
/// second moment: p ← p − η·(m/(1 − β₁ᵗ)) / (√(v̂/(1 − β₂ᵗ)) + ε). Defaults as PyTorch: η = 1e-3,
/// β = (0.9, 0.999), ε = 1e-8, λ = 0 (L2).
/// </summary>
[Optimizer(Name = "torch.optim.Adam(amsgrad)")]
[LearningRate(1e-3)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[AmsGrad]
[WeightDecay(0)]
[Maximize]
public sealed partial class AdamAmsGrad;

/// <summary>
/// <c>torch.optim.AdamW(amsgrad=True)</c>: AdamW (decoupled weight decay p ← p·(1 − ηλ)) with AMSGrad's
/// v̂ ← max(v̂, v). Defaults as PyTorch: η = 1e-3, β = (0.9, 0.999), ε = 1e-8, λ = 1e-2.
/// </summary>
[Optimizer(Name = "torch.optim.AdamW(amsgrad)")]
[LearningRate(1e-3)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[AmsGrad]
[WeightDecay(1e-2, Decoupled = true)]
[Maximize]
public sealed partial class AdamWAmsGrad;

/// <summary>
/// <c>torch.optim.NAdam(decoupled_weight_decay=True)</c> (PyTorch ≥ 2.1, "NAdamW"): <see cref="NAdam"/> with decoupled
/// weight decay p ← p·(1 − ηλ) before the update, which then uses the raw gradient (η is the learning rate alone, not
/// the μ-product step sizes). Defaults as PyTorch: η = 2e-3, β = (0.9, 0.999), ε = 1e-8, ψ = 4e-3, λ = 0.
/// </summary>
[Optimizer(Name = "torch.optim.NAdam(decoupled_weight_decay)")]
[LearningRate(2e-3)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[NesterovMomentumDecay(4e-3)]
[WeightDecay(0, Decoupled = true)]
[Maximize]
public sealed partial class NAdamW;

/// <summary>
/// <c>torch.optim.RAdam(decoupled_weight_decay=True)</c> (PyTorch ≥ 2.1, "RAdamW"): <see cref="RAdam"/> with decoupled
/// weight decay p ← p·(1 − ηλ) before the (rectified or unrectified) update, which then uses the raw gradient.
/// Defaults as PyTorch: η = 1e-3, β = (0.9, 0.999), ε = 1e-8, λ = 0.
/// </summary>
[Optimizer(Name = "torch.optim.RAdam(decoupled_weight_decay)")]
[LearningRate(1e-3)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8, BeforeBiasCorrection = true)]
[Rectified]
[WeightDecay(0, Decoupled = true)]
[Maximize]
public sealed partial class RAdamW;

/// <summary>
/// <c>torch.optim.RMSprop(centered=True)</c>: v ← αv + (1 − α)g², ḡ ← αḡ + (1 − α)g,
/// p ← p − η·g/(√(v − ḡ²) + ε). Defaults as PyTorch: η = 1e-2, α = 0.99, ε = 1e-8.
/// </summary>
[Optimizer(Name = "torch.optim.RMSprop(centered)")]
[LearningRate(1e-2)]
[SecondMoment(Beta = 0.99, Centered = true, Name = "Alpha")]
[Epsilon(1e-8)]
[WeightDecay(0)]
[Maximize]
public sealed partial class RmsPropCentered;

/// <summary>
/// <c>torch.optim.RMSprop(momentum=μ)</c>: v ← αv + (1 − α)g², b ← μb + g/(√v + ε), p ← p − η·b.
/// Defaults: η = 1e-2, α = 0.99, ε = 1e-8 as PyTorch, and μ = 0.9 (PyTorch's default 0 is <see cref="RmsProp"/>).
/// </summary>
[Optimizer(Name = "torch.optim.RMSprop(momentum)")]
[LearningRate(1e-2)]
[SecondMoment(Beta = 0.99, Name = "Alpha")]
[Epsilon(1e-8)]
[Momentum(0.9)]
[WeightDecay(0)]
[Maximize]
public sealed partial class RmsPropMomentum;

/// <summary>
/// <c>torch.optim.RMSprop(centered=True, momentum=μ)</c>: v ← αv + (1 − α)g², ḡ ← αḡ + (1 − α)g,
/// b ← μb + g/(√(v − ḡ²) + ε), p ← p − η·b. Defaults: η = 1e-2, α = 0.99, ε = 1e-8, μ = 0.9.
/// </summary>
[Optimizer(Name = "torch.optim.RMSprop(centered, momentum)")]
[LearningRate(1e-2)]
[SecondMoment(Beta = 0.99, Centered = true, Name = "Alpha")]
[Epsilon(1e-8)]
[Momentum(0.9)]
[WeightDecay(0)]
[Maximize]
public sealed partial class RmsPropCenteredMomentum;
