using System.Collections.Generic;
using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// Phase 2 for expression rules: builds a bound <see cref="ExpressionRuleSpec"/> into the same update IR, through
    /// the same <see cref="ProgramBuilder"/> and <see cref="PostPass"/> as the attribute rules, so it gets the same
    /// hoisting, dead-code removal, kernels, snapshots and traffic accounting. The runtime's gradient factor comes
    /// first, as for every rule: <c>g ← g·GradientScale</c>; the step scalars precede it on the host.
    /// </summary>
    internal static class ExpressionLowering
    {
        public static OptimizerModel Lower(ExpressionRuleSpec spec)
        {
            var b = new ProgramBuilder();
            foreach (HyperparameterDecl h in spec.Hyperparameters)
            {
                b.Hyperparameter(h);
            }

            foreach (StateDecl s in spec.States)
            {
                b.State(s);
            }

            foreach (HostStatement h in spec.StepScalars)
            {
                b.Host(h);
            }

            ElementStatement scale = b.ScaleGradient(Expr.RuntimeInput("GradientScale"));
            foreach (ElementStatement statement in spec.Body)
            {
                // The comment over each statement is the line as declared (it also enters the kernel's name, CanonicalForm.V1).
                b.Element(statement.Comment.Length > 0
                    ? statement
                    : statement with { Comment = (statement.DeclaresLocal ? "let " : string.Empty) + statement.Target + " = " + CanonicalForm.Expression(statement.Value) });
            }

            // The remarks: the scaling printed from its IR, then the rule's lines as declared.
            var rule = new List<string> { MathText.Statement(scale, new MathText.Symbols()) };
            rule.AddRange(spec.Source);
            return PostPass.Finish(spec.Type, spec.RuleName, b.ToProgram(rule) with { Reductions = spec.Reductions }, FrontEnd.Expressions);
        }
    }
}
