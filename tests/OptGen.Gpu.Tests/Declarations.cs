// Optimizers declared the way a user declares them, in a project that references ILGPU (through OptGen): the
// generator emits their GPU kernels too. They cover element operations the catalog does not use (max for AMSGrad
// and Adamax, a select for σ₁ = |g₁|, 0/0 := 0, centering, dampened momentum).

using OptGen;

namespace OptGen.Gpu.Tests;

/// <summary>Adam with AMSGrad: a running max.</summary>
[Optimizer]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[AmsGrad]
[WeightDecay(0)]
public partial class GpuAmsGradAdam;

/// <summary>RMSprop centered with momentum.</summary>
[Optimizer]
[LearningRate(0.01)]
[SecondMoment(Beta = 0.99, Centered = true, Name = "Alpha")]
[Epsilon(1e-8)]
[Momentum(0.9)]
[WeightDecay(0)]
public partial class GpuCenteredMomentumRmsProp;

/// <summary>SGD with dampened momentum, maximizing.</summary>
[Optimizer]
[LearningRate(0.1)]
[Momentum(0.9, Dampening = 0.5)]
[WeightDecay(0)]
[Maximize]
public partial class GpuDampenedSgd;

/// <summary>Adagrad with a non-zero initial accumulator.</summary>
[Optimizer]
[LearningRate(0.01, Decay = 0.01)]
[SecondMoment(Kind = SecondMomentKind.Sum, InitialValue = 0.1)]
[Epsilon(1e-10)]
[WeightDecay(0)]
public partial class GpuAdagrad;

/// <summary>The lecture's root-mean-square Adagrad: σ = √(S/t), 0/0 := 0.</summary>
[Optimizer]
[LearningRate(0.01)]
[SecondMoment(Kind = SecondMomentKind.Mean)]
public partial class GpuRmsAdagrad;

/// <summary>RMSProp on σ with σ₁ = |g₁|.</summary>
[Optimizer]
[LearningRate(0.01)]
[SecondMoment(Beta = 0.9, Start = MomentStart.FirstSample)]
public partial class GpuFirstSampleRmsProp;

/// <summary>Adamax: an infinity-norm second moment.</summary>
[Optimizer]
[LearningRate(0.002)]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999, Kind = SecondMomentKind.InfinityNorm)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
[WeightDecay(0)]
public partial class GpuAdamax;

/// <summary>
/// Stochastic gradient Langevin dynamics with two randn() draws and a rand() per element: the GPU kernel must draw the same
/// counter-based numbers (from Seed, t and the element's index) as the CPU SIMD path.
/// </summary>
[Optimizer]
[Hyperparameter("LearningRate", 0.01, Range = HyperparameterRange.NonNegative)]
[Hyperparameter("Temperature", 0.5, Range = HyperparameterRange.NonNegative)]
[Hyperparameter("Seed", 11.0, Range = HyperparameterRange.NonNegative)]
[State("noise")]
[Update("noise = randn() + rand()")]
[Update("p = p - LearningRate * g + sqrt(2 * LearningRate * Temperature) * randn() + 0.001 * noise")]
public partial class GpuLangevin;

/// <summary>Adam in per-example units (η = B·η′, N = max(1, N′/B)): the GPU kernel factory takes the batch size.</summary>
[Optimizer]
[LearningRate(1e-4, Units = BatchUnits.PerExample)]
[FirstMoment(Length = 100, Units = BatchUnits.PerExample)]
[SecondMoment(Length = 1000, Units = BatchUnits.PerExample)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
public partial class GpuPerExampleAdam;

/// <summary>Adam of per-example squared gradients (internal: the generic parity tests step without squares; BatchSizeGpuTests covers it).</summary>
[Optimizer]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999, Input = SecondMomentInput.PerExampleSquares)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
internal partial class GpuPerExampleSquaresAdam;
