using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.Emit
{
    /// <summary>
    /// Phase 3 (CPU), continued: the float32 range check of the per-step scalars. <c>CreateKernel</c> computes each
    /// scalar in double and the kernel stores it as float32; a value that is not finite in float32 (η/(1 − β₁ᵗ) with
    /// β₁ near 1), or a divisor's value that rounds to 0 (and is not 0 in double), would turn every parameter into
    /// NaN. The check throws before any element is written, and the <c>ValidateStepScalars</c> override lets the
    /// step engine run it for every parameter group before the first kernel runs.
    /// </summary>
    internal static partial class CpuEmitter
    {
        /// <summary>Emits one check per kernel scalar, after the host statements of <c>CreateKernel</c>.</summary>
        private static void EmitScalarChecks(SourceWriter w, UpdateProgram program)
        {
            HashSet<string> divisors = DivisorScalars(program);
            w.Line();
            w.Line("// Every per-step scalar must be finite in float32, and a divisor's must not round to 0: checked before any element is written.");
            foreach (HostStatement scalar in program.KernelScalars)
            {
                string method = divisors.Contains(scalar.Name) ? "RequireFiniteNonzero" : "RequireFinite";
                w.Line($"global::OptGen.Kernels.StepScalars.{method}({scalar.Name}, {Literal(scalar.Name)}, {Literal(scalar.Comment)}, step);");
            }
        }

        /// <summary>Emits the <c>ValidateStepScalars</c> override: <c>CreateKernel</c> for its checks alone.</summary>
        private static void EmitValidateStepScalars(SourceWriter w, bool hasHostState, bool batchSize)
        {
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Open(batchSize
                ? "protected override void ValidateStepScalars(global::System.ReadOnlySpan<double> hyperparameters, global::System.ReadOnlySpan<double> hostState, long step, double gradientScale, double batchSize)"
                : "protected override void ValidateStepScalars(global::System.ReadOnlySpan<double> hyperparameters, global::System.ReadOnlySpan<double> hostState, long step, double gradientScale)");
            string batchArgument = batchSize ? ", batchSize" : string.Empty;

            // A call statement, not '_ = …': a member of the user's class named '_' would make that an assignment to it.
            w.Line(hasHostState
                ? $"CreateKernel(hyperparameters, hostState, step, gradientScale{batchArgument});"
                : $"CreateKernel(hyperparameters, step, gradientScale{batchArgument});");
            w.Close();
        }

        /// <summary>
        /// The kernel scalars the update divides by: those in the right operand of a division (not a safe division,
        /// which maps a zero divisor to 0), directly or through element locals computed in the same step. State
        /// buffers are not followed: a state may be 0, and the scalars that update it may be 0.
        /// </summary>
        internal static HashSet<string> DivisorScalars(UpdateProgram program)
        {
            var locals = new HashSet<string>(program.Body.Where(s => s.DeclaresLocal).Select(s => s.Target));
            var names = new HashSet<string>();
            bool changed = true;
            while (changed)
            {
                changed = false;
                foreach (ElementStatement statement in program.Body)
                {
                    IEnumerable<Expr> sources = Divisors(statement.Value);
                    if (locals.Contains(statement.Target) && names.Contains(statement.Target))
                    {
                        sources = sources.Concat(new[] { statement.Value });
                    }

                    foreach (Expr leaf in sources.SelectMany(Leaves))
                    {
                        if (leaf.Op == ExprOp.Scalar || (leaf.Op == ExprOp.Variable && locals.Contains(leaf.Name)))
                        {
                            changed |= names.Add(leaf.Name);
                        }
                    }
                }
            }

            names.IntersectWith(program.KernelScalars.Select(s => s.Name));
            return names;
        }

        private static IEnumerable<Expr> Divisors(Expr e)
        {
            if (e.Op == ExprOp.Divide)
            {
                yield return e.Args[1];
            }

            foreach (Expr argument in e.Args)
            {
                foreach (Expr divisor in Divisors(argument))
                {
                    yield return divisor;
                }
            }
        }
    }
}
