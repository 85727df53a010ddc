using System;
using System.Collections.Generic;
using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// The parts of numbers alone that a kernel scalar which depends on t or a hyperparameter receives as they are on
    /// some step: <c>t == 1 ? 1e30 * 1e30 : 1</c> is 1e60 on step 1, which float32 cannot hold, so <c>Step</c> would
    /// throw then. A kernel scalar made of numbers alone is checked whole (<see cref="CheckLowered"/>); inside one
    /// that is not, a part of numbers alone is only an intermediate value of a double computation unless the kernel
    /// scalar can take its value: a branch of <c>? :</c>, through negation, or a bound of <c>max</c>/<c>min</c>
    /// beyond float32 on the side that bound forces. Everything else (<c>Lr * exp(100)</c>) depends on values only
    /// <c>Step</c> knows, and is checked there.
    /// </summary>
    internal static partial class ExpressionRules
    {
        /// <summary>How a part's value reaches the kernel scalar: as it is, or as a bound that the scalar's value is at least (max) or at most (min).</summary>
        private enum Reach
        {
            Exactly,
            AtLeast,
            AtMost,
        }

        /// <summary>A part of numbers alone that a kernel scalar receives on some step, and what float32 makes of it there.</summary>
        /// <param name="Part">The part, as bound.</param>
        /// <param name="Value">Its value in double (the reciprocal's value where <paramref name="Reciprocal"/>).</param>
        /// <param name="Reciprocal">The kernel scalar is 1 over the part (a division hoisted as a multiplication).</param>
        /// <param name="StepScalar">The step scalar whose expression holds the part, or null for an [Update] statement.</param>
        /// <param name="Problem">"∞", "−∞" or "0".</param>
        /// <param name="Reach">Whether the kernel scalar is the part (up to sign) on the steps that select it, or only bounded by it.</param>
        private sealed record ReceivedPart(Expr Part, double Value, bool Reciprocal, string? StepScalar, string Problem, Reach Reach);

        /// <summary>The parts of numbers alone of <paramref name="value"/> (a kernel scalar's value) that float32 cannot hold where the kernel receives them.</summary>
        /// <param name="value">The kernel scalar's value.</param>
        /// <param name="host">The program's host statements by name: a step scalar the value reads as it is is followed into its expression.</param>
        /// <param name="hostConstant">The value of a host statement made of numbers alone, by name, else null.</param>
        private static List<ReceivedPart> ReceivedParts(Expr value, IReadOnlyDictionary<string, HostStatement> host, Func<string, double?> hostConstant)
        {
            // An explicit stack, not recursion: a chain of step scalars that each read the previous one may be as long
            // as the declaration makes it, and the generator must not run out of stack on any input.
            var found = new List<ReceivedPart>();
            var pending = new Stack<(Expr Part, Reach Reach, bool Reciprocal, string? StepScalar)>();
            var followed = new HashSet<(string, Reach, bool)>();
            pending.Push((value, Reach.Exactly, false, null));
            while (pending.Count > 0)
            {
                (Expr e, Reach reach, bool reciprocal, string? stepScalar) = pending.Pop();
                if (ConstantFold.Value(e, hostConstant) is double constant)
                {
                    double received = reciprocal ? 1 / constant : constant;
                    string? problem = double.IsNaN(received) ? null : HyperparameterRanges.Float32Problem(received, zeroAllowed: false);
                    bool forced = reach switch
                    {
                        Reach.AtLeast => problem == "∞",
                        Reach.AtMost => problem == "−∞",
                        _ => problem is not null,
                    };
                    if (forced)
                    {
                        found.Add(new ReceivedPart(e, received, reciprocal, stepScalar, problem!, reach));
                    }

                    continue;
                }

                switch (e.Op)
                {
                    case ExprOp.Select:
                        pending.Push((e.Args[2], reach, reciprocal, stepScalar));
                        pending.Push((e.Args[1], reach, reciprocal, stepScalar));
                        break;
                    case ExprOp.Negate when !reciprocal:
                        pending.Push((e.Args[0], reach == Reach.AtLeast ? Reach.AtMost : reach == Reach.AtMost ? Reach.AtLeast : Reach.Exactly, reciprocal, stepScalar));
                        break;
                    case ExprOp.Max when reach != Reach.AtMost && !reciprocal:
                        pending.Push((e.Args[1], Reach.AtLeast, reciprocal, stepScalar));
                        pending.Push((e.Args[0], Reach.AtLeast, reciprocal, stepScalar));
                        break;
                    case ExprOp.Min when reach != Reach.AtLeast && !reciprocal:
                        pending.Push((e.Args[1], Reach.AtMost, reciprocal, stepScalar));
                        pending.Push((e.Args[0], Reach.AtMost, reciprocal, stepScalar));
                        break;
                    case ExprOp.Divide when e.Args[0] is { Op: ExprOp.Constant, Value: 1 } && reach == Reach.Exactly && !reciprocal:
                        pending.Push((e.Args[1], reach, true, stepScalar));
                        break;
                    case ExprOp.HostValue when host.TryGetValue(e.Name, out HostStatement? statement) && followed.Add((e.Name, reach, reciprocal)):
                        // Into the step scalar's own expression, once per way it is reached.
                        pending.Push((statement.Value, reach, reciprocal, e.Name));
                        break;
                }
            }

            return found;
        }
    }
}
