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

/// <summary>A rule of 17 state buffers, more than the blockwise kernel stages in shared memory (16): the GPU refuses state per tensor for it.</summary>
[Optimizer]
[Hyperparameter("LearningRate", 1e-3, Range = HyperparameterRange.NonNegative)]
[State("s0")]
[State("s1")]
[State("s2")]
[State("s3")]
[State("s4")]
[State("s5")]
[State("s6")]
[State("s7")]
[State("s8")]
[State("s9")]
[State("s10")]
[State("s11")]
[State("s12")]
[State("s13")]
[State("s14")]
[State("s15")]
[State("s16")]
[Update("s0 = 0.500 * s0 + g")]
[Update("s1 = 0.525 * s1 + g")]
[Update("s2 = 0.550 * s2 + g")]
[Update("s3 = 0.575 * s3 + g")]
[Update("s4 = 0.600 * s4 + g")]
[Update("s5 = 0.625 * s5 + g")]
[Update("s6 = 0.650 * s6 + g")]
[Update("s7 = 0.675 * s7 + g")]
[Update("s8 = 0.700 * s8 + g")]
[Update("s9 = 0.725 * s9 + g")]
[Update("s10 = 0.750 * s10 + g")]
[Update("s11 = 0.775 * s11 + g")]
[Update("s12 = 0.800 * s12 + g")]
[Update("s13 = 0.825 * s13 + g")]
[Update("s14 = 0.850 * s14 + g")]
[Update("s15 = 0.875 * s15 + g")]
[Update("s16 = 0.900 * s16 + g")]
[Update("p = p - LearningRate * (s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9 + s10 + s11 + s12 + s13 + s14 + s15 + s16)")]
internal partial class GpuSeventeenStates;
