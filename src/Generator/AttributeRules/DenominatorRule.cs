using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>
    /// [Epsilon] and the second moment's bias correction: the element local <c>denom</c> = √v̂ + ε, √(v̂ + ε),
    /// 1 + √v̂/ε (decoupled), v̂ + ε (power 1) or u (infinity norm).
    /// </summary>
    internal sealed class DenominatorRule : IAttributeRule
    {
        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
            if (spec.Epsilon is not null)
            {
                b.Hyperparameter((int)HyperparameterOrder.Epsilon, "Epsilon", "ε", spec.Epsilon.Value, HyperparameterRange.Positive, "ε, which keeps the denominator away from zero.");
            }
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            OptimizerSpec spec = context.Spec;
            if (spec.SecondMoment is not { } second || context.DenominatorSource is not { } source)
            {
                return;
            }

            Expr denominator;
            if (second.Kind == SecondMomentKind.InfinityNorm)
            {
                denominator = Expr.Var("u");
            }
            else
            {
                Expr one = Expr.Constant(1);
                bool sqrt = second.Power == 0.5;
                Expr? bc2 = BiasCorrection.SecondMomentDivisor(spec);
                bool correct = bc2 is not null;
                EpsilonSpec? eps = spec.Epsilon;
                bool inside = eps?.Placement == EpsilonPlacement.InsideSqrt;

                // The bias correction reaches the kernel as a reciprocal computed in double on the host, so the
                // element pays a multiply instead of a division: at sizes that fit in cache the divider, not
                // memory, bounds the step, and √ plus one division is all a rule with a denominator needs.
                // With ε inside the root the correction applies to v itself (√(v/(1 − β₂ᵗ) + ε)).
                bool rootedCorrection = sqrt && !inside;
                if (correct)
                {
                    b.Scalar("SecondMomentCorrectionInverse", one / (rootedCorrection ? Expr.Unary(ExprOp.Sqrt, bc2!) : bc2!));
                }

                Expr Root(Expr e) => sqrt ? Expr.Unary(ExprOp.Sqrt, e) : e;
                Expr Correct(Expr e) => correct ? e * Expr.Scalar("SecondMomentCorrectionInverse") : e;
                if (eps is not null && eps.Placement != EpsilonPlacement.Decoupled)
                {
                    b.Scalar("Epsilon", Expr.Hyperparameter("Epsilon"));
                }

                Expr epsilon = Expr.Scalar("Epsilon");
                switch (eps?.Placement)
                {
                    case null:
                        denominator = Correct(Root(source));
                        break;
                    case EpsilonPlacement.OutsideSqrt:
                        denominator = Correct(Root(source)) + epsilon;
                        break;
                    case EpsilonPlacement.InsideSqrt:
                        // Without the root (power 1) ε inside and outside coincide: s + ε.
                        denominator = Root(Correct(source) + epsilon);
                        break;
                    default:
                        // 1 + √v̂/ε: the correction and 1/ε fold into one host scalar.
                        Expr inverse = one / Expr.Hyperparameter("Epsilon");
                        b.Scalar("DenominatorScale", bc2 is not null ? inverse / (sqrt ? Expr.Unary(ExprOp.Sqrt, bc2) : bc2) : inverse);
                        denominator = one + (Root(source) * Expr.Scalar("DenominatorScale"));
                        break;
                }
            }

            b.Local("denom", denominator, "Denominator");
            context.HasDenominator = true;
        }
    }
}
