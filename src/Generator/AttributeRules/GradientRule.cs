using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>The learning rate, [Maximize] and the runtime's gradient factor: <c>g ← g·GradientScale</c>.</summary>
    internal sealed class GradientRule : IAttributeRule
    {
        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
            bool decoupledEps = spec.Epsilon?.Placement == EpsilonPlacement.Decoupled;
            string symbol = decoupledEps ? "η₀" : "η";
            b.Hyperparameter((int)HyperparameterOrder.LearningRate, "LearningRate", BatchScaling.Symbol(spec.Units.LearningRate, symbol), spec.LearningRate, HyperparameterRange.NonNegative,
                (decoupledEps ? "The learning rate η₀ of the decoupled-ε form (η = ε·η₀)." : "The learning rate η.") + BatchScaling.RateUnits(spec.Units.LearningRate, symbol));
            if (spec.Maximize)
            {
                b.Hyperparameter((int)HyperparameterOrder.Maximize, "Maximize", "maximize", 0, HyperparameterRange.Boolean, "Ascend rather than descend (use −g), as PyTorch's maximize.", isBoolean: true);
            }
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            Expr scale = Expr.RuntimeInput("GradientScale");
            if (context.Spec.Maximize)
            {
                scale = Expr.Select(Expr.Binary(ExprOp.Equal, Expr.Hyperparameter("Maximize"), Expr.Constant(1)), -scale, scale);
            }

            b.ScaleGradient(scale);
        }
    }
}
