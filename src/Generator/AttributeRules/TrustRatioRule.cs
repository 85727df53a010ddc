using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>
    /// [TrustRatio]: a per-tensor ratio of norms, lowered to the IR's tensor reductions (<see cref="ProgramBuilder.Reduction"/>),
    /// so the pass planner, both emitters and the runtime treat it exactly as a declared <c>norm(p)</c>. Three stages,
    /// at three places of the lowering order:
    /// <list type="bullet">
    /// <item><see cref="Stage.Measure"/> (LARS, before the weight decay): ‖p‖ and ‖g‖, the gradient before L2 decay;</item>
    /// <item><see cref="Stage.ScaleGradient"/> (LARS, after it): local = κ·‖p‖/(‖g‖ + λ‖p‖), g ← local·g, which the
    /// moments, momentum and step then receive;</item>
    /// <item><see cref="Stage.Step"/> (LAMB, in place of the plain step): r = c·dir + λ·p (c the bias corrections the step
    /// size would carry, λ·p with decoupled decay), trust = κ·‖p‖/‖r‖, p ← p − η·trust·r.</item>
    /// </list>
    /// Either ratio is 1 when a norm is 0, and bounded by <c>MaxTrustRatio</c> when declared.
    /// </summary>
    internal sealed class TrustRatioRule : IAttributeRule
    {
        private readonly Stage _stage;

        public TrustRatioRule(Stage stage) => _stage = stage;

        /// <summary>Where in the lowering order this part runs.</summary>
        internal enum Stage
        {
            Measure,
            ScaleGradient,
            Step,
        }

        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
            if (_stage != Stage.Measure || spec.TrustRatio is not { } trust)
            {
                return;
            }

            b.Hyperparameter((int)HyperparameterOrder.TrustCoefficient, "TrustCoefficient", "κ", trust.Coefficient, HyperparameterRange.Positive, trust.Form == TrustRatioForm.Lamb
                ? "LAMB's trust coefficient κ: trust = κ·‖p‖/‖r‖ per tensor."
                : "LARS's trust coefficient κ: local = κ·‖p‖/(‖g‖ + λ‖p‖) per tensor.");
            if (trust.MaxRatio is double max)
            {
                b.Hyperparameter((int)HyperparameterOrder.MaxTrustRatio, "MaxTrustRatio", "κₘₐₓ", max, HyperparameterRange.Positive, "The upper bound on the trust ratio.");
            }
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            OptimizerSpec spec = context.Spec;
            if (spec.TrustRatio is not { } trust)
            {
                return;
            }

            string p = AttributeLowering.Parameter;
            string g = AttributeLowering.Gradient;
            switch (_stage)
            {
                case Stage.Measure when trust.Form == TrustRatioForm.Lars:
                    context.ParameterNorm = b.Reduction(ReductionKind.Norm, ReductionScopeKind.Tensor, 0, Expr.Var(p), "LARS, the parameter norm");
                    context.GradientNorm = b.Reduction(ReductionKind.Norm, ReductionScopeKind.Tensor, 0, Expr.Var(g), "LARS, the gradient norm");
                    break;
                case Stage.ScaleGradient when trust.Form == TrustRatioForm.Lars:
                {
                    Expr pn = context.ParameterNorm!, gn = context.GradientNorm!;
                    Expr denominator = spec.WeightDecay is { Decoupled: false } ? gn + (Expr.Scalar("WeightDecay") * pn) : gn;
                    b.Local("trust", Ratio(b, trust, pn, gn, Coefficient(b) * pn / denominator), "LARS local rate");
                    b.Assign(g, Expr.Var("trust") * Expr.Var(g), "LARS, the scaled gradient");
                    break;
                }

                case Stage.Step when trust.Form == TrustRatioForm.Lamb:
                {
                    Expr direction = Expr.Var(context.Direction);
                    if (context.DirectionCorrection is { } correction)
                    {
                        b.Scalar("DirectionCorrection", correction);
                        direction = direction * Expr.Scalar("DirectionCorrection");
                    }

                    if (spec.WeightDecay is { Decoupled: true })
                    {
                        b.Scalar("WeightDecay", Expr.Hyperparameter("WeightDecay"));
                        direction = direction + (Expr.Scalar("WeightDecay") * Expr.Var(p));
                    }

                    b.Local("r", direction, "LAMB's update direction");
                    Expr pn = b.Reduction(ReductionKind.Norm, ReductionScopeKind.Tensor, 0, Expr.Var(p), "LAMB, the parameter norm");
                    Expr rn = b.Reduction(ReductionKind.Norm, ReductionScopeKind.Tensor, 0, Expr.Var("r"), "LAMB, the direction norm");
                    b.Local("trust", Ratio(b, trust, pn, rn, Coefficient(b) * pn / rn), "LAMB trust ratio");
                    b.Scalar("StepSize", context.ScheduledLearningRate);
                    b.Assign(p, Expr.Var(p) - (Expr.Scalar("StepSize") * Expr.Var("trust") * Expr.Var("r")), "Step");
                    context.Finished = true;
                    break;
                }
            }
        }

        private static Expr Coefficient(ProgramBuilder b)
        {
            b.Scalar("TrustCoefficient", Expr.Hyperparameter("TrustCoefficient"));
            return Expr.Scalar("TrustCoefficient");
        }

        /// <summary><c>a &gt; 0 ? (b &gt; 0 ? min(ratio, κₘₐₓ) : 1) : 1</c>: 1 when either norm is 0.</summary>
        private static Expr Ratio(ProgramBuilder b, TrustRatioSpec trust, Expr a, Expr c, Expr ratio)
        {
            if (trust.MaxRatio is not null)
            {
                b.Scalar("MaxTrustRatio", Expr.Hyperparameter("MaxTrustRatio"));
                ratio = Expr.Binary(ExprOp.Min, ratio, Expr.Scalar("MaxTrustRatio"));
            }

            Expr zero = Expr.Constant(0), one = Expr.Constant(1);
            return Expr.Select(Expr.Binary(ExprOp.Greater, a, zero), Expr.Select(Expr.Binary(ExprOp.Greater, c, zero), ratio, one), one);
        }
    }
}
