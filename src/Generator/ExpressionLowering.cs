using System.Collections.Generic;
using System.Linq;
using System.Text;
using OptGen.Generator.Emit;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// Phase 2 for expression rules: turns a bound <see cref="ExpressionRuleSpec"/> into the same update IR the
    /// building blocks lower to, so it gets the same kernels, snapshots and traffic accounting.
    /// <list type="bullet">
    /// <item>The runtime's gradient factor comes first, as for every rule: <c>g ← g·GradientScale</c>.</item>
    /// <item>Every largest subexpression of a statement that is the same for all elements (made of numbers, t,
    /// hyperparameters and step scalars) is hoisted into a kernel scalar, computed once per step on the host in
    /// double and rounded to float32: <c>(1 - Beta1) * g</c> multiplies g by the float32 of the double 1 − β₁, as the
    /// building-block Adam does. A hyperparameter or step scalar used alone becomes a field of its own name (first
    /// letter upper case); other hoisted values are named <c>K_0</c>, <c>K_1</c>, … (user names have no '_').</item>
    /// </list>
    /// </summary>
    internal static class ExpressionLowering
    {
        public static OptimizerModel Lower(ExpressionRuleSpec spec)
        {
            var host = spec.StepScalars.Select(h => h with { Value = DistinctComparands(h.Value) }).ToList();
            var hoisted = new Dictionary<string, string>();
            var body = new List<ElementStatement>
            {
                new("g", Expr.Var("g") * Expr.Scalar("GradientScale"), false, "Unscale and clip the gradient in the same pass (a factor of 1 leaves it exact)."),
            };
            host.Add(new HostStatement("GradientScale", Expr.RuntimeInput("GradientScale"), true, "the runtime's gradient factor (unscaling, clipping); 1 by default"));

            string ScalarFor(Expr uniform)
            {
                string key = ExprText.Canonical(uniform);
                if (hoisted.TryGetValue(key, out string? existing))
                {
                    return existing;
                }

                string name;
                switch (uniform.Op)
                {
                    case ExprOp.Hyperparameter:
                        name = ExpressionRules.Pascal(uniform.Name);
                        host.Add(new HostStatement(name, uniform, true, uniform.Name));
                        break;
                    case ExprOp.HostValue when ExpressionRules.Pascal(uniform.Name) == uniform.Name:
                        // The step scalar's own host statement becomes the field.
                        name = uniform.Name;
                        int index = host.FindIndex(h => h.Name == name);
                        host[index] = host[index] with { IsKernelScalar = true };
                        break;
                    case ExprOp.HostValue:
                        name = ExpressionRules.Pascal(uniform.Name);
                        host.Add(new HostStatement(name, uniform, true, uniform.Name));
                        break;
                    default:
                        name = "K_" + hoisted.Count(h => h.Value.StartsWith("K_", System.StringComparison.Ordinal)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                        host.Add(new HostStatement(name, uniform, true, key));
                        break;
                }

                hoisted.Add(key, name);
                return name;
            }

            Expr Rewrite(Expr e)
            {
                if (e.Op is ExprOp.Constant or ExprOp.Variable or ExprOp.RandomNormal or ExprOp.RandomUniform)
                {
                    return e;
                }

                if (IsUniform(e) && !IsComparison(e.Op))
                {
                    return Expr.Scalar(ScalarFor(e));
                }

                // x / s with s the same for every element: the host computes 1/s in double once per step and the
                // element multiplies. A division costs several times a multiply on every CPU and bounds the step
                // when the data fits in cache; the result differs from x / s by at most an ulp or so. A literal
                // divisor is left as written.
                if (e.Op == ExprOp.Divide && e.Args[1].Op != ExprOp.Constant && IsUniform(e.Args[1]))
                {
                    return Rewrite(e.Args[0]) * Expr.Scalar(ScalarFor(Expr.Constant(1) / e.Args[1]));
                }

                return new Expr(e.Op, e.Value, e.Name, e.Args.Select(Rewrite).ToEquatableArray());
            }

            foreach (ElementStatement statement in WithoutDeadCode(spec.Body))
            {
                string comment = statement.Comment.Length > 0
                    ? statement.Comment
                    : (statement.DeclaresLocal ? "let " : string.Empty) + statement.Target + " = " + ExprText.Canonical(statement.Value);
                body.Add(new ElementStatement(statement.Target, Rewrite(DistinctComparands(statement.Value)), statement.DeclaresLocal, comment));
            }

            // A step scalar nothing reads is not computed (C# would warn about the unused local).
            for (int i = host.Count - 1; i >= 0; i--)
            {
                string name = host[i].Name;
                if (!host[i].IsKernelScalar && !host.Skip(i + 1).Any(h => ReadsHost(h.Value, name)))
                {
                    host.RemoveAt(i);
                }
            }

            var rule = new List<string> { "g ← g·GradientScale" };
            rule.AddRange(spec.Source);
            var program = new UpdateProgram(spec.Hyperparameters, spec.States, host.ToEquatableArray(), body.ToEquatableArray(), rule.ToEquatableArray());
            KernelModel kernel = KernelOf(program);
            return new OptimizerModel(spec.Type, spec.RuleName, program, kernel, Hash.Fnv64("expr|" + Canonical(program)).ToString("x16"));
        }

        /// <summary>
        /// Drops statements that cannot change the result, which C# would warn about in the generated code: a
        /// self-assignment <c>x = x</c>, and an assignment to a local that no later statement reads.
        /// </summary>
        private static List<ElementStatement> WithoutDeadCode(IEnumerable<ElementStatement> statements)
        {
            var body = statements.Where(s => !(s.Value.Op == ExprOp.Variable && s.Value.Name == s.Target)).ToList();
            var locals = new HashSet<string>(body.Where(s => s.DeclaresLocal).Select(s => s.Target));
            bool changed = true;
            while (changed)
            {
                changed = false;
                for (int i = body.Count - 1; i >= 0; i--)
                {
                    string target = body[i].Target;
                    if (locals.Contains(target) && !body.Skip(i + 1).Any(s => Reads(s.Value, target)))
                    {
                        // A dead 'let' goes only when no later statement reassigns the local either.
                        if (!body[i].DeclaresLocal || !body.Skip(i + 1).Any(s => s.Target == target))
                        {
                            body.RemoveAt(i);
                            changed = true;
                        }
                    }
                }
            }

            return body;
        }

        /// <summary>
        /// <c>x op x</c> becomes <c>x op (x + 0)</c>: C# warns about comparing a variable with itself (CS1718), yet
        /// <c>x != x</c> is how a rule tests for NaN. Adding 0 changes no comparison (−0 + 0 = +0 compares equal to −0;
        /// NaN and ±∞ stay).
        /// </summary>
        private static Expr DistinctComparands(Expr e)
        {
            if (e.Args.Count == 0)
            {
                return e;
            }

            var args = e.Args.Select(DistinctComparands).ToArray();
            if (IsComparison(e.Op) && args[0] == args[1])
            {
                args[1] = args[1] + Expr.Constant(0);
            }

            return new Expr(e.Op, e.Value, e.Name, args.ToEquatableArray());
        }

        private static bool ReadsHost(Expr e, string name) => (e.Op == ExprOp.HostValue && e.Name == name) || e.Args.Any(a => ReadsHost(a, name));

        private static bool Reads(Expr e, string name) => (e.Op == ExprOp.Variable && e.Name == name) || e.Args.Any(a => Reads(a, name));

        private static bool IsUniform(Expr e) => e.Op is not (ExprOp.Variable or ExprOp.RandomNormal or ExprOp.RandomUniform) && e.Args.All(IsUniform);

        private static bool IsComparison(ExprOp op) =>
            op is ExprOp.Less or ExprOp.LessOrEqual or ExprOp.Greater or ExprOp.GreaterOrEqual or ExprOp.Equal or ExprOp.NotEqual;

        /// <summary>The kernel: p and g always move; a state is counted where the program reads or writes it.</summary>
        private static KernelModel KernelOf(UpdateProgram program)
        {
            var states = program.States.Select(s => s.Symbol).ToEquatableArray();
            var scalars = program.KernelScalars.Select(s => s.Name).ToEquatableArray();
            int bytesRead = 4 * (2 + StateAccess.Read(program.Body, states).Count);
            int bytesWritten = 4 * (1 + StateAccess.Written(program.Body, states).Count);
            var canonical = new StringBuilder();
            canonical.Append(string.Join(",", states)).Append('|').Append(string.Join(",", scalars)).Append('|');
            foreach (ElementStatement statement in program.Body)
            {
                // The comment (the statement as written) is printed in the kernel, so it is part of its identity:
                // two rules share a kernel only when they also read the same.
                canonical.Append(statement.DeclaresLocal ? "let " : string.Empty).Append(statement.Target).Append('=').Append(ExprText.Canonical(statement.Value))
                    .Append("//").Append(statement.Comment).Append(';');
            }

            string name = "UpdateKernel_" + Hash.Fnv32(canonical.ToString()).ToString("x8");
            return new KernelModel(name, states, scalars, program.Body, bytesRead, bytesWritten);
        }

        private static string Canonical(UpdateProgram program)
        {
            var text = new StringBuilder();
            text.Append(string.Join(",", program.Hyperparameters.Select(h => h.Name))).Append('|');
            text.Append(string.Join(",", program.States.Select(s => s.Name + ":" + s.Symbol))).Append('|');
            foreach (HostStatement h in program.Host)
            {
                text.Append(h.Name).Append('=').Append(ExprText.Canonical(h.Value)).Append(h.IsKernelScalar ? "!" : string.Empty).Append(';');
            }

            text.Append('|');
            foreach (ElementStatement e in program.Body)
            {
                text.Append(e.DeclaresLocal ? "let " : string.Empty).Append(e.Target).Append('=').Append(ExprText.Canonical(e.Value)).Append(';');
            }

            return text.ToString();
        }
    }
}
