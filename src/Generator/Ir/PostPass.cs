using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>
    /// The back half both front ends share: from a built program to the model the emitters print.
    /// <list type="number">
    /// <item>Comparands made distinct (<c>x != x</c> stays a NaN test without CS1718).</item>
    /// <item>Dead code removed: self-assignments and locals nothing reads (C# would warn).</item>
    /// <item>Hoisting: every largest subexpression of an element statement that is the same for all elements becomes
    /// a kernel scalar computed once per step in double (<see cref="Hoist"/>).</item>
    /// <item>Host values nothing reads dropped; every host value's comment printed from its formula.</item>
    /// <item>The rule in math notation printed from the program (attribute rules; an expression rule's is its source).</item>
    /// <item>The kernel: its state and scalar lists, body and memory traffic (<see cref="StateAccess"/>), and the
    /// rule id and kernel name from the versioned <see cref="CanonicalForm"/>.</item>
    /// </list>
    /// Programs the attribute front end builds come through steps 1–3 unchanged (they hold no uniform
    /// subexpressions, dead locals or self-comparisons); the steps run for both so neither front end can drift.
    /// </summary>
    internal static class PostPass
    {
        public static OptimizerModel Finish(TypeDeclarationInfo type, string ruleName, UpdateProgram built, FrontEnd frontEnd)
        {
            built = ElementInputs.Scaled(built);
            var host = built.Host.Select(h => h with { Value = DistinctComparands(h.Value) }).ToList();
            var body = WithoutDeadCode(built.Body.Select(s => s with { Value = DistinctComparands(s.Value) }));
            body = Hoist(host, body);
            RemoveUnreadHostValues(host);

            UpdateProgram program = built with { Host = host.ToEquatableArray(), Body = body.ToEquatableArray() };
            MathText.Symbols symbols = MathText.Symbols.Of(program);
            program = program with { Host = program.Host.Select(h => h with { Comment = MathText.Print(h.Value, symbols) }).ToEquatableArray() };
            if (frontEnd == FrontEnd.Attributes)
            {
                program = program with { RuleMath = RuleText.Lines(program).ToEquatableArray() };
            }

            return new OptimizerModel(type, ruleName, program, KernelOf(program, frontEnd), CanonicalForm.RuleId(program, frontEnd));
        }

        /// <summary>The kernel: p and g always move; a state counts where the program reads or writes it.</summary>
        public static KernelModel KernelOf(UpdateProgram program, FrontEnd frontEnd)
        {
            var states = program.States.Select(s => s.Symbol).ToEquatableArray();
            var scalars = program.KernelScalars.Select(s => s.Name).ToEquatableArray();
            EquatableArray<string> inputs = ElementInputs.Read(program.Body).Select(i => i.Symbol).ToEquatableArray();
            int bytesRead = 4 * (2 + inputs.Count + StateAccess.Read(program.Body, states).Count);
            int bytesWritten = 4 * (1 + StateAccess.Written(program.Body, states).Count);
            if (PassPlanner.Plan(program) is PassPlan passes)
            {
                return new KernelModel(CanonicalForm.KernelName(program, frontEnd), states, scalars, program.Body, passes.BytesRead, passes.BytesWritten) { Inputs = inputs, Passes = passes };
            }

            return new KernelModel(CanonicalForm.KernelName(program, frontEnd), states, scalars, program.Body, bytesRead, bytesWritten) { Inputs = inputs };
        }

        /// <summary>
        /// Rewrites each element statement so that every largest subexpression that is the same for all elements (made
        /// of numbers, t, hyperparameters and host values) reads a kernel scalar, computed once per step on the host in
        /// double and rounded to float32: <c>(1 - Beta1) * g</c> multiplies g by the float32 of the double 1 − β₁, as
        /// the attribute Adam does. A hyperparameter or host value used alone becomes a field of its own name (first
        /// letter upper case); others are named <c>K_0</c>, <c>K_1</c>, … (no declared name has '_'). A kernel scalar
        /// already in the statement stays.
        /// </summary>
        /// <summary>
        /// Where the fused multiply-adds of <paramref name="e"/> are, node by node in pre-order ('f' fused, '.' not).
        /// The canonical form spells a fused multiply-add as its math (rule ids stay those of the unfused rule), so
        /// <c>fma(A, B, Lr)</c> and <c>A * B + Lr</c> have one canonical text; the hoisting key adds these marks so that
        /// each keeps its own kernel scalar and its own rounding.
        /// </summary>
        private static string FusedMarks(Expr e)
        {
            var marks = new System.Text.StringBuilder("|");
            var pending = new Stack<Expr>();
            pending.Push(e);
            while (pending.Count > 0)
            {
                Expr x = pending.Pop();
                marks.Append(x.Op == ExprOp.MultiplyAdd ? 'f' : '.');
                for (int i = x.Args.Count - 1; i >= 0; i--)
                {
                    pending.Push(x.Args[i]);
                }
            }

            return marks.ToString();
        }

        private static List<ElementStatement> Hoist(List<HostStatement> host, List<ElementStatement> body)
        {
            var hoisted = new Dictionary<string, string>();
            int numbered = 0;

            string ScalarFor(Expr uniform)
            {
                string key = CanonicalForm.Expression(uniform) + FusedMarks(uniform);
                if (hoisted.TryGetValue(key, out string? existing))
                {
                    return existing;
                }

                string name;
                switch (uniform.Op)
                {
                    case ExprOp.Hyperparameter:
                        name = Pascal(uniform.Name);
                        host.Add(new HostStatement(name, uniform, true, string.Empty));
                        break;
                    case ExprOp.HostValue when Pascal(uniform.Name) == uniform.Name:
                        // The host value's own statement becomes the field.
                        name = uniform.Name;
                        int index = host.FindIndex(h => h.Name == name);
                        host[index] = host[index] with { IsKernelScalar = true };
                        break;
                    case ExprOp.HostValue:
                        name = Pascal(uniform.Name);
                        host.Add(new HostStatement(name, uniform, true, string.Empty));
                        break;
                    default:
                        name = "K_" + numbered++.ToString(System.Globalization.CultureInfo.InvariantCulture);
                        host.Add(new HostStatement(name, uniform, true, string.Empty));
                        break;
                }

                hoisted.Add(key, name);
                return name;
            }

            Expr Rewrite(Expr e)
            {
                if (e.Op is ExprOp.Constant or ExprOp.Variable or ExprOp.Scalar or ExprOp.RandomNormal or ExprOp.RandomUniform)
                {
                    return e;
                }

                if (Expr.IsUniform(e) && !Expr.IsComparison(e.Op))
                {
                    return Expr.Scalar(ScalarFor(e));
                }

                // x / s with s the same for every element: the host computes 1/s in double once per step and the
                // element multiplies. A division costs several times a multiply on every CPU and bounds the step
                // when the data fits in cache; the result differs from x / s by at most an ulp or so. A literal
                // divisor is left as written.
                if (e.Op == ExprOp.Divide && e.Args[1].Op is not (ExprOp.Constant or ExprOp.Scalar) && Expr.IsUniform(e.Args[1]))
                {
                    return Rewrite(e.Args[0]) * Expr.Scalar(ScalarFor(Expr.Constant(1) / e.Args[1]));
                }

                return new Expr(e.Op, e.Value, e.Name, e.Args.Select(Rewrite).ToEquatableArray());
            }

            return body.Select(s => s with { Value = Rewrite(s.Value) }).ToList();
        }

        /// <summary>A host value that is not a kernel scalar and that no later host value reads is not computed (C# would warn about the unused local).</summary>
        private static void RemoveUnreadHostValues(List<HostStatement> host)
        {
            for (int i = host.Count - 1; i >= 0; i--)
            {
                string name = host[i].Name;
                if (!host[i].IsKernelScalar && !host.Skip(i + 1).Any(h => ReadsHost(h.Value, name)))
                {
                    host.RemoveAt(i);
                }
            }
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
            if (Expr.IsComparison(e.Op) && args[0] == args[1])
            {
                args[1] = args[1] + Expr.Constant(0);
            }

            return new Expr(e.Op, e.Value, e.Name, args.ToEquatableArray());
        }

        /// <summary>A name with its first letter upper case: the kernel field of a hoisted hyperparameter or host value, and the property of an expression rule's symbol.</summary>
        internal static string Pascal(string name) => char.ToUpperInvariant(name[0]) + name.Substring(1);

        private static bool ReadsHost(Expr e, string name) => (e.Op == ExprOp.HostValue && e.Name == name) || e.Args.Any(a => ReadsHost(a, name));

        private static bool Reads(Expr e, string name) => (e.Op == ExprOp.Variable && e.Name == name) || e.Args.Any(a => Reads(a, name));
    }
}
