using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.AttributeRules
{
    /// <summary>
    /// The one home of the lecture's batch-size rules for attribute rules (<see cref="BatchUnits"/>): a hyperparameter
    /// declared per example (η′, β′ = 1 − 1/N′ for B = 1) becomes its per-step value from the step's batch size B
    /// (the runtime input <c>BatchSize</c>) on the host, in double, so it is a per-step scalar like any other and is
    /// validated with them. Per-step units give the hyperparameter itself, so existing rules do not change.
    /// </summary>
    internal static class BatchScaling
    {
        /// <summary>The step's batch size B ≥ 1 (<c>Optimizer.BatchSize</c>, or <c>StepOptions.BatchSize</c> for one step).</summary>
        public static Expr BatchSize => Ir.BatchSize.Value;

        /// <summary>The step's learning rate η: η, B·η′ or √B·η′.</summary>
        public static Expr LearningRate(OptimizerSpec spec) => Rate(spec.Units.LearningRate, Expr.Hyperparameter("LearningRate"));

        /// <summary>A rate declared in <paramref name="units"/>: per step as is, per example times B, or times √B.</summary>
        public static Expr Rate(BatchUnits units, Expr value) => units switch
        {
            BatchUnits.PerExample => BatchSize * value,
            BatchUnits.PerExampleSquareRoot => Expr.Unary(ExprOp.Sqrt, BatchSize) * value,
            _ => value,
        };

        /// <summary>
        /// A running average's per-step decay from one declared in <paramref name="units"/>: per step as is; per example
        /// (β′ = 1 − 1/N′) the decay of N = max(1, N′/B) steps, β = 1 − 1/N = max(0, 1 − B·(1 − β′)).
        /// </summary>
        public static Expr Decay(BatchUnits units, Expr value) => units == BatchUnits.PerExample ? Ir.BatchSize.StepDecay(value) : value;

        /// <summary>The step's first-moment decay β₁.</summary>
        public static Expr Beta1(OptimizerSpec spec) => Decay(spec.Units.FirstMoment, Expr.Hyperparameter("Beta1"));

        /// <summary>The step's second-moment decay β₂ (the property may be named otherwise, e.g. Alpha).</summary>
        public static Expr Beta2(OptimizerSpec spec) => Decay(spec.Units.SecondMoment, Expr.Hyperparameter(spec.SecondMoment!.PropertyName));

        /// <summary>The symbol of a hyperparameter in <paramref name="units"/>: primed (η′, β₁′) when per example, as the lecture writes it.</summary>
        public static string Symbol(BatchUnits units, string symbol) => units == BatchUnits.PerStep ? symbol : symbol + "′";

        /// <summary>The sentence a per-example learning rate's property adds: its units and the step's value.</summary>
        public static string RateUnits(BatchUnits units, string symbol) => units switch
        {
            BatchUnits.PerExample => $" Per example (the value for batch size 1): a step of batch size B uses {symbol} = B·{symbol}′.",
            BatchUnits.PerExampleSquareRoot => $" Per example (the value for batch size 1): a step of batch size B uses {symbol} = √B·{symbol}′.",
            _ => string.Empty, // per step: what every rule without batch units means, so their text does not change
        };

        /// <summary>The sentence a decay's property adds: its units and the step's value.</summary>
        public static string DecayUnits(BatchUnits units, string symbol, string length) => units == BatchUnits.PerExample
            ? $" Per example: {symbol}′ = 1 − 1/{length}′ with {length}′ in examples; a step of batch size B uses {length} = max(1, {length}′/B) steps, {symbol} = max(0, 1 − B·(1 − {symbol}′))."
            : string.Empty;
    }
}
