using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>[WeightDecay]: L2 (<c>g ← g + λ·p</c>) or decoupled (<c>p ← p·(1 − η·λ)</c>).</summary>
    internal sealed class WeightDecayRule : IAttributeRule
    {
        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
            if (spec.WeightDecay is not null)
            {
                b.Hyperparameter((int)HyperparameterOrder.WeightDecay, "WeightDecay", "λ", spec.WeightDecay.Value, HyperparameterRange.NonNegative, spec.WeightDecay.Decoupled
                    ? "The decoupled weight decay λ: p ← p·(1 − ηλ)."
                    : "The L2 weight decay λ: g ← g + λ·p.");
            }
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            string p = AttributeLowering.Parameter;
            string g = AttributeLowering.Gradient;
            if (context.Spec.WeightDecay is { Decoupled: false })
            {
                b.Scalar("WeightDecay", Expr.Hyperparameter("WeightDecay"));
                b.Assign(g, Expr.Var(g) + (Expr.Scalar("WeightDecay") * Expr.Var(p)), "L2 weight decay");
            }
            else if (context.Spec.WeightDecay is { Decoupled: true } && context.Spec.TrustRatio is not { Form: TrustRatioForm.Lamb })
            {
                // (LAMB adds λ·p to its direction r instead: TrustRatioRule.)
                b.Scalar("DecayFactor", Expr.Constant(1) - (BatchScaling.LearningRate(context.Spec) * Expr.Hyperparameter("WeightDecay")));
                b.Assign(p, Expr.Var(p) * Expr.Scalar("DecayFactor"), "Decoupled weight decay");
            }
        }
    }
}
