using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>[FirstMoment]: <c>m ← β₁·m + (1 − β₁)·g</c> (or |g|), with its start and bias-correction form (<see cref="BiasCorrection"/>).</summary>
    internal sealed class FirstMomentRule : IAttributeRule
    {
        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
            if (spec.FirstMoment is { } first)
            {
                b.Hyperparameter((int)HyperparameterOrder.FirstMomentDecay, "Beta1", BatchScaling.Symbol(spec.Units.FirstMoment, "β₁"), first.Beta, HyperparameterRange.UnitInterval,
                    "The first moment's decay β₁ = 1 − 1/N₁." + BatchScaling.DecayUnits(spec.Units.FirstMoment, "β₁", "N₁"));
                b.State("FirstMoment", "m", string.Empty, first.Input == MomentInput.AbsoluteGradient ? "The first moment m: a running average of |g|." : "The first moment m: a running average of g.");
            }
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            if (context.Spec.FirstMoment is not { } first)
            {
                return;
            }

            Expr beta1 = BatchScaling.Beta1(context.Spec);
            BiasCorrection.Coefficients(b, context.Spec, "FirstMoment", beta1, first.Start, "c₁");
            Expr g = Expr.Var(AttributeLowering.Gradient);
            Expr input = first.Input == MomentInput.AbsoluteGradient ? Expr.Unary(ExprOp.Abs, g) : g;
            b.Assign("m", (Expr.Scalar("FirstMomentDecay") * Expr.Var("m")) + (Expr.Scalar("FirstMomentWeight") * input), "First moment");
        }
    }
}
