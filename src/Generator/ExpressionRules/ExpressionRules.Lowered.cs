using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using OptGen.Generator.Diagnostics;
using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// The checks of an expression rule that need its lowered program (<see cref="ExpressionLowering"/>, which the
    /// pipeline runs again from the spec): which states the final kernel never touches, and which kernel scalars are
    /// made of numbers alone and so have a value known now.
    /// </summary>
    internal static partial class ExpressionRules
    {
        /// <summary>
        /// Lowers a bound rule and reports, at the argument that caused each:
        /// <list type="bullet">
        /// <item>OPTG0138 (warning) for a [State] that no statement of the final program reads or writes;</item>
        /// <item>OPTG0024 for a kernel scalar made of numbers alone (hoisted from an [Update], or a step scalar of
        /// numbers alone used there) whose double value float32 cannot hold: the generated <c>CreateKernel</c> would
        /// throw on every step (<c>StepScalars.RequireFinite</c>), so the rule could never run: ±∞ or NaN once rounded
        /// to float32. A nonzero value that rounds to 0 is reported too, as a number written in an [Update] is
        /// (<c>Binder.RequireFloat32</c>): the term would vanish, and a divisor's would make <c>Step</c> throw.</item>
        /// </list>
        /// </summary>
        private static void CheckLowered(ExpressionRuleSpec spec, string className, Location nameLocation, Dictionary<string, Location?> stateLocations, List<Origin> origins, List<DiagnosticInfo> diagnostics)
        {
            UpdateProgram program = ExpressionLowering.Lower(spec).Program;

            var constants = new Dictionary<string, double>(System.StringComparer.Ordinal);
            double? HostConstant(string name) => constants.TryGetValue(name, out double value) ? value : null;
            HashSet<string> divisors = Emit.CpuEmitter.DivisorScalars(program);
            foreach (HostStatement host in program.Host)
            {
                if (ConstantFold.Value(host.Value, HostConstant) is not double value)
                {
                    continue;
                }

                constants[host.Name] = value;
                string? problem = double.IsNaN(value) ? "NaN" : HyperparameterRanges.Float32Problem(value, zeroAllowed: false);
                if (host.IsKernelScalar && problem is not null)
                {
                    (Origin? origin, bool reciprocal) = Locate(host.Value, origins);
                    string what = origin is null ? $"The per-step value {host.Name} = {host.Comment}"
                        : reciprocal ? $"The reciprocal of '{origin.Text.Value!.Substring(origin.Start, origin.Length)}' in {origin.What} (the kernel multiplies by it instead of dividing)"
                        : $"'{origin.Text.Value!.Substring(origin.Start, origin.Length)}' in {origin.What}";
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotFloat32, origin?.Text.Location(origin.Start, origin.Length) ?? nameLocation,
                        what, Parser.Format(value), problem + (problem == "0" && divisors.Contains(host.Name) ? " (and the update divides by it)" : string.Empty)));
                }
            }

            foreach (string state in StateAccess.Unused(program.Body, program.States.Select(s => s.Symbol)))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnusedState, stateLocations.TryGetValue(state, out Location? at) ? at : nameLocation,
                    state, className, $"[State(\"{state}\")]"));
            }
        }

        /// <summary>
        /// The smallest bound part of the rule's [Update] statements that contains <paramref name="part"/> (a hoisted
        /// value), or null, and whether the kernel scalar is the reciprocal of that part. The post-pass hoists <c>1 / s</c> for a division by <c>s</c> and writes a comparison of a
        /// value with itself as <c>x op (x + 0)</c>, so their operand is looked for too.
        /// </summary>
        private static (Origin? Origin, bool Reciprocal) Locate(Expr part, List<Origin> origins)
        {
            var candidates = new List<(Expr Part, bool Reciprocal)> { (part, false) };
            if (part.Op == ExprOp.Divide && part.Args[0] is { Op: ExprOp.Constant, Value: 1 })
            {
                candidates.Add((part.Args[1], true));
            }

            if (part.Op == ExprOp.Add && part.Args[1] is { Op: ExprOp.Constant, Value: 0 })
            {
                candidates.Add((part.Args[0], false));
            }

            foreach ((Expr candidate, bool reciprocal) in candidates)
            {
                Origin? best = null;
                foreach (Origin origin in origins)
                {
                    if ((best is null || origin.Length < best.Length) && Contains(origin.Expr, candidate))
                    {
                        best = origin;
                    }
                }

                if (best is not null)
                {
                    return (best, reciprocal);
                }
            }

            return (null, false);
        }

        private static bool Contains(Expr e, Expr part) => e == part || e.Args.Any(a => Contains(a, part));

        private sealed partial class Scope
        {
            /// <summary>Every bound part of the [Update] statements, where it is written: the kernel scalars' checks locate their findings with them.</summary>
            public List<Origin> Origins { get; } = new();
        }

        /// <summary>A bound part of an [Update] statement and its place in the string.</summary>
        private sealed record Origin(Expr Expr, StringArgument Text, int Start, int Length, string What);
    }
}
