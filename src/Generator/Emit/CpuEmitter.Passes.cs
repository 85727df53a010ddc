using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.Emit
{
    /// <summary>
    /// The CPU code of a rule with reductions (<see cref="PassPlan"/>): the optimizer derives from
    /// <c>OptGen.ReductionOptimizer</c>, and its kernel struct has one method per pass, each a Vector512 loop (where
    /// accelerated and the rule draws no random numbers), a Vector256 loop and a scalar tail over one work unit. Pass 1 accumulates each reduction's partial in double
    /// (in locals, through <c>OptGen.Kernels.ReductionAccumulator</c>'s static methods); pass 2 reads the tensor's finished results.
    /// </summary>
    internal static partial class CpuEmitter
    {
        private const string Accumulator = "global::OptGen.Kernels.ReductionAccumulator";

        /// <summary>On each pass method: fully optimized at first call (no tier 0 with OSR for the loops), as the catalog's passes.</summary>
        private const string AggressiveOptimization = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]";

        /// <summary>Pass k as the remarks and PassTraffic describe it: "norm_0, sum_1 per tensor" or "the update".</summary>
        private static string PassDescription(PassPlan plan, int pass) => pass == 0
            ? "pass 1: " + string.Join(", ", plan.Reductions.Where(r => !r.OverSegments).Select(r => $"{r.Function} ({r.Name})")) + (plan.IsScoped ? string.Empty : " per tensor")
            : plan.IsScoped
                ? "pass 2: the update with the reductions" + (plan.CompactStates.Count > 0 ? " and the compact states (" + string.Join(", ", plan.CompactStates.Select(c => c.Symbol)) + ", updated once per " + string.Join(", ", plan.Segments.Select(l => ScopeNoun(l.Scope, l.BlockLength))) + " between the passes" + OverSegmentsDescription(plan) + ")" : string.Empty)
                : "pass 2: the update with the tensor's reductions";

        /// <summary>", then mean (mean_3) of them", for the reductions the loops between the passes compute from compact states.</summary>
        private static string OverSegmentsDescription(PassPlan plan)
        {
            var over = plan.Reductions.Where(r => r.OverSegments).Select(r => $"{r.Function} ({r.Name})").ToList();
            return over.Count == 0 ? string.Empty : ", then " + string.Join(", ", over) + " of them";
        }

        private static string ScopeNoun(ReductionScopeKind scope, int blockLength) => scope switch
        {
            ReductionScopeKind.Row => "row",
            ReductionScopeKind.Column => "column",
            ReductionScopeKind.Block => "block of " + blockLength.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => "tensor",  // compact states are per tensor at the coarsest (a group or global value is stored with each tensor)
        };

        private static string PassLine(PassPlan plan, int pass)
        {
            PassModel p = pass == 0 ? plan.Reduce : plan.Update;
            string writes = p.Writes.Count == 0 ? "nothing" : string.Join(", ", p.Writes);
            return $"{PassDescription(plan, pass)}: reads {string.Join(", ", p.Reads)}, writes {writes}: {p.BytesRead} + {p.BytesWritten} = {p.BytesRead + p.BytesWritten} bytes per element.";
        }

        private static string PassTotal(PassPlan plan) =>
            $"Memory traffic per element and step (float32), two passes: {plan.BytesRead} bytes read + {plan.BytesWritten} bytes written = {plan.BytesRead + plan.BytesWritten} bytes.";

        private static void EmitPassRemarks(SourceWriter w, PassPlan plan, string kernelType)
        {
            w.Line($"/// <para>Each step is two passes over memory by <see cref=\"{kernelType}\"/>, over work units that depend only on the layout; the reductions are combined per tensor in double, in unit order, so a step is bit-identical for any thread count:</para>");
            w.Line("/// <list type=\"number\">");
            w.Line("/// <item>" + Xml(PassLine(plan, 0)) + "</item>");
            w.Line("/// <item>" + Xml(PassLine(plan, 1)) + "</item>");
            w.Line("/// </list>");
        }

        private static void EmitPassFields(SourceWriter w, PassPlan plan)
        {
            w.Line();
            w.Line("private static readonly global::OptGen.PassTraffic[] RulePasses =");
            w.Line("{");
            w.Indent();
            for (int pass = 0; pass < 2; pass++)
            {
                PassModel p = pass == 0 ? plan.Reduce : plan.Update;
                w.Line($"new({Literal(PassDescription(plan, pass))}, {Streams(p.Reads)}, {Streams(p.Writes)}),");
            }

            w.Outdent();
            w.Line("};");
            w.Line();
            w.Line($"private static readonly global::OptGen.ReductionKind[] RuleReductions = {{ {string.Join(", ", plan.Reductions.Select(r => "global::OptGen.ReductionKind." + r.Kind))} }};");
        }

        /// <summary>The arguments after the layout of the base constructor of a rule with reductions.</summary>
        private static string PassBaseArguments(PassPlan plan) => plan.IsScoped ? "RulePasses, RuleReductions, RuleScopes, RuleStateScopes" : "RulePasses, RuleReductions";

        private static string Streams(EquatableArray<string> streams) =>
            streams.Count == 0 ? "global::System.Array.Empty<string>()" : "new[] { " + string.Join(", ", streams.Select(Literal)) + " }";

        private static void EmitPassLaunches(SourceWriter w, string createKernel)
        {
            foreach ((string method, string span) in new[] { ("Reduce", "global::System.Span<double> partials"), ("Update", "global::System.ReadOnlySpan<double> reductions") })
            {
                w.Line();
                w.Line("/// <inheritdoc/>");
                w.Open($"protected override void {method}<TParameter, TGradient, TState>(scoped in global::OptGen.Kernels.KernelArguments arguments, {span})");
                w.Line(createKernel);
                w.Line($"kernel.Pass_{(method == "Reduce" ? 1 : 2)}<TParameter, TGradient, TState>(ref arguments.Parameters, ref arguments.Gradients, ref arguments.State, arguments.StateStride, arguments.Length, {span.Substring(span.LastIndexOf(' ') + 1)});");
                w.Close();
            }
        }

        private static string EmitPassKernel(KernelModel kernel, IReadOnlyList<string> users, IReadOnlyList<string>? scalarNotes)
        {
            PassPlan plan = kernel.Passes!;
            var w = new SourceWriter();
            Header(w);
            w.Open("namespace " + KernelNamespace);
            w.Line("/// <summary>");
            w.Line("/// The two passes of " + string.Join(", ", users.Select(u => $"<see cref=\"global::{u}\"/>")) + " over one work unit.");
            w.Line("/// </summary>");
            w.Line("/// <remarks>");
            w.Line("/// <para>Per element, in float32, with the per-step scalars computed on the host; <c>name = x</c> for a reduction's name is its operand:</para>");
            w.Line("/// <code>");
            foreach (ElementStatement s in kernel.Body)
            {
                w.Line("/// " + Xml($"{s.Target} = {CanonicalForm.Expression(s.Value)}"));
            }

            w.Line("/// </code>");
            w.Line("/// <list type=\"number\">");
            w.Line("/// <item>" + Xml(PassLine(plan, 0)) + "</item>");
            w.Line("/// <item>" + Xml(PassLine(plan, 1)) + "</item>");
            w.Line("/// </list>");
            w.Line("/// <para>" + Xml(PassTotal(plan)) + "</para>");
            w.Line("/// </remarks>");
            w.Line(GeneratedCodeAttribute);
            w.Open($"internal readonly struct {kernel.Name}");
            EmitTrafficAndScalarFields(w, kernel, scalarNotes, " (both passes)");

            w.Line();
            w.Line("/// <summary>Creates the kernel for one step from its per-step scalars.</summary>");
            w.Open($"public {kernel.Name}({string.Join(", ", kernel.ScalarNames.Select(s => "float " + Camel(s)))})");
            foreach (string scalar in kernel.ScalarNames)
            {
                w.Line($"{scalar} = {Camel(scalar)};");
            }

            w.Close();
            if (plan.IsScoped)
            {
                EmitScopedPass(w, kernel, plan, 0);
                EmitScopedPass(w, kernel, plan, 1);
                if (plan.Segments.Count > 0)
                {
                    EmitSegments(w, kernel, plan);
                }
            }
            else
            {
                EmitPass(w, kernel, plan, 0);
                EmitPass(w, kernel, plan, 1);
            }
            w.Close();
            w.Close();
            return w.ToString();
        }

        private static void EmitPass(SourceWriter w, KernelModel kernel, PassPlan plan, int pass)
        {
            PassModel model = pass == 0 ? plan.Reduce : plan.Update;
            var reductions = plan.Reductions.ToDictionary(r => r.Name, r => r);
            w.Line();
            w.Line(pass == 0
                ? "/// <summary>Pass 1 over one work unit: each reduction's partial result (in double) into <paramref name=\"unit_partials\"/>, and the states this pass keeps.</summary>"
                : "/// <summary>Pass 2 over one work unit: the update, with the tensor's <paramref name=\"unit_reductions\"/>.</summary>");
            w.Line(AggressiveOptimization);
            w.Line($"public void Pass_{pass + 1}<TParameter, TGradient, TState>(ref byte parameters, ref byte gradients, ref byte state, nuint stride, nuint unit_length, {(pass == 0 ? "global::System.Span<double> unit_partials" : "global::System.ReadOnlySpan<double> unit_reductions")})");
            w.Line($"    where TParameter : struct, {Codec}");
            w.Line($"    where TGradient : struct, {Codec}");
            w.Line($"    where TState : struct, {Codec}");
            w.Line("{");
            w.Indent();
            if (pass == 0)
            {
                // Each partial in locals (two eight-lane accumulators and a scalar tail) so the JIT keeps them in registers:
                // of every 16 elements the first 8 go to _even, the last 8 to _odd, on the 512- and the 256-bit path alike.
                foreach (ReductionDecl r in plan.Reductions)
                {
                    w.Line($"{Vectors}Vector512<double> {r.Name}_even = default, {r.Name}_odd = default;");
                    w.Line($"double {r.Name}_tail = 0;");
                }
            }
            else
            {
                for (int k = 0; k < plan.Reductions.Count; k++)
                {
                    string name = plan.Reductions[k].Name;
                    if (model.Body.Any(s => PassPlanner.Variables(s.Value).Contains(name)))
                    {
                        w.Line($"float {name} = (float)unit_reductions[{k}];");
                        w.Line($"var {name}_v = {Vectors}Vector256.Create({name});");
                        w.Line($"var {name}_w = {Vectors}Vector512.Create({name});");
                    }
                }
            }

            w.Line("nuint i = 0;");
            bool wide = !ExprText.UsesRandom(model.Body);
            foreach (int lanes in wide ? new[] { 16, 8, 1 } : new[] { 8, 1 })
            {
                bool vector = lanes > 1;
                string type = lanes == 16 ? $"{Vectors}Vector512<float>" : vector ? $"{Vectors}Vector256<float>" : "float";
                string width = lanes == 16 ? "512" : vector ? "256" : string.Empty;
                string broadcast = lanes == 16 ? "_w" : "_v";
                ExprFlavor flavor = lanes == 16 ? ExprFlavor.Vector512 : vector ? ExprFlavor.Vector256 : ExprFlavor.ElementScalar;
                if (lanes == 16)
                {
                    w.Line($"if ({Vectors}Vector512.IsHardwareAccelerated)");
                    w.Line("{");
                    w.Indent();
                }

                w.Line(lanes == 16 ? "for (; i + 16 <= unit_length; i += 16)" : vector ? "for (; i + 8 <= unit_length; i += 8)" : "for (; i < unit_length; i++)");
                w.Line("{");
                w.Indent();
                foreach (string stream in model.Reads)
                {
                    w.Line($"{type} {stream} = {Load(kernel, stream, width)};");
                }

                // A stream the pass assigns without loading it (pass 1 may compute p or a state it does not store, for an operand).
                foreach (string stream in model.AssignedWithoutLoad)
                {
                    w.Line($"{type} {stream};");
                }

                foreach (ElementStatement s in model.Body)
                {
                    w.Line("// " + s.Comment);
                    string value = ExprText.Print(s.Value, flavor, (e, n) => pass == 1 && vector && e.Op == ExprOp.Variable && reductions.ContainsKey(n) ? n + broadcast : n);
                    w.Line(s.DeclaresLocal ? $"{(vector ? "var" : "float")} {s.Target} = {value};" : $"{s.Target} = {value};");
                    if (pass == 0 && s.DeclaresLocal && reductions.TryGetValue(s.Target, out ReductionDecl? r))
                    {
                        string add = r.Kind == ReductionKind.Norm ? "AddSquares" : r.Kind == ReductionKind.MaxAbs ? "AddMaxAbs" : "Add";
                        if (lanes == 8)
                        {
                            w.Line("if ((i & 8) == 0)");
                            w.Line("{");
                            w.Line($"    {Accumulator}.{add}({r.Name}, ref {r.Name}_even);");
                            w.Line("}");
                            w.Line("else");
                            w.Line("{");
                            w.Line($"    {Accumulator}.{add}({r.Name}, ref {r.Name}_odd);");
                            w.Line("}");
                        }
                        else
                        {
                            w.Line(lanes == 16
                                ? $"{Accumulator}.{add}({r.Name}, ref {r.Name}_even, ref {r.Name}_odd);"
                                : $"{Accumulator}.{add}({r.Name}, ref {r.Name}_tail);");
                        }
                    }
                }

                foreach (string stream in model.Writes)
                {
                    w.Line($"{Store(kernel, stream, width)};");
                }

                w.Close();
                if (lanes == 16)
                {
                    w.Close();
                }
            }

            if (pass == 0)
            {
                for (int k = 0; k < plan.Reductions.Count; k++)
                {
                    ReductionDecl r = plan.Reductions[k];
                    w.Line($"unit_partials[{k}] = {Accumulator}.{(r.Kind == ReductionKind.MaxAbs ? "FoldMaxAbs" : "Fold")}({r.Name}_even, {r.Name}_odd, {r.Name}_tail);");
                }
            }

            w.Close();
        }

        private static string Load(KernelModel kernel, string stream, string width) => stream switch
        {
            "p" => $"TParameter.Load{width}(ref parameters, i)",
            "g" => $"TGradient.Load{width}(ref gradients, i)",
            _ => $"TState.Load{width}(ref state, {Offset(StateIndex(kernel, stream))})",
        };

        private static string Store(KernelModel kernel, string stream, string width) => stream == "p"
            ? $"TParameter.Store{width}(ref parameters, i, p)"
            : $"TState.Store{width}(ref state, {Offset(StateIndex(kernel, stream))}, {stream})";

        private static int StateIndex(KernelModel kernel, string symbol) => kernel.StateSymbols.ToList().IndexOf(symbol);
    }
}
