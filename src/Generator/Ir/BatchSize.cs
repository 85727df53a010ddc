using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>
    /// The batch size B in the IR, for both front ends: a runtime input like GradientScale (the step's
    /// <c>BatchSize</c>, written B in the documentation), and the per-step decay of a running average whose length is
    /// given in examples. Attribute rules reach it through <c>AttributeRules/BatchScaling.cs</c>, expression rules
    /// through <c>B</c> and <c>batchDecay</c>.
    /// </summary>
    internal static class BatchSize
    {
        /// <summary>The runtime input's name (<c>batchSize</c> in the generated host code).</summary>
        public const string InputName = "BatchSize";

        /// <summary>B, the step's batch size ≥ 1.</summary>
        public static Expr Value { get; } = Expr.RuntimeInput(InputName);

        /// <summary>
        /// The per-step decay of a running average whose decay per example is <paramref name="perExample"/>
        /// (β′ = 1 − 1/N′): N = max(1, N′/B) steps, β = 1 − 1/N = max(0, 1 − B·(1 − β′)).
        /// </summary>
        public static Expr StepDecay(Expr perExample) =>
            Expr.Binary(ExprOp.Max, Expr.Constant(0), Expr.Constant(1) - (Value * (Expr.Constant(1) - perExample)));
    }
}
