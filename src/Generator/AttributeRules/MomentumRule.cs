using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>
    /// [Momentum]: PyTorch's heavy ball b ← μ·b + (1 − τ)·dir (b₁ = dir), p ← p − ηₜ·b or, with Nesterov,
    /// p ← p − ηₜ·(dir + μ·b); or the classic b ← μ·b + ηₜ·dir, p ← p − b.
    /// </summary>
    internal sealed class MomentumRule : IAttributeRule
    {
        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
            if (spec.Momentum is not { } momentum)
            {
                return;
            }

            b.Hyperparameter((int)HyperparameterOrder.Momentum, "Momentum", BatchScaling.Symbol(spec.Units.Momentum, "μ"), momentum.Coefficient, HyperparameterRange.UnitInterval, (momentum.Style == MomentumStyle.Classic
                ? "The momentum decay μ = 1 − 1/N."
                : "The momentum coefficient μ.") + BatchScaling.DecayUnits(spec.Units.Momentum, "μ", "N"));
            if (momentum.Style == MomentumStyle.PyTorch)
            {
                b.Hyperparameter((int)HyperparameterOrder.Dampening, "Dampening", "τ", momentum.Dampening, HyperparameterRange.Probability, "PyTorch's dampening τ: b ← μ·b + (1 − τ)·u.");
            }

            b.State("MomentumBuffer", "b", string.Empty, "The momentum buffer b.");
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            if (context.Spec.Momentum is not { } momentum)
            {
                return;
            }

            string p = AttributeLowering.Parameter;
            string direction = context.Direction;
            Expr one = Expr.Constant(1);
            Expr mu = BatchScaling.Decay(context.Spec.Units.Momentum, Expr.Hyperparameter("Momentum"));
            if (momentum.Style == MomentumStyle.Classic)
            {
                b.Scalar("MomentumDecay", mu);
                b.Scalar("StepSize", context.StepSize);
                b.Assign("b", (Expr.Scalar("MomentumDecay") * Expr.Var("b")) + (Expr.Scalar("StepSize") * Expr.Var(direction)), "Classic momentum");
                b.Assign(p, Expr.Var(p) - Expr.Var("b"), "Step");
            }
            else
            {
                Expr isFirst = Expr.Binary(ExprOp.Equal, Expr.Step(), one);
                b.Scalar("MomentumDecay", Expr.Select(isFirst, Expr.Constant(0), mu));
                b.Scalar("MomentumWeight", Expr.Select(isFirst, one, one - Expr.Hyperparameter("Dampening")));
                b.Assign("b", (Expr.Scalar("MomentumDecay") * Expr.Var("b")) + (Expr.Scalar("MomentumWeight") * Expr.Var(direction)), "Momentum");
                string step = "b";
                if (momentum.Nesterov)
                {
                    b.Scalar("Momentum", mu);
                    b.Assign(direction, Expr.Var(direction) + (Expr.Scalar("Momentum") * Expr.Var("b")), "Nesterov");
                    step = direction;
                }

                b.Scalar("StepSize", context.StepSize);
                b.Assign(p, Expr.Var(p) - (Expr.Scalar("StepSize") * Expr.Var(step)), "Step");
            }

            context.Finished = true;
        }
    }
}
