using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>[FirstMoment]: <c>m ← β₁·m + (1 − β₁)·g</c> (or |g|), with its start and bias-correction form.</summary>
    internal sealed class FirstMomentRule : IAttributeRule
    {
        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
            if (spec.FirstMoment is { } first)
            {
                b.Hyperparameter((int)HyperparameterOrder.FirstMomentDecay, "Beta1", "β₁", first.Beta, HyperparameterRange.UnitInterval, "The first moment's decay β₁ = 1 − 1/N₁.");
                b.State("FirstMoment", "m", string.Empty, first.Input == MomentInput.AbsoluteGradient ? "The first moment m: a running average of |g|." : "The first moment m: a running average of g.");
            }
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            if (context.Spec.FirstMoment is not { } first)
            {
                return;
            }

            Expr beta1 = Expr.Hyperparameter("Beta1");
            Averages.Coefficients(b, "FirstMoment", beta1, context.MinT, first.Start, "c₁");
            Expr g = Expr.Var(AttributeLowering.Gradient);
            Expr input = first.Input == MomentInput.AbsoluteGradient ? Expr.Unary(ExprOp.Abs, g) : g;
            b.Assign("m", (Expr.Scalar("FirstMomentDecay") * Expr.Var("m")) + (Expr.Scalar("FirstMomentWeight") * input), "First moment");
            if (context.Power && context.Spec.NesterovMomentumDecay is null)
            {
                context.FirstCorrection = Expr.Constant(1) - Expr.Binary(ExprOp.Pow, beta1, Expr.Step());
            }
        }
    }

    /// <summary>The (decay, weight) kernel scalars of a running average under each bias-correction mode and start.</summary>
    internal static class Averages
    {
        /// <summary>
        /// <c>{prefix}Decay</c> and <c>{prefix}Weight</c>: (β, 1 − β); with <see cref="BiasCorrectionMode.MinT"/> the
        /// weight is c = max(1/t, 1 − β) = 1/min(t, N), a host value written <paramref name="rateSymbol"/>; with a
        /// first-sample start, (0, 1) at t = 1.
        /// </summary>
        public static void Coefficients(ProgramBuilder b, string prefix, Expr beta, bool minT, MomentStart start, string rateSymbol)
        {
            Expr one = Expr.Constant(1);
            Expr t = Expr.Step();
            if (minT)
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
    }
}
