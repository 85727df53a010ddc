using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>How a reduction combines a tensor's elements; the names are the runtime's <c>OptGen.ReductionKind</c>.</summary>
    internal enum ReductionKind
    {
        Sum,
        Mean,
        Norm,
        MaxAbs,
    }

    /// <summary>
    /// A tensor-scope reduction of an expression rule. In the IR it is two things: an element statement
    /// <c>let Name = operand</c> (the operand, per element, at the point of the rule where the reduction is written),
    /// and every later read of the variable <c>Name</c>, which means the reduction's value for the element's tensor.
    /// Names are <c>norm_0</c>, <c>sum_1</c>, … (declared names have no '_', so they cannot collide, and the kind is
    /// part of the rule id and kernel name through the name).
    /// </summary>
    internal sealed record ReductionDecl(string Name, ReductionKind Kind)
    {
        /// <summary>The expression-language function of each kind.</summary>
        public static string FunctionOf(ReductionKind kind) => kind switch
        {
            ReductionKind.Sum => "sum",
            ReductionKind.Mean => "mean",
            ReductionKind.Norm => "norm",
            _ => "maxabs",
        };

        /// <summary>The reduction function named <paramref name="name"/>, if it is one.</summary>
        public static bool TryKind(string name, out ReductionKind kind)
        {
            foreach (ReductionKind k in new[] { ReductionKind.Sum, ReductionKind.Mean, ReductionKind.Norm, ReductionKind.MaxAbs })
            {
                if (FunctionOf(k) == name)
                {
                    kind = k;
                    return true;
                }
            }

            kind = default;
            return false;
        }

        /// <summary>"sum, mean, norm, maxabs", for messages.</summary>
        public static string Names => "sum, mean, norm, maxabs";
    }

    /// <summary>
    /// One pass over memory of a rule with reductions: its element statements and the streams it loads and stores.
    /// </summary>
    /// <param name="Body">The statements, in order (in pass 1 the reductions' operand statements are among them).</param>
    /// <param name="Reads">The streams loaded (p, g, state symbols), in storage order.</param>
    /// <param name="Writes">The streams stored.</param>
    internal sealed record PassModel(EquatableArray<ElementStatement> Body, EquatableArray<string> Reads, EquatableArray<string> Writes)
    {
        public int BytesRead => 4 * Reads.Count;

        public int BytesWritten => 4 * Writes.Count;
    }

    /// <summary>The passes of a rule with reductions: pass 1 reduces, pass 2 updates with the tensor's results.</summary>
    internal sealed record PassPlan(EquatableArray<ReductionDecl> Reductions, PassModel Reduce, PassModel Update)
    {
        public int BytesRead => Reduce.BytesRead + Update.BytesRead;

        public int BytesWritten => Reduce.BytesWritten + Update.BytesWritten;
    }

    /// <summary>
    /// Splits a rule with reductions into the fewest passes: two, since the binder refuses a reduction that depends
    /// on another (OPTG0115). A statement is <em>tainted</em> when it reads a reduction's value or a tainted variable;
    /// pass 1 runs the untainted statements the reductions' operands need, pass 2 the rest.
    /// <para>Store or recompute: a state (or p) whose every write is untainted is stored by pass 1 and only loaded
    /// by pass 2 (the same bytes as recomputing it — pass 1 writes it, pass 2 reads it, where recomputing would read
    /// it in pass 1 and read and write it in pass 2 — but pass 2 then need not read what it was computed from, such
    /// as g). This holds unless pass 2 would read an older value of it; then it is recomputed in pass 2 from the
    /// value in memory, which pass 1 then leaves alone. Element locals are always recomputed: storing one would write
    /// and read a scratch plane (8 bytes per element) where recomputing reads at most what pass 2 loads anyway.</para>
    /// </summary>
    internal static class PassPlanner
    {
        /// <summary>The plan, or null when no reduction is left in <paramref name="program"/> (its value unused and removed).</summary>
        public static PassPlan? Plan(UpdateProgram program)
        {
            var body = program.Body.ToList();
            var reductions = program.Reductions.Where(r => body.Any(s => s.DeclaresLocal && s.Target == r.Name)).ToList();
            if (reductions.Count == 0)
            {
                return null;
            }

            var names = new HashSet<string>(reductions.Select(r => r.Name));
            var states = program.States.Select(s => s.Symbol).ToList();
            var memory = new List<string> { "p" };
            memory.AddRange(states);
            var streams = new List<string> { "p", "g" };
            streams.AddRange(states);

            // Taint, statement by statement (a reduction's operand statement is never tainted: the binder checks).
            var tainted = new bool[body.Count];
            var taintedVariables = new HashSet<string>();
            for (int i = 0; i < body.Count; i++)
            {
                bool operand = IsOperand(body[i], names);
                tainted[i] = !operand && Variables(body[i].Value).Any(v => names.Contains(v) || taintedVariables.Contains(v));
                if (operand)
                {
                    continue;
                }

                if (tainted[i])
                {
                    taintedVariables.Add(body[i].Target);
                }
                else
                {
                    taintedVariables.Remove(body[i].Target);
                }
            }

            // Stored by pass 1: every write untainted, and pass 2 never reads an older value.
            var stored = new HashSet<string>(memory.Where(x =>
                Enumerable.Range(0, body.Count).Any(i => body[i].Target == x && !body[i].DeclaresLocal)
                && Enumerable.Range(0, body.Count).All(i => body[i].Target != x || !tainted[i])));
            bool changed = true;
            while (changed)
            {
                changed = false;
                foreach (string x in stored.ToList())
                {
                    int lastWrite = Enumerable.Range(0, body.Count).Last(i => body[i].Target == x && !body[i].DeclaresLocal);
                    for (int i = 0; i <= lastWrite && stored.Contains(x); i++)
                    {
                        if (InUpdatePass(body[i], tainted[i], names, stored) && Variables(body[i].Value).Contains(x))
                        {
                            stored.Remove(x);
                            changed = true;
                        }
                    }
                }
            }

            var reduce = Live(
                Enumerable.Range(0, body.Count).Where(i => !tainted[i]).Select(i => body[i]).ToList(),
                new HashSet<string>(stored),
                names);
            var update = Live(
                Enumerable.Range(0, body.Count).Where(i => InUpdatePass(body[i], tainted[i], names, stored)).Select(i => body[i]).ToList(),
                new HashSet<string>(memory.Where(x => !stored.Contains(x))),
                new HashSet<string>());

            return new PassPlan(
                reductions.ToEquatableArray(),
                Pass(reduce, streams, memory.Where(stored.Contains)),
                Pass(update, streams, memory.Where(x => update.Any(s => s.Target == x && !s.DeclaresLocal))));
        }

        private static PassModel Pass(List<ElementStatement> body, List<string> streams, IEnumerable<string> writes)
        {
            HashSet<string> read = StateAccess.Read(body, streams);
            return new PassModel(body.ToEquatableArray(), streams.Where(read.Contains).ToEquatableArray(), writes.ToEquatableArray());
        }

        /// <summary>Pass 2 runs a statement unless it is a reduction's operand or an untainted write of a state pass 1 stores.</summary>
        private static bool InUpdatePass(ElementStatement s, bool tainted, HashSet<string> reductions, HashSet<string> stored) =>
            !IsOperand(s, reductions) && (tainted || s.DeclaresLocal || !stored.Contains(s.Target));

        private static bool IsOperand(ElementStatement s, HashSet<string> reductions) => s.DeclaresLocal && reductions.Contains(s.Target);

        /// <summary>
        /// The statements of <paramref name="candidates"/> that matter (backward liveness): those whose target is
        /// live at the end (<paramref name="liveAtEnd"/>: the streams the pass stores) or read later, and the
        /// reductions' operands (<paramref name="operands"/>).
        /// </summary>
        private static List<ElementStatement> Live(List<ElementStatement> candidates, HashSet<string> liveAtEnd, HashSet<string> operands)
        {
            var live = liveAtEnd;
            var kept = new List<ElementStatement>();
            for (int i = candidates.Count - 1; i >= 0; i--)
            {
                ElementStatement s = candidates[i];
                if (IsOperand(s, operands) || live.Contains(s.Target))
                {
                    live.Remove(s.Target);
                    live.UnionWith(Variables(s.Value));
                    kept.Add(s);
                }
            }

            kept.Reverse();
            return kept;
        }

        internal static IEnumerable<string> Variables(Expr e) =>
            e.Op == ExprOp.Variable ? new[] { e.Name } : e.Args.SelectMany(Variables);
    }
}
