using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>
    /// Phase 2 for attribute rules: the declared building blocks, lowered by one small component per concern, in the
    /// order PyTorch applies them, so that float32 results round the same way:
    /// <code>
    /// g ← g·GradientScale                  GradientRule        (unscaling, clipping and maximize in one factor)
    /// ‖p‖, ‖g‖ per tensor                  TrustRatioRule      (LARS: the norms before L2 decay)
    /// g ← g + λ·p | p ← p·(1 − ηλ)         WeightDecayRule
    /// g ← local·g                          TrustRatioRule      (LARS's local rate)
    /// m ← β₁·m + (1 − β₁)·g                FirstMomentRule
    /// v ← β₂·v + (1 − β₂)·g², Σ, max …     SecondMomentRule    (centered, AMSGrad, mean)
    /// denom = √v̂ + ε | √(v̂ + ε) | …        DenominatorRule     (ε placement, bias correction)
    /// ηₜ                                   StepSizeRule        (learning-rate decay, bias correction)
    ///                                      RectificationRule   (RAdam)
    /// Adadelta's step                      DeltaAccumulatorRule
    /// NAdam's two steps                    NesterovMomentumDecayRule
    /// dir = m/denom                        DirectionRule
    /// b ← μ·b + (1 − τ)·dir; p ← p − ηₜ·b  MomentumRule
    /// r = c·dir + λp; p ← p − η·trust·r    TrustRatioRule      (LAMB)
    /// p ← p − ηₜ·dir                       StepRule
    /// </code>
    /// Every decision that depends on the <see cref="BiasCorrectionMode"/> is in <see cref="BiasCorrection"/>, which
    /// the moment, denominator and step-size rules call. Each component declares its hyperparameters and states (<see cref="IAttributeRule.Declare"/>) and adds its
    /// statements (<see cref="IAttributeRule.Lower"/>); the comments and the rule's math are printed from the
    /// statements by the IR post-pass, never written beside them.
    /// </summary>
    internal static class AttributeLowering
    {
        internal const string Parameter = "p";
        internal const string Gradient = "g";

        /// <summary>The components, in lowering order.</summary>
        private static readonly IAttributeRule[] Rules =
        {
            new GradientRule(),
            new TrustRatioRule(TrustRatioRule.Stage.Measure),
            new WeightDecayRule(),
            new TrustRatioRule(TrustRatioRule.Stage.ScaleGradient),
            new FirstMomentRule(),
            new SecondMomentRule(),
            new DenominatorRule(),
            new StepSizeRule(),
            new RectificationRule(),
            new DeltaAccumulatorRule(),
            new NesterovMomentumDecayRule(),
            new DirectionRule(),
            new MomentumRule(),
            new TrustRatioRule(TrustRatioRule.Stage.Step),
            new StepRule(),
        };

        public static OptimizerModel Lower(OptimizerSpec spec)
        {
            var b = new ProgramBuilder();
            var context = new LoweringContext(spec);
            foreach (IAttributeRule rule in Rules)
            {
                rule.Declare(spec, b);
            }

            foreach (IAttributeRule rule in Rules)
            {
                if (!context.Finished)
                {
                    rule.Lower(context, b);
                }
            }

            return PostPass.Finish(spec.Type, spec.RuleName, b.ToProgram(Enumerable.Empty<string>()), FrontEnd.Attributes);
        }

        /// <summary>The members a class with this rule receives (for the parser's collision checks): declarations only, no statements are built.</summary>
        public static IEnumerable<string> GeneratedMemberNames(OptimizerSpec spec)
        {
            var b = new ProgramBuilder();
            foreach (IAttributeRule rule in Rules)
            {
                rule.Declare(spec, b);
            }

            return b.Hyperparameters.Select(h => h.Name)
                .Concat(b.States.Select(s => s.Name))
                .Concat(b.HostStates.Select(s => s.Name))
                .Concat(GeneratedMembers.EveryOptimizer)
                .Concat(Parser.HasReductions(spec) ? GeneratedMembers.ReductionOptimizer : Enumerable.Empty<string>());
        }
    }

    /// <summary>One attribute concern's part of the lowering.</summary>
    internal interface IAttributeRule
    {
        /// <summary>Declares the hyperparameters (with their <see cref="HyperparameterOrder"/>), states and host states this concern adds.</summary>
        void Declare(OptimizerSpec spec, ProgramBuilder b);

        /// <summary>Adds this concern's host and element statements, reading and updating what earlier components computed.</summary>
        void Lower(LoweringContext context, ProgramBuilder b);
    }

    /// <summary>
    /// The storage order of the attribute rules' hyperparameters. Persisted (descriptor indices, rule ids): a new
    /// hyperparameter takes a new value, placed where it must sort, and existing ones never move.
    /// </summary>
    internal enum HyperparameterOrder
    {
        LearningRate,
        LearningRateDecay,
        FirstMomentDecay,
        SecondMomentDecay,
        InitialAccumulatorValue,
        Epsilon,
        NesterovMomentumDecay,
        Momentum,
        Dampening,
        WeightDecay,
        Maximize,
        TrustCoefficient,
        MaxTrustRatio,
    }

    /// <summary>What earlier components computed that later ones read.</summary>
    internal sealed class LoweringContext
    {
        public LoweringContext(OptimizerSpec spec)
        {
            Spec = spec;
            StepSize = BatchScaling.LearningRate(spec);
            PlainStepSize = StepSize;
        }

        public OptimizerSpec Spec { get; }

        /// <summary>What the denominator is built from: the second moment, centered, AMSGrad's maximum, the mean.</summary>
        public Expr? DenominatorSource { get; set; }

        /// <summary>Whether the element local <c>denom</c> holds the denominator.</summary>
        public bool HasDenominator { get; set; }

        /// <summary>The learning rate with its schedule (Adagrad's decay), without the bias corrections: the η of LAMB's p ← p − η·trust·r.</summary>
        public Expr ScheduledLearningRate { get; set; } = Expr.Constant(0);

        /// <summary>The bias corrections the step size carries (1/(1 − β₁ᵗ), ·√(1 − β₂ᵗ)), or null: LAMB's r applies them to the direction.</summary>
        public Expr? DirectionCorrection { get; set; }

        /// <summary>The per-step step size ηₜ (host, double).</summary>
        public Expr StepSize { get; set; }

        /// <summary>The step size without RAdam's rectification and ε-before-correction factor.</summary>
        public Expr PlainStepSize { get; set; }

        /// <summary>The element variable holding the update direction: g, m or dir.</summary>
        public string Direction { get; set; } = AttributeLowering.Gradient;

        /// <summary>LARS: the reductions ‖p‖ and ‖g‖ (<see cref="TrustRatioRule"/>), or null.</summary>
        public Expr? ParameterNorm { get; set; }

        /// <summary>LARS: ‖g‖ before the L2 decay, or null.</summary>
        public Expr? GradientNorm { get; set; }

        /// <summary>Set by a component that wrote the final step of p; later components do not run.</summary>
        public bool Finished { get; set; }
    }
}
