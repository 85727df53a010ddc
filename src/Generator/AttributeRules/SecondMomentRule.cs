using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>
    /// [SecondMoment]: an average (v), a sum or mean (s) or an infinity norm (u) of the gradient, optionally centered
    /// (ḡ) and with AMSGrad's maximum (v̂); leaves the denominator's source in <see cref="LoweringContext.DenominatorSource"/>.
    /// </summary>
    internal sealed class SecondMomentRule : IAttributeRule
    {
        public void Declare(OptimizerSpec spec, ProgramBuilder b)
        {
            if (spec.SecondMoment is not { } second)
            {
                return;
            }

            if (Averages(second))
            {
                b.Hyperparameter((int)HyperparameterOrder.SecondMomentDecay, second.PropertyName, BatchScaling.Symbol(spec.Units.SecondMoment, "β₂"), second.Beta, HyperparameterRange.UnitInterval,
                    "The second moment's decay β₂ = 1 − 1/N₂." + BatchScaling.DecayUnits(spec.Units.SecondMoment, "β₂", "N₂"));
            }

            if (second.HasInitialValue)
            {
                b.Hyperparameter((int)HyperparameterOrder.InitialAccumulatorValue, "InitialAccumulatorValue", "s₀", second.InitialValue, HyperparameterRange.NonNegative,
                    "The value the second moment starts at (read when the state is allocated or reset).");
            }

            string summary = second.Kind switch
            {
                SecondMomentKind.Sum => "The second moment s: the sum of every g².",
                SecondMomentKind.Mean => "The second moment s: the sum of every g² (the denominator uses s/t).",
                SecondMomentKind.InfinityNorm => "The infinity norm u: a decaying maximum of |g|.",
                _ => "The second moment v: a running average of g².",
            };
            b.State("SecondMoment", Symbol(second), second.HasInitialValue ? "InitialAccumulatorValue" : string.Empty, summary);
            if (second.Centered)
            {
                b.State("GradientAverage", "gAvg", string.Empty, "The running average ḡ of g, for the centered second moment.");
            }

            if (spec.AmsGrad)
            {
                b.State("MaxSecondMoment", "vMax", string.Empty, "AMSGrad's running maximum of the second moment.");
            }
        }

        public void Lower(LoweringContext context, ProgramBuilder b)
        {
            if (context.Spec.SecondMoment is not { } second)
            {
                return;
            }

            string s = Symbol(second);
            Expr g = Expr.Var(AttributeLowering.Gradient);
            Expr sv = Expr.Var(s);
            bool perExample = second.Input == SecondMomentInput.PerExampleSquares;
            Expr gsq = Expr.Var(ElementInputs.PerExampleSquares.Symbol);
            Expr beta2 = BatchScaling.Beta2(context.Spec);
            // A shared moment (Adam-mini, NovoGrad) takes the mean of g² (the infinity norm: the maximum |g|) over its
            // tensor, row, column or block, a reduction of pass 1; the planner then stores the moment one value per segment.
            bool shared = second.Scope != MomentScope.Element;
            ReductionScopeKind scope = ScopeOf(second.Scope);
            switch (second.Kind)
            {
                case SecondMomentKind.ExponentialAverage:
                    BiasCorrection.Coefficients(b, context.Spec, "SecondMoment", beta2, second.Start, "c₂");
                    b.Assign(s, (Expr.Scalar("SecondMomentDecay") * sv) + (
                        shared ? Expr.Scalar("SecondMomentWeight") * b.Reduction(ReductionKind.Mean, scope, second.BlockLength, g * g, "Shared second moment, the mean of g²")
                        : perExample ? Expr.Scalar("SecondMomentWeight") * gsq
                        : Expr.Scalar("SecondMomentWeight") * g * g), "Second moment");
                    break;
                case SecondMomentKind.Sum:
                case SecondMomentKind.Mean:
                    b.Assign(s, sv + (
                        shared ? b.Reduction(ReductionKind.Mean, scope, second.BlockLength, g * g, "Shared accumulator, the mean of g²")
                        : perExample ? gsq
                        : g * g), "Accumulate");
                    break;
                case SecondMomentKind.InfinityNorm:
                    b.Scalar("SecondMomentDecay", beta2);
                    b.Scalar("Epsilon", Expr.Hyperparameter("Epsilon"));
                    Expr magnitude = shared ? b.Reduction(ReductionKind.MaxAbs, scope, second.BlockLength, g, "Shared infinity norm, the maximum |g|") : Expr.Unary(ExprOp.Abs, g);
                    b.Assign(s, Expr.Binary(ExprOp.Max, Expr.Scalar("SecondMomentDecay") * sv, magnitude + Expr.Scalar("Epsilon")), "Infinity norm");
                    break;
            }

            Expr source = sv;
            if (second.Centered)
            {
                b.Assign("gAvg", (Expr.Scalar("SecondMomentDecay") * Expr.Var("gAvg")) + (Expr.Scalar("SecondMomentWeight") * g), "Centered: the average ḡ of g");
                // v − ḡ² with the product unrounded, as torch's addcmul(ḡ, ḡ, value=−1) computes it: with g = 1e30,
                // v = ∞ and ḡ² = ∞ in float32 would give ∞ − ∞ = NaN; fused, v − ḡ² stays ∞ and the step is 0.
                source = Expr.MultiplyAdd(-Expr.Var("gAvg"), Expr.Var("gAvg"), source);
            }

            if (context.Spec.AmsGrad)
            {
                b.Assign("vMax", Expr.Binary(ExprOp.Max, Expr.Var("vMax"), Expr.Var(s)), "AMSGrad");
                source = Expr.Var("vMax");
            }

            if (second.Kind == SecondMomentKind.Mean)
            {
                b.Scalar("InverseStepNumber", Expr.Constant(1) / Expr.Step());
                source = source * Expr.Scalar("InverseStepNumber");
            }

            context.DenominatorSource = source;
        }

        /// <summary>The IR reduction scope of a shared moment's <see cref="MomentScope"/>.</summary>
        internal static ReductionScopeKind ScopeOf(MomentScope scope) => scope switch
        {
            MomentScope.Row => ReductionScopeKind.Row,
            MomentScope.Column => ReductionScopeKind.Column,
            MomentScope.Block => ReductionScopeKind.Block,
            _ => ReductionScopeKind.Tensor,
        };

        /// <summary>Whether the second moment is a decaying average with a β₂ (not a sum or mean).</summary>
        internal static bool Averages(SecondMomentSpec second) => second.Kind is SecondMomentKind.ExponentialAverage or SecondMomentKind.InfinityNorm;

        private static string Symbol(SecondMomentSpec second) => second.Kind switch
        {
            SecondMomentKind.Sum or SecondMomentKind.Mean => "s",
            SecondMomentKind.InfinityNorm => "u",
            _ => "v",
        };
    }
}
