// The lecture forms (TTIC 31230 and the Adagrad/RMSProp/Adam notes), declared with attributes.

namespace OptGen;

/// <summary>The lecture's classic momentum: v ← (1 − 1/N)v + ηg, Φ ← Φ − v. Defaults N = 10, η = 0.01.</summary>
[Optimizer(Name = "lecture.classic_momentum")]
[LearningRate(0.01)]
[Momentum(Length = 10, Style = MomentumStyle.Classic)]
public sealed partial class ClassicMomentum;

/// <summary>The lecture's EMA momentum: μ ← (1 − 1/N)μ + (1/N)g, Φ ← Φ − η′μ. Defaults N = 10, η′ = 0.1.</summary>
[Optimizer(Name = "lecture.ema_momentum")]
[LearningRate(0.1)]
[FirstMoment(Length = 10)]
public sealed partial class EmaMomentum;

/// <summary>The lecture's RMSProp with ε inside the root: s ← (1 − 1/N)s + (1/N)g², Φ ← Φ − ηg/√(s + ε).</summary>
[Optimizer(Name = "lecture.rmsprop_eps_inside")]
[LearningRate(0.01)]
[SecondMoment(Length = 100)]
[Epsilon(1e-8, Placement = EpsilonPlacement.InsideSqrt)]
public sealed partial class RmsPropEpsilonInside;

/// <summary>The lecture's RMSProp with ε outside the root: Φ ← Φ − ηg/(√s + ε).</summary>
[Optimizer(Name = "lecture.rmsprop_eps_outside")]
[LearningRate(0.01)]
[SecondMoment(Length = 100)]
[Epsilon(1e-8)]
public sealed partial class RmsPropEpsilonOutside;

/// <summary>
/// The lecture's Adam with 1/min(t, N) averaging: μ ← (1 − c)μ + c·g, c = 1/min(t, N_g); s likewise with N_s;
/// Φ ← Φ − ημ/(√s + ε). Defaults N_g = 10, N_s = 1000.
/// </summary>
[Optimizer(Name = "lecture.adam_min_t")]
[LearningRate(1e-3)]
[FirstMoment(Length = 10)]
[SecondMoment(Length = 1000)]
[BiasCorrection(BiasCorrectionMode.MinT)]
[Epsilon(1e-8)]
public sealed partial class AdamMinT;

/// <summary>
/// The lecture's Adam with decoupled ε: η = ε·η₀ gives Φ ← Φ − η₀μ/(1 + √s/ε), which tends to SGD as ε → ∞.
/// </summary>
[Optimizer(Name = "lecture.adam_decoupled_eps")]
[LearningRate(0.01)]
[FirstMoment(Length = 10)]
[SecondMoment(Length = 1000)]
[BiasCorrection(BiasCorrectionMode.MinT)]
[Epsilon(1e-3, Placement = EpsilonPlacement.Decoupled)]
public sealed partial class AdamDecoupledEpsilon;

/// <summary>
/// The lecture's root-mean-square Adagrad: S ← S + g², σ = √(S/t), Φ ← Φ − η·g/σ with 0/0 := 0 (no ε).
/// Default η = 0.01.
/// </summary>
[Optimizer(Name = "lecture.adagrad_rms")]
[LearningRate(0.01)]
[SecondMoment(Kind = SecondMomentKind.Mean)]
public sealed partial class AdagradRms;

/// <summary>
/// The notes' RMSProp on σ: σ₁ = |g₁|, σ ← √(α·σ² + (1 − α)·g²) for t ≥ 2, Φ ← Φ − η·g/σ with 0/0 := 0 (no ε).
/// Stored as s = σ² (an average of g² that starts from the first sample); α is the <c>Alpha</c> property.
/// Defaults α = 0.9, η = 0.01.
/// </summary>
[Optimizer(Name = "lecture.rmsprop_alpha")]
[LearningRate(0.01)]
[SecondMoment(Beta = 0.9, Start = MomentStart.FirstSample, Name = "Alpha")]
public sealed partial class RmsPropAlpha;
