using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>
    /// [NesterovMomentumDecay] (NAdam, PyTorch 2): μₜ = β₁(1 − ½·0.96^(tψ)), Πₜ = Πₜ₋₁·μₜ carried on the host;
    /// p ← p − η(1 − μₜ)/(1 − Πₜ)·g/d, then p ← p − η·μₜ₊₁/(1 − Πₜ·μₜ₊₁)·m/d (two steps, as PyTorch's two addcdiv).
    /// </summary>
    internal sealed class NesterovMomentumDecayRule : IAttributeRule
    {
        private const string Product = "MuProduct";

        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
            if (spec.NesterovMomentumDecay is null)
            {
                return;
            }

            b.Hyperparameter((int)HyperparameterOrder.NesterovMomentumDecay, "MomentumDecay", "ψ", spec.NesterovMomentumDecay.MomentumDecay, HyperparameterRange.NonNegative,
                "NAdam's momentum decay ψ: μₜ = β₁·(1 − ½·0.96^(t·ψ)).");
            b.HostState(Product, "Π", 1, Expr.HostStateValue(Product) * Mu(Expr.Step()),
                "NAdam's running product Πₜ = μ₁·μ₂·…·μₜ of the momentum schedule (1 before step 1).");
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            if (context.Spec.NesterovMomentumDecay is null || !context.HasDenominator)
            {
                return;
            }

            Expr one = Expr.Constant(1);
            Expr t = Expr.Step();
            Expr stepSize = context.StepSize;
            Expr product = Expr.HostStateValue(Product);
            b.Host("Mu", Mu(t), "μₜ");
            b.Host("MuNext", Mu(t + one), "μₜ₊₁");
            b.Scalar("GradientStepSize", stepSize * (one - Expr.Host("Mu")) / (one - product));
            b.Scalar("MomentumStepSize", stepSize * Expr.Host("MuNext") / (one - (product * Expr.Host("MuNext"))));
            string p = AttributeLowering.Parameter;
            b.Assign(p, Expr.Var(p) - (Expr.Scalar("GradientStepSize") * (Expr.Var(AttributeLowering.Gradient) / Expr.Var("denom"))), "Gradient step");
            b.Assign(p, Expr.Var(p) - (Expr.Scalar("MomentumStepSize") * (Expr.Var("m") / Expr.Var("denom"))), "Momentum step");
            context.Finished = true;
        }

        private static Expr Mu(Expr step) =>
            Expr.Hyperparameter("Beta1") * (Expr.Constant(1) - (Expr.Constant(0.5) * Expr.Binary(ExprOp.Pow, Expr.Constant(0.96), step * Expr.Hyperparameter("MomentumDecay"))));
    }
}
