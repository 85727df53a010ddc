using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>
    /// [Rectified] (RAdam): ρ∞ = 2/(1 − β₂) − 1, ρₜ = ρ∞ − 2t·β₂ᵗ/(1 − β₂ᵗ); the step size is the adaptive one times
    /// rₜ when ρₜ exceeds the threshold, else the plain η/(1 − β₁ᵗ). Declares the kernel scalar <c>Rectified</c>
    /// (1 or 0) that <see cref="DirectionRule"/> selects the direction by.
    /// </summary>
    internal sealed class RectificationRule : IAttributeRule
    {
        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            OptimizerSpec spec = context.Spec;
            if (spec.Rectified is null || spec.SecondMoment is null)
            {
                return;
            }

            Expr one = Expr.Constant(1);
            Expr two = Expr.Constant(2);
            Expr four = Expr.Constant(4);
            Expr t = Expr.Step();
            Expr beta2 = BatchScaling.Beta2(spec);
            Expr beta2t = Expr.Binary(ExprOp.Pow, beta2, t);

            b.Host("RhoInfinity", (two / (one - beta2)) - one, "ρ∞");
            Expr rhoInf = Expr.Host("RhoInfinity");
            b.Host("RhoT", rhoInf - (two * t * beta2t / (one - beta2t)), "ρₜ");
            Expr rhoT = Expr.Host("RhoT");
            b.Host("RectificationTerm", Expr.Unary(ExprOp.Sqrt, (rhoT - four) * (rhoT - two) * rhoInf / ((rhoInf - four) * (rhoInf - two) * rhoT)), "rₜ");
            Expr rectified = Expr.Binary(ExprOp.Greater, rhoT, Expr.Constant(spec.Rectified.Threshold));
            b.Scalar("Rectified", Expr.Select(rectified, one, Expr.Constant(0)));
            context.StepSize = Expr.Select(rectified, context.StepSize * Expr.Host("RectificationTerm"), context.PlainStepSize);
        }
    }
}
