// Optimizers declared the way a user declares them; the generator runs on this project as an analyzer.

using OptGen;

namespace OptGen.Runtime.Tests;

/// <summary>The example: Adam in the lecture's vocabulary, lengths instead of betas.</summary>
[Optimizer]
[FirstMoment(Length = 10)]
[SecondMoment(Length = 1000)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8, Placement = EpsilonPlacement.OutsideSqrt)]
public partial class MyAdam;

/// <summary>Adam with AMSGrad, as torch.optim.Adam(amsgrad=True).</summary>
[Optimizer]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[AmsGrad]
[WeightDecay(0)]
public partial class AmsGradAdam;

/// <summary>The Adam paper's "efficient" form: ε before the bias correction.</summary>
[Optimizer]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8, BeforeBiasCorrection = true)]
public partial class PaperAdam;

/// <summary>Adam with ε inside the root: √(v/(1 − β₂ᵗ) + ε), the correction applied to v itself.</summary>
[Optimizer]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-6, Placement = EpsilonPlacement.InsideSqrt)]
public partial class AdamEpsilonInside;

/// <summary>Adam with the paper's bias correction and the lecture's decoupled ε: η₀·m̂/(1 + √v̂/ε).</summary>
[Optimizer]
[LearningRate(0.01)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.99)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(0.05, Placement = EpsilonPlacement.Decoupled)]
public partial class AdamDecoupledEpsilonPower;

/// <summary>RMSprop centered with momentum, as torch.optim.RMSprop(centered=True, momentum=0.9).</summary>
[Optimizer]
[LearningRate(0.01)]
[SecondMoment(Beta = 0.99, Centered = true, Name = "Alpha")]
[Epsilon(1e-8)]
[Momentum(0.9)]
[WeightDecay(0)]
public partial class CenteredMomentumRmsProp;

/// <summary>SGD with dampened momentum.</summary>
[Optimizer]
[LearningRate(0.1)]
[Momentum(0.9, Dampening = 0.5)]
[WeightDecay(0)]
[Maximize]
public partial class DampenedSgd;

/// <summary>Adagrad, as torch.optim.Adagrad.</summary>
[Optimizer]
[LearningRate(0.01, Decay = 0.01)]
[SecondMoment(Kind = SecondMomentKind.Sum, InitialValue = 0.1)]
[Epsilon(1e-10)]
[WeightDecay(0)]
public partial class MyAdagrad;

/// <summary>The lecture's root-mean-square Adagrad: σ = √(S/t), 0/0 := 0.</summary>
[Optimizer]
[LearningRate(0.01)]
[SecondMoment(Kind = SecondMomentKind.Mean)]
public partial class RmsAdagrad;

/// <summary>The notes' RMSProp on σ with σ₁ = |g₁|.</summary>
[Optimizer]
[LearningRate(0.01)]
[SecondMoment(Beta = 0.9, Start = MomentStart.FirstSample)]
public partial class FirstSampleRmsProp;

/// <summary>The lecture's "dimensionally correct" RMSProp: divide by s + ε, not √s + ε.</summary>
[Optimizer]
[LearningRate(0.001)]
[SecondMoment(Length = 100, Power = 1)]
[Epsilon(1e-3)]
public partial class DimensionalRmsProp;

/// <summary>Adamax, as torch.optim.Adamax.</summary>
[Optimizer]
[LearningRate(0.002)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999, Kind = SecondMomentKind.InfinityNorm)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[WeightDecay(0)]
public partial class MyAdamax;

/// <summary>RAdam in the paper's form: rectify when ρₜ &gt; 4, ε added after the bias correction.</summary>
[Optimizer]
[LearningRate(0.01)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.99)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-6)]
[Rectified(Threshold = 4)]
public partial class PaperRAdam;
