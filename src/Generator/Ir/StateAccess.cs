using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>
    /// Which state buffers a per-element program really reads and writes, for the traffic accounting and for the
    /// emitted loads and stores: a state is read when some statement uses its stored value (before the program
    /// overwrites it), and written when some statement assigns it. A state that is only written is not loaded; a
    /// state that is only read is not stored.
    /// </summary>
    internal static class StateAccess
    {
        public static HashSet<string> Read(IEnumerable<ElementStatement> body, IEnumerable<string> states)
        {
            var all = new HashSet<string>(states);
            var written = new HashSet<string>();
            var read = new HashSet<string>();
            foreach (ElementStatement statement in body)
            {
                foreach (string name in Variables(statement.Value))
                {
                    if (all.Contains(name) && !written.Contains(name))
                    {
                        read.Add(name);
                    }
                }

                if (!statement.DeclaresLocal && all.Contains(statement.Target))
                {
                    written.Add(statement.Target);
                }
            }

            return read;
        }

        public static HashSet<string> Written(IEnumerable<ElementStatement> body, IEnumerable<string> states)
        {
            var all = new HashSet<string>(states);
            return new HashSet<string>(body.Where(s => !s.DeclaresLocal && all.Contains(s.Target)).Select(s => s.Target));
        }

        /// <summary>
        /// The states the program neither reads nor writes, in declaration order: declared, allocated for every
        /// parameter and checkpointed, yet always 0 (OPTG0138). Statements that cannot change the result are gone by
        /// then (<see cref="PostPass"/>), so a state that only a dead local or <c>m = m</c> mentions counts as unused.
        /// </summary>
        public static IEnumerable<string> Unused(IEnumerable<ElementStatement> body, IEnumerable<string> states)
        {
            var statements = body.ToList();
            var used = new HashSet<string>(statements.SelectMany(s => Variables(s.Value)));
            used.UnionWith(statements.Where(s => !s.DeclaresLocal).Select(s => s.Target));
            return states.Where(s => !used.Contains(s));
        }

        private static IEnumerable<string> Variables(Expr e) =>
            e.Op == ExprOp.Variable ? new[] { e.Name } : e.Args.SelectMany(Variables);
    }
}
