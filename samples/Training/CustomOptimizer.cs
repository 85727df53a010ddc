using OptGen;

namespace OptGen.Samples.Training;

/// <summary>
/// A user-declared optimizer (not in the catalog): the lecture's Adam with 1/min(t, N) running averages of length
/// 10 and 1000, ε inside the square root, and decoupled weight decay. The generator turns these attributes into a
/// fused SIMD kernel at build time; see obj/generated after a build.
/// </summary>
[Optimizer(Name = "sample.lecture_adamw")]
[LearningRate(0.01)]
[FirstMoment(Length = 10)]
[SecondMoment(Length = 1000)]
[BiasCorrection(BiasCorrectionMode.MinT)]
[Epsilon(1e-8, Placement = EpsilonPlacement.InsideSqrt)]
[WeightDecay(1e-4, Decoupled = true)]
public sealed partial class LectureAdamW;

/// <summary>
/// Adam whose second moment averages the batch mean of per-example squared gradients rather than the square of the
/// batch-mean gradient (the lecture's "Making Adam independent of B"); the trainer computes them with
/// <see cref="Mlp.BatchGradient"/>.
/// </summary>
[Optimizer]
[FirstMoment(Beta = 0.9)]
[SecondMoment(Beta = 0.999, Input = SecondMomentInput.PerExampleSquares)]
[BiasCorrection(BiasCorrectionMode.Power)]
[Epsilon(1e-8)]
public partial class PerExampleSquaresAdam;
