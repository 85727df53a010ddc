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
        /// <item>OPTG0141 (warning) for a [State] that the final program reads but never assigns: it is always 0;</item>
        /// <item>OPTG0139 and OPTG0140 (warnings) for a [Hyperparameter] or [StepScalar] that the final program does not read;</item>
        /// <item>OPTG0024 for a kernel scalar made of numbers alone (hoisted from an [Update], or a step scalar of
        /// numbers alone used there) whose double value float32 cannot hold: the generated <c>CreateKernel</c> would
        /// throw on every step (<c>StepScalars.RequireFinite</c>), so the rule could never run: ±∞ or NaN once rounded
        /// to float32. A nonzero value that rounds to 0 is reported too, as a number written in an [Update] is
        /// (<c>Binder.RequireFloat32</c>): the term would vanish, and a divisor's would make <c>Step</c> throw. Inside a
        /// kernel scalar that depends on t or a hyperparameter, the same for each part of numbers alone that it
        /// receives as it is on some step (<see cref="ReceivedParts"/>): a branch of <c>? :</c> (OPTG0113 for a
        /// branch 0 of a divisor).</item>
        /// </list>
        /// </summary>
        /// <param name="declarations">Where each hyperparameter, state and step scalar is declared, by its symbol.</param>
        private static void CheckLowered(ExpressionRuleSpec spec, string className, Location nameLocation, Dictionary<string, Location?> declarations, List<Origin> origins, List<DiagnosticInfo> diagnostics)
        {
            UpdateProgram program = ExpressionLowering.Lower(spec).Program;
            CheckKernelScalars(program, nameLocation, origins, diagnostics);
            Location? At(string symbol) => declarations.TryGetValue(symbol, out Location? at) && at is not null ? at : nameLocation;

            IEnumerable<string> stateSymbols = program.States.Select(s => s.Symbol);
            foreach (string state in StateAccess.Unused(program.Body, stateSymbols))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnusedState, At(state), state, className, $"[State(\"{state}\")]"));
            }

            HashSet<string> written = StateAccess.Written(program.Body, stateSymbols);
            foreach (string state in StateAccess.Read(program.Body, stateSymbols).Where(s => !written.Contains(s)).OrderBy(s => s, System.StringComparer.Ordinal))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.StateNeverWritten, At(state), state, className));
            }

            HashSet<string> readHyperparameters = HostReads.Hyperparameters(program);
            HashSet<string> readHost = HostReads.HostValues(program);

            // Mentioned in the rule as written, though not read as it runs: said in the message.
            var mentioned = new HashSet<string>(System.StringComparer.Ordinal);
            foreach (HostStatement stepScalar in spec.StepScalars)
            {
                HostReads.Leaves(stepScalar.Value, ExprOp.Hyperparameter, mentioned);
                HostReads.Leaves(stepScalar.Value, ExprOp.HostValue, mentioned);
            }

            foreach (ElementStatement statement in spec.Body)
            {
                HostReads.Leaves(statement.Value, ExprOp.Hyperparameter, mentioned);
                HostReads.Leaves(statement.Value, ExprOp.HostValue, mentioned);
            }

            string Why(string name) => mentioned.Contains(name) ? " (what reads it cannot change the result and is dropped)" : string.Empty;
            foreach (HyperparameterDecl h in spec.Hyperparameters.Where(h => !readHyperparameters.Contains(h.Name)))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnusedHyperparameter, At(h.Name), h.Name, className, Why(h.Name), $"[Hyperparameter(\"{h.Name}\", …)]"));
            }

            foreach (HostStatement s in spec.StepScalars.Where(s => !readHost.Contains(s.Name)))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnusedStepScalar, At(s.Name), s.Name, className, Why(s.Name), $"[StepScalar(\"{s.Name}\", …)]"));
            }
        }

        /// <summary>OPTG0024 (and OPTG0113) for the kernel scalars' values that float32 cannot hold: see <see cref="CheckLowered"/>.</summary>
        private static void CheckKernelScalars(UpdateProgram program, Location nameLocation, List<Origin> origins, List<DiagnosticInfo> diagnostics)
        {
            var constants = new Dictionary<string, double>(System.StringComparer.Ordinal);
            double? HostConstant(string name) => constants.TryGetValue(name, out double value) ? value : null;
            HashSet<string> divisors = Emit.CpuEmitter.DivisorScalars(program);
            var host = new Dictionary<string, HostStatement>(System.StringComparer.Ordinal);
            var reported = new HashSet<Origin>();
            foreach (HostStatement statement in program.Host)
            {
                host[statement.Name] = statement;
                string because(string problem) => problem + (problem == "0" && divisors.Contains(statement.Name) ? " (and the update divides by it)" : string.Empty);
                if (ConstantFold.Value(statement.Value, HostConstant) is not double value)
                {
                    if (statement.IsKernelScalar)
                    {
                        foreach (ReceivedPart part in ReceivedParts(statement.Value, host, HostConstant))
                        {
                            (Origin? at, _) = Locate(part.Part, origins, part.StepScalar);
                            if (at is not null && !reported.Add(at))
                            {
                                continue;
                            }

                            Location? location = at?.Text.Location(at.Start, at.Length) ?? nameLocation;
                            string written = at is null ? CanonicalForm.Expression(part.Part) : at.Text.Value!.Substring(at.Start, at.Length);
                            string where = at?.What ?? $"the per-step value {statement.Name} = {statement.Comment}";
                            if (part.Reciprocal && double.IsInfinity(part.Value) && ConstantFold.Value(part.Part, HostConstant) == 0)
                            {
                                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DivisionByZero, location, $"{where} (on the steps that select '{written}')"));
                                continue;
                            }

                            string what = part.Reciprocal ? $"The reciprocal of '{written}' in {where} (the kernel multiplies by it instead of dividing, on the steps that select it)"
                                : part.Reach == Reach.Exactly ? $"'{written}' in {where} (the kernel receives it on the steps that select it)"
                                : $"'{written}' in {where} ({(part.Reach == Reach.AtLeast ? "max makes the value the kernel receives at least" : "min makes the value the kernel receives at most")} this)";
                            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotFloat32, location, what, Parser.Format(part.Value), because(part.Problem)));
                        }
                    }

                    continue;
                }

                constants[statement.Name] = value;
                string? problem = double.IsNaN(value) ? "NaN" : HyperparameterRanges.Float32Problem(value, zeroAllowed: false);
                if (statement.IsKernelScalar && problem is not null)
                {
                    (Origin? origin, bool reciprocal) = Locate(statement.Value, origins, null);
                    string what = origin is null ? $"The per-step value {statement.Name} = {statement.Comment}"
                        : reciprocal ? $"The reciprocal of '{origin.Text.Value!.Substring(origin.Start, origin.Length)}' in {origin.What} (the kernel multiplies by it instead of dividing)"
                        : $"'{origin.Text.Value!.Substring(origin.Start, origin.Length)}' in {origin.What}";
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotFloat32, origin?.Text.Location(origin.Start, origin.Length) ?? nameLocation,
                        what, Parser.Format(value), because(problem)));
                }
            }
        }

        /// <summary>
        /// The smallest bound part of the rule's [Update] statements that contains <paramref name="part"/> (a hoisted
        /// value), or null, and whether the kernel scalar is the reciprocal of that part. The post-pass hoists <c>1 / s</c> for a division by <c>s</c> and writes a comparison of a
        /// value with itself as <c>x op (x + 0)</c>, so their operand is looked for too.
        /// </summary>
        /// <param name="stepScalar">The step scalar whose expression to look in, or null for the [Update] statements.</param>
        private static (Origin? Origin, bool Reciprocal) Locate(Expr part, List<Origin> origins, string? stepScalar)
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
                    if (origin.StepScalar == stepScalar && (best is null || origin.Length < best.Length) && Contains(origin.Expr, candidate))
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
            /// <summary>Every bound part of the [Update] and [StepScalar] statements, where it is written: the kernel scalars' checks locate their findings with them.</summary>
            public List<Origin> Origins { get; } = new();
        }

        /// <summary>A bound part of an [Update] statement (or of step scalar <paramref name="StepScalar"/>'s expression) and its place in the string.</summary>
        private sealed record Origin(Expr Expr, StringArgument Text, int Start, int Length, string What, string? StepScalar);
    }
}
