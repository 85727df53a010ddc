using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>
    /// The step size ηₜ: η, Adagrad's decay η/(1 + (t − 1)·δ), the first moment's bias correction /(1 − β₁ᵗ), and
    /// with ε before the correction ·√(1 − β₂ᵗ).
    /// </summary>
    internal sealed class StepSizeRule : IAttributeRule
    {
        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
            if (spec.HasLearningRateDecay)
            {
                b.Hyperparameter((int)HyperparameterOrder.LearningRateDecay, "LearningRateDecay", "δ", spec.LearningRateDecay, HyperparameterRange.NonNegative,
                    "Adagrad's learning-rate decay δ: ηₜ = η / (1 + (t − 1)·δ).");
            }
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            OptimizerSpec spec = context.Spec;
            Expr one = Expr.Constant(1);
            Expr t = Expr.Step();
            Expr stepSize = BatchScaling.LearningRate(spec);
            if (spec.HasLearningRateDecay)
            {
                stepSize = stepSize / (one + ((t - one) * Expr.Hyperparameter("LearningRateDecay")));
            }

            context.ScheduledLearningRate = stepSize;
            if (BiasCorrection.FirstMomentDivisor(spec) is { } firstCorrection)
            {
                stepSize = stepSize / firstCorrection;
                context.DirectionCorrection = one / firstCorrection;
            }

            context.PlainStepSize = stepSize;
            if (BiasCorrection.StepSizeFactor(spec) is { } factor)
            {
                stepSize = stepSize * factor;
                context.DirectionCorrection = context.DirectionCorrection is { } c ? c * factor : factor;
            }

            context.StepSize = stepSize;
        }
    }
}
