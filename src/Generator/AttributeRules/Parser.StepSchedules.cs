using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using OptGen.Generator.Diagnostics;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// Phase 1, continued: the attributes that carry a per-step schedule inside the rule — NAdam's μₜ
    /// ([NesterovMomentumDecay]), RAdam's rectification ([Rectified]) and Adadelta's second accumulator
    /// ([DeltaAccumulator]) — and the attributes each of them needs beside it.
    /// </summary>
    internal static partial class Parser
    {
        private static OptimizerSpec ReadStepSchedules(Dictionary<string, AttributeData> attributes, OptimizerSpec spec, List<DiagnosticInfo> diagnostics)
        {
            bool exponentialSecond = spec.SecondMoment is { Kind: SecondMomentKind.ExponentialAverage };

            NesterovMomentumDecaySpec? nadam = null;
            if (attributes.TryGetValue("NesterovMomentumDecayAttribute", out AttributeData? nd))
            {
                double value = Positional(nd, 0);
                RequireRange(diagnostics, nd, 0, null, "The momentum decay ψ", value, nonNegative: true);
                string? problem =
                    spec.FirstMoment is not { Input: MomentInput.Gradient, Start: MomentStart.Zero } ? "needs [FirstMoment] of g starting from zero"
                    : !exponentialSecond ? "needs an exponential-average [SecondMoment]"
                    : spec.BiasCorrection != BiasCorrectionMode.Power ? "needs [BiasCorrection(BiasCorrectionMode.Power)]"
                    : spec.Epsilon is not { Placement: EpsilonPlacement.OutsideSqrt, BeforeBiasCorrection: false } ? "needs [Epsilon] outside the root, after the bias correction"
                    : spec.AmsGrad || spec.SecondMoment!.Centered || spec.SecondMoment.Start != MomentStart.Zero || spec.SecondMoment.Power != 0.5 ? "takes a plain second moment (no AMSGrad, Centered, Start or Power)"
                    : spec.Momentum is not null ? "is itself a momentum; remove [Momentum]"
                    : spec.HasLearningRateDecay ? "takes no learning-rate Decay"
                    : null;
                if (problem is not null)
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.NesterovMomentumDecayNeeds, nd, null, problem));
                }

                nadam = new NesterovMomentumDecaySpec(value);
            }

            RectifiedSpec? rectified = null;
            if (attributes.TryGetValue("RectifiedAttribute", out AttributeData? re))
            {
                double threshold = TryNamed(re, "Threshold", out double th) ? th : 5;
                if (!(threshold >= 4) || double.IsInfinity(threshold))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OutOfRange, ArgumentLocation(re, "Threshold"), "The rectification threshold on ρₜ", "a finite value >= 4", Format(threshold)));
                }

                string? problem =
                    spec.FirstMoment is not { Input: MomentInput.Gradient } ? "needs [FirstMoment] of g"
                    : !exponentialSecond ? "needs an exponential-average [SecondMoment]"
                    : spec.BiasCorrection != BiasCorrectionMode.Power ? "needs [BiasCorrection(BiasCorrectionMode.Power)]"
                    : spec.Epsilon is not { Placement: EpsilonPlacement.OutsideSqrt } ? "needs [Epsilon] outside the root"
                    : spec.Momentum is not null ? "takes no [Momentum]"
                    : nadam is not null ? "and [NesterovMomentumDecay] do not combine"
                    : null;
                if (problem is not null)
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.RectifiedNeeds, re, null, problem));
                }

                rectified = new RectifiedSpec(threshold);
            }

            bool delta = attributes.TryGetValue("DeltaAccumulatorAttribute", out AttributeData? da);
            if (delta)
            {
                string? problem =
                    !exponentialSecond ? "needs an exponential-average [SecondMoment] (its decay ρ is shared)"
                    : spec.Epsilon is not { Placement: EpsilonPlacement.InsideSqrt } ? "needs [Epsilon(…, Placement = EpsilonPlacement.InsideSqrt)]"
                    : spec.SecondMoment!.Power != 0.5 || spec.SecondMoment.Centered || spec.AmsGrad ? "takes a plain second moment (no AMSGrad, Centered or Power)"
                    : spec.FirstMoment is not null ? "takes no [FirstMoment]"
                    : spec.BiasCorrection != BiasCorrectionMode.None ? "takes no [BiasCorrection]"
                    : spec.Momentum is not null ? "takes no [Momentum]"
                    : nadam is not null || rectified is not null ? "does not combine with [NesterovMomentumDecay] or [Rectified]"
                    : null;
                if (problem is not null)
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.DeltaAccumulatorNeeds, da!, null, problem));
                }
            }

            return spec with { NesterovMomentumDecay = nadam, Rectified = rectified, DeltaAccumulator = delta };
        }
    }
}
