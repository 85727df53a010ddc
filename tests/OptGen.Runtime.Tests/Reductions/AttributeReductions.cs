namespace OptGen.Runtime.Tests.Reductions;

/// <summary>LAMB declared with building-block attributes: Adam's moments and corrections, decoupled decay, [TrustRatio].</summary>
[Optimizer(Name = "Attribute LAMB")]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-6)]
[WeightDecay(0.01, Decoupled = true)]
[TrustRatio]
public sealed partial class AttributeLamb;

/// <summary>
/// LARS declared with attributes (docs/attributes.md's MyLars): L2 decay, the LARS trust ratio on the gradient, and the
/// paper's momentum with η inside the buffer (b ← μ·b + η·local·(g + λp), p ← p − b: MomentumStyle.Classic).
/// </summary>
[Optimizer(Name = "Attribute LARS")]
[WeightDecay(0.0005)]
[TrustRatio(Form = TrustRatioForm.Lars, Coefficient = 0.001)]
[Momentum(0.9, Style = MomentumStyle.Classic)]
public sealed partial class AttributeLars;

/// <summary>Adam-mini declared with attributes: one second moment per block of 16 consecutive elements.</summary>
[Optimizer(Name = "Attribute Adam-mini")]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999, Scope = MomentScope.Block, BlockLength = 16)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[WeightDecay(0.1, Decoupled = true)]
public sealed partial class AttributeAdamMini;

/// <summary>NovoGrad-like: Adam with one second moment per tensor (the tensor's mean of g²).</summary>
[Optimizer(Name = "Attribute tensor-moment Adam")]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.99, Scope = MomentScope.Tensor)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
public sealed partial class AttributeTensorMomentAdam;

/// <summary>Adam with one second moment per row of each matrix (a vector is one row).</summary>
[Optimizer(Name = "Attribute row-moment Adam")]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.99, Scope = MomentScope.Row)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[WeightDecay(0.01, Decoupled = true)]
public sealed partial class AttributeRowMomentAdam;

/// <summary>LAMB with a bounded trust ratio and L2 decay (which enters g, so r is the adaptive direction alone).</summary>
[Optimizer(Name = "Attribute bounded LAMB")]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.99)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-6)]
[TrustRatio(MaxRatio = 10)]
public sealed partial class AttributeBoundedLamb;

// Shared second moments over blocks of one element: each must be its catalog rule (per element), within float32
// rounding (AttributeReductionTests.BlocksOfOneAreTheElementWiseRule). They carry the catalog's attributes beside.

/// <summary>torch.optim.NAdam's attributes, the second moment shared over blocks of 1 (host state Πₜ in a two-pass rule).</summary>
[Optimizer]
[LearningRate(2e-3)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999, Scope = MomentScope.Block, BlockLength = 1)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[NesterovMomentumDecay(4e-3)]
[WeightDecay(0)]
[Maximize]
public sealed partial class BlockOfOneNAdam;

/// <summary>torch.optim.Adamax's attributes, the infinity norm shared over blocks of 1 (its max |g| is a maxabs reduction).</summary>
[Optimizer]
[LearningRate(2e-3)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999, Kind = SecondMomentKind.InfinityNorm, Scope = MomentScope.Block, BlockLength = 1)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[WeightDecay(0)]
[Maximize]
public sealed partial class BlockOfOneAdamax;

/// <summary>torch.optim.Adam(amsgrad=True)'s attributes over blocks of 1 (the running maximum is shared too).</summary>
[Optimizer]
[LearningRate(1e-3)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999, Scope = MomentScope.Block, BlockLength = 1)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[AmsGrad]
[WeightDecay(0)]
[Maximize]
public sealed partial class BlockOfOneAdamAmsGrad;

/// <summary>torch.optim.RAdam's attributes over blocks of 1 (ε before the correction, the rectification on the host).</summary>
[Optimizer]
[LearningRate(1e-3)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999, Scope = MomentScope.Block, BlockLength = 1)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8, BeforeBiasCorrection = true)]
[Rectified]
[WeightDecay(0)]
[Maximize]
public sealed partial class BlockOfOneRAdam;

/// <summary>The lecture's RMS Adagrad (s ← s + g², denominator √(s/t)) over blocks of 1.</summary>
[Optimizer]
[LearningRate(0.01)]
[SecondMoment(Kind = SecondMomentKind.Mean, Scope = MomentScope.Block, BlockLength = 1)]
public sealed partial class BlockOfOneAdagradRms;
