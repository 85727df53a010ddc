using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>
    /// Which hyperparameters and host values a lowered program reads as it runs (after the post-pass has dropped what
    /// cannot change the result): the host statements left (the kernel scalars and what they are computed from), the
    /// carried host states' advances, the hyperparameters that hold a state's initial value, and the seed of a rule
    /// that draws random numbers. A declared hyperparameter or step scalar outside these is never used (OPTG0139,
    /// OPTG0140).
    /// </summary>
    internal static class HostReads
    {
        /// <summary>The hyperparameter whose value seeds a rule's <c>randn()</c>/<c>rand()</c> draws; without one the seed is 0.</summary>
        internal const string SeedHyperparameter = "Seed";

        /// <summary>The names of the hyperparameters <paramref name="program"/> reads.</summary>
        public static HashSet<string> Hyperparameters(UpdateProgram program)
        {
            var names = new HashSet<string>(System.StringComparer.Ordinal);
            foreach (HostStatement host in program.Host)
            {
                Leaves(host.Value, ExprOp.Hyperparameter, names);
            }

            foreach (HostStateDecl state in program.HostStates)
            {
                Leaves(state.Advance, ExprOp.Hyperparameter, names);
            }

            names.UnionWith(program.States.Where(s => s.InitialValue.Length > 0).Select(s => s.InitialValue));
            if (program.Body.Any(s => Expr.Draws(s.Value)))
            {
                names.Add(SeedHyperparameter);
            }

            return names;
        }

        /// <summary>The names of the host statements <paramref name="program"/> computes (the post-pass drops the others).</summary>
        public static HashSet<string> HostValues(UpdateProgram program) => new(program.Host.Select(h => h.Name), System.StringComparer.Ordinal);

        /// <summary>Adds the names of <paramref name="e"/>'s leaves of kind <paramref name="op"/> to <paramref name="names"/>.</summary>
        public static void Leaves(Expr e, ExprOp op, HashSet<string> names)
        {
            if (e.Op == op)
            {
                names.Add(e.Name);
            }

            foreach (Expr arg in e.Args)
            {
                Leaves(arg, op, names);
            }
        }
    }
}
