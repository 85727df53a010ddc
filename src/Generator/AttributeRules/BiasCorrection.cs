using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>
    /// [BiasCorrection]: every decision that depends on the <see cref="BiasCorrectionMode"/>, in one place, so a new
    /// mode is its enum value (src/Runtime/Attributes/Enums.cs), its IR here, and its checks in the parser:
    /// <list type="bullet">
    /// <item>the running averages' (decay, weight) scalars (<see cref="Coefficients"/>): (β, 1 − β), or the
    /// lecture's 1/min(t, N) weight;</item>
    /// <item>the first moment's correction, a divisor of the step size (<see cref="FirstMomentDivisor"/>);</item>
    /// <item>the second moment's correction, a divisor in the denominator (<see cref="SecondMomentDivisor"/>), or, with
    /// ε added before the correction, a factor of the step size (<see cref="StepSizeFactor"/>).</item>
    /// </list>
    /// </summary>
    internal static class BiasCorrection
    {
        /// <summary>
        /// <c>{prefix}Decay</c> and <c>{prefix}Weight</c> of a running average of decay <paramref name="beta"/>: (β, 1 − β);
        /// with <see cref="BiasCorrectionMode.MinT"/> the weight is c = max(1/t, 1 − β) = 1/min(t, N), a host value
        /// written <paramref name="rateSymbol"/>; with a first-sample start, (0, 1) at t = 1.
        /// </summary>
        public static void Coefficients(ProgramBuilder b, OptimizerSpec spec, string prefix, Expr beta, MomentStart start, string rateSymbol)
        {
            Expr one = Expr.Constant(1);
            Expr t = Expr.Step();
            if (spec.BiasCorrection == BiasCorrectionMode.MinT)
            {
                b.Host(prefix + "Rate", Expr.Binary(ExprOp.Max, one / t, one - beta), rateSymbol);
                b.Scalar(prefix + "Decay", one - Expr.Host(prefix + "Rate"));
                b.Scalar(prefix + "Weight", Expr.Host(prefix + "Rate"));
            }
            else if (start == MomentStart.FirstSample)
            {
                Expr isFirst = Expr.Binary(ExprOp.Equal, t, one);
                b.Scalar(prefix + "Decay", Expr.Select(isFirst, Expr.Constant(0), beta));
                b.Scalar(prefix + "Weight", Expr.Select(isFirst, one, one - beta));
            }
            else
            {
                b.Scalar(prefix + "Decay", beta);
                b.Scalar(prefix + "Weight", one - beta);
            }
        }

        /// <summary>1 − β₁ᵗ, which the step size divides by (Adam's m̂ = m/(1 − β₁ᵗ)); null when the first moment is not corrected (NAdam corrects through its μ schedule).</summary>
        public static Expr? FirstMomentDivisor(OptimizerSpec spec) =>
            spec.BiasCorrection == BiasCorrectionMode.Power && spec.FirstMoment is not null && spec.NesterovMomentumDecay is null
                ? Decay(BatchScaling.Beta1(spec))
                : null;

        /// <summary>1 − β₂ᵗ, which the second moment is divided by in the denominator; null when it is not corrected there.</summary>
        public static Expr? SecondMomentDivisor(OptimizerSpec spec) =>
            spec.BiasCorrection == BiasCorrectionMode.Power && spec.SecondMoment is { } second && SecondMomentRule.Averages(second) && spec.Epsilon is not { BeforeBiasCorrection: true }
                ? Decay(BatchScaling.Beta2(spec))
                : null;

        /// <summary>√(1 − β₂ᵗ) on the step size when ε is added to the uncorrected root (the correction moves out of the denominator); null otherwise.</summary>
        public static Expr? StepSizeFactor(OptimizerSpec spec) =>
            spec.Epsilon is { BeforeBiasCorrection: true } && spec.SecondMoment is { } second
                ? Expr.Unary(ExprOp.Sqrt, Decay(BatchScaling.Beta2(spec)))
                : null;

        private static Expr Decay(Expr beta) => Expr.Constant(1) - Expr.Binary(ExprOp.Pow, beta, Expr.Step());
    }
}
