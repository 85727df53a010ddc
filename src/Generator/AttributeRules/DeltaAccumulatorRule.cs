using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>[DeltaAccumulator] (Adadelta): u = √(Δ + ε)/denom·g; Δ ← ρ·Δ + (1 − ρ)·u²; p ← p − η·u (PyTorch's order).</summary>
    internal sealed class DeltaAccumulatorRule : IAttributeRule
    {
        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
            if (spec.DeltaAccumulator)
            {
                b.State("DeltaAccumulator", "dx", string.Empty, "Adadelta's accumulator Δ: a running average of squared updates u².");
            }
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            if (!context.Spec.DeltaAccumulator || !context.HasDenominator)
            {
                return;
            }

            b.Local("dir", (Expr.Unary(ExprOp.Sqrt, Expr.Var("dx") + Expr.Scalar("Epsilon")) / Expr.Var("denom")) * Expr.Var(AttributeLowering.Gradient), "Direction");
            b.Assign("dx", (Expr.Scalar("SecondMomentDecay") * Expr.Var("dx")) + (Expr.Scalar("SecondMomentWeight") * Expr.Var("dir") * Expr.Var("dir")), "Delta accumulator");
            b.Scalar("StepSize", context.StepSize);
            string p = AttributeLowering.Parameter;
            b.Assign(p, Expr.Var(p) - (Expr.Scalar("StepSize") * Expr.Var("dir")), "Step");
            context.Finished = true;
        }
    }
}
