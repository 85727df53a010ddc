using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.Emit
{
    /// <summary>
    /// The CPU code of a rule with row, column or block reductions or compact state (<see cref="PassPlan.IsScoped"/>):
    /// each pass walks a work unit run by run (<c>OptGen.Kernels.PassRun</c>: a stretch inside one row and one block,
    /// so row, block and tensor values are constants over it and its columns are consecutive), and the compact states
    /// are updated between the passes, once per row (column, block), by <c>Segments</c>.
    /// </summary>
    internal static partial class CpuEmitter
    {
        private const string UnsafeClass = "global::System.Runtime.CompilerServices.Unsafe";

        internal static string ScopeLiteral(ReductionScopeKind scope, int blockLength) =>
            $"new(global::OptGen.ReductionScopeKind.{scope}{(scope == ReductionScopeKind.Block ? ", " + blockLength.ToString(System.Globalization.CultureInfo.InvariantCulture) : string.Empty)})";

        private static void EmitScopeFields(SourceWriter w, KernelModel kernel, PassPlan plan)
        {
            w.Line();
            w.Line($"private static readonly global::OptGen.ReductionScope[] RuleScopes = {{ {string.Join(", ", plan.Reductions.Select(r => ScopeLiteral(r.Scope, r.BlockLength)))} }};");
            w.Line();
            var compact = plan.CompactStates.ToDictionary(c => c.Symbol, c => c);
            w.Line($"private static readonly global::OptGen.ReductionScope?[] RuleStateScopes = {{ {string.Join(", ", kernel.StateSymbols.Select(s => compact.TryGetValue(s, out CompactState? c) ? ScopeLiteral(c.Scope, c.BlockLength) : "null"))} }};");
        }

        /// <summary>How a compact state is stored, for its property's documentation.</summary>
        private static string CompactDescription(CompactState c) => c.Scope switch
        {
            ReductionScopeKind.Tensor => "One value per tensor",
            ReductionScopeKind.Row => "One value per row of each matrix (a row runs along the last dimension; a vector is one row), tensor after tensor",
            ReductionScopeKind.Column => "One value per column of each matrix (one per element for a vector), tensor after tensor",
            _ => $"One value per block of {c.BlockLength} consecutive elements of a tensor (the last may be shorter), tensor after tensor",
        };

        private static void EmitScopedLaunches(SourceWriter w, string createKernel, PassPlan plan)
        {
            foreach (string method in new[] { "Reduce", "Update" })
            {
                string span = method == "Reduce" ? "global::System.Span<double> partials" : "global::System.ReadOnlySpan<double> reductions";
                w.Line();
                w.Line("/// <summary>Not used: this rule's passes walk each unit run by run.</summary>");
                w.Open($"protected override void {method}<TParameter, TGradient, TState>(scoped in global::OptGen.Kernels.KernelArguments arguments, {span})");
                w.Close();
            }

            foreach (string method in new[] { "ReduceRuns", "UpdateRuns" })
            {
                w.Line();
                w.Line("/// <inheritdoc/>");
                w.Open($"protected override void {method}<TParameter, TGradient, TState>(scoped in global::OptGen.Kernels.KernelArguments arguments, scoped ref global::OptGen.Kernels.PassRun run)");
                w.Line(createKernel);
                w.Open("while (run.MoveNext())");
                w.Line($"kernel.Pass_{(method == "ReduceRuns" ? 1 : 2)}<TParameter, TGradient, TState>(ref run);");
                w.Close();
                w.Close();
            }

            if (plan.Segments.Count > 0)
            {
                w.Line();
                w.Line("/// <inheritdoc/>");
                w.Open("protected override void UpdateSegments<TState>(scoped in global::OptGen.Kernels.KernelArguments arguments, scoped ref global::OptGen.Kernels.SegmentArguments segments)");
                w.Line(createKernel);
                w.Line("kernel.Segments<TState>(ref segments);");
                w.Close();
            }
        }

        private static void EmitScopedPass(SourceWriter w, KernelModel kernel, PassPlan plan, int pass)
        {
            PassModel model = pass == 0 ? plan.Reduce : plan.Update;
            var reductions = plan.Reductions.ToDictionary(r => r.Name, r => r);
            var compact = plan.CompactStates.ToDictionary(c => c.Symbol, c => c);
            var columnOrdinal = new Dictionary<string, int>();
            foreach (ReductionDecl r in plan.Reductions.Where(r => r.Scope == ReductionScopeKind.Column))
            {
                columnOrdinal[r.Name] = columnOrdinal.Count;
            }

            var used = new HashSet<string>(model.Body.SelectMany(s => PassPlanner.Variables(s.Value)));
            w.Line();
            w.Line(pass == 0
                ? "/// <summary>Pass 1 over one run: each tensor-, row- or block-scope reduction's partial (in double) into the run's partials, each column reduction's into the unit's column sums, and the states this pass keeps.</summary>"
                : "/// <summary>Pass 2 over one run: the update, with the run's reductions and compact states.</summary>");
            w.Line(AggressiveOptimization);
            w.Line("public void Pass_" + (pass + 1) + "<TParameter, TGradient, TState>(scoped ref global::OptGen.Kernels.PassRun unit_run)");
            w.Line($"    where TParameter : struct, {Codec}");
            w.Line($"    where TGradient : struct, {Codec}");
            w.Line($"    where TState : struct, {Codec}");
            w.Line("{");
            w.Indent();
            w.Line("ref byte parameters = ref unit_run.Parameters;");
            w.Line("ref byte gradients = ref unit_run.Gradients;");
            w.Line("nuint unit_length = unit_run.Length;");
            var planes = model.Reads.Concat(model.Writes).Concat(model.Body.Where(s => !s.DeclaresLocal).Select(s => s.Target)).Concat(used)
                .Where(x => kernel.StateSymbols.Contains(x)).Distinct().ToList();
            foreach (string state in planes)
            {
                w.Line($"ref byte {state}_state = ref {UnsafeClass}.AddByteOffset(ref unit_run.State, unit_run.Planes[{StateIndex(kernel, state)}]);");
            }

            var scalarValues = new HashSet<string>();
            if (pass == 0)
            {
                foreach (ReductionDecl r in plan.Reductions.Where(r => !r.OverSegments))
                {
                    w.Line(r.Scope == ReductionScopeKind.Column
                        ? $"ref double {r.Name}_columns = ref {UnsafeClass}.Add(ref unit_run.Columns, (nint)({columnOrdinal[r.Name]} * unit_run.ColumnStride));"
                        : $"var {r.Name}_partial = default({Accumulator});");
                }
            }
            else
            {
                for (int k = 0; k < plan.Reductions.Count; k++)
                {
                    ReductionDecl r = plan.Reductions[k];
                    if (!used.Contains(r.Name))
                    {
                        continue;
                    }

                    if (r.Scope == ReductionScopeKind.Column)
                    {
                        w.Line($"ref float {r.Name}_columns = ref {UnsafeClass}.Add(ref unit_run.ColumnValues, (nint)({columnOrdinal[r.Name]} * unit_run.ColumnStride));");
                    }
                    else
                    {
                        w.Line($"float {r.Name} = (float)unit_run.Values[{k}];");
                        w.Line($"var {r.Name}_v = {Vectors}Vector256.Create({r.Name});");
                        scalarValues.Add(r.Name);
                    }
                }

                foreach (CompactState c in plan.CompactStates.Where(c => used.Contains(c.Symbol) && c.Scope != ReductionScopeKind.Column))
                {
                    w.Line($"float {c.Symbol} = TState.Load(ref {c.Symbol}_state, 0);");
                    w.Line($"var {c.Symbol}_v = {Vectors}Vector256.Create({c.Symbol});");
                    scalarValues.Add(c.Symbol);
                }
            }

            w.Line("nuint i = 0;");
            foreach (bool vector in new[] { true, false })
            {
                string type = vector ? $"{Vectors}Vector256<float>" : "float";
                string width = vector ? "256" : string.Empty;
                ExprFlavor flavor = vector ? ExprFlavor.Vector256 : ExprFlavor.ElementScalar;
                w.Line(vector ? "for (; i + 8 <= unit_length; i += 8)" : "for (; i < unit_length; i++)");
                w.Line("{");
                w.Indent();
                foreach (string stream in model.Reads)
                {
                    w.Line($"{type} {stream} = {ScopedLoad(stream, width)};");
                }

                if (pass == 1)
                {
                    foreach (ReductionDecl r in plan.Reductions.Where(r => r.Scope == ReductionScopeKind.Column && used.Contains(r.Name)))
                    {
                        w.Line(vector
                            ? $"var {r.Name} = {Vectors}Vector256.LoadUnsafe(ref {r.Name}_columns, i);"
                            : $"float {r.Name} = {UnsafeClass}.Add(ref {r.Name}_columns, (nint)i);");
                    }

                    foreach (CompactState c in plan.CompactStates.Where(c => used.Contains(c.Symbol) && c.Scope == ReductionScopeKind.Column))
                    {
                        w.Line($"{type} {c.Symbol} = TState.Load{width}(ref {c.Symbol}_state, i);");
                    }
                }

                foreach (string stream in model.AssignedWithoutLoad)
                {
                    w.Line($"{type} {stream};");
                }

                foreach (ElementStatement s in model.Body)
                {
                    w.Line("// " + s.Comment);
                    string value = ExprText.Print(s.Value, flavor, (e, n) => vector && e.Op == ExprOp.Variable && scalarValues.Contains(n) ? n + "_v" : n);
                    w.Line(s.DeclaresLocal ? $"{(vector ? "var" : "float")} {s.Target} = {value};" : $"{s.Target} = {value};");
                    if (pass == 0 && s.DeclaresLocal && reductions.TryGetValue(s.Target, out ReductionDecl? r))
                    {
                        string add = r.Kind == ReductionKind.Norm ? "AddSquares" : r.Kind == ReductionKind.MaxAbs ? "AddMaxAbs" : "Add";
                        w.Line(r.Scope == ReductionScopeKind.Column
                            ? $"global::OptGen.Kernels.ColumnAccumulator.{add}(ref {r.Name}_columns, i, {r.Name});"
                            : $"{r.Name}_partial.{add}({r.Name});");
                    }
                }

                foreach (string stream in model.Writes)
                {
                    w.Line(stream == "p" ? $"TParameter.Store{width}(ref parameters, i, p);" : $"TState.Store{width}(ref {stream}_state, i, {stream});");
                }

                w.Close();
            }

            if (pass == 0)
            {
                for (int k = 0; k < plan.Reductions.Count; k++)
                {
                    ReductionDecl r = plan.Reductions[k];
                    if (r.Scope != ReductionScopeKind.Column && !r.OverSegments)
                    {
                        w.Line($"unit_run.Partials[{k}] = {r.Name}_partial.{(r.Kind == ReductionKind.MaxAbs ? "MaxAbs" : "Total")};");
                    }
                }
            }

            w.Close();
        }

        private static string ScopedLoad(string stream, string width) => stream switch
        {
            "p" => $"TParameter.Load{width}(ref parameters, i)",
            "g" => $"TGradient.Load{width}(ref gradients, i)",
            _ => $"TState.Load{width}(ref {stream}_state, i)",
        };

        /// <summary>The compact states' updates between the passes: one loop per scope over the tensor's rows (columns, blocks).</summary>
        private static void EmitSegments(SourceWriter w, KernelModel kernel, PassPlan plan)
        {
            var index = new Dictionary<string, int>();
            for (int k = 0; k < plan.Reductions.Count; k++)
            {
                index[plan.Reductions[k].Name] = k;
            }

            var compact = plan.CompactStates.Select(c => c.Symbol).ToList();
            w.Line();
            w.Line("/// <summary>Between the passes: the compact states of one tensor, once per row (column, block), from the finished reductions.</summary>");
            w.Line($"public void Segments<TState>(scoped ref global::OptGen.Kernels.SegmentArguments unit_segments) where TState : struct, {Codec}");
            w.Line("{");
            w.Indent();
            foreach (SegmentLoop loop in plan.Segments)
            {
                var used = new HashSet<string>(loop.Body.SelectMany(s => PassPlanner.Variables(s.Value)));
                HashSet<string> read = StateAccess.Read(loop.Body, compact);
                HashSet<string> written = StateAccess.Written(loop.Body, compact);
                w.Line("{");
                w.Indent();
                foreach (string state in compact.Where(c => read.Contains(c) || written.Contains(c)))
                {
                    w.Line($"ref byte {state}_state = ref {UnsafeClass}.AddByteOffset(ref unit_segments.State, unit_segments.Planes[{StateIndex(kernel, state)}]);");
                }

                w.Line($"int segment_count = unit_segments.CountOf(global::OptGen.ReductionScopeKind.{loop.Scope}, {loop.BlockLength});");
                foreach (string reduction in loop.Reductions)
                {
                    w.Line($"double {reduction}_total = 0;");
                }

                w.Open("for (int segment_index = 0; segment_index < segment_count; segment_index++)");
                foreach (ReductionDecl r in plan.Reductions.Where(r => used.Contains(r.Name)))
                {
                    w.Line($"float {r.Name} = unit_segments.Value({index[r.Name]}, {(r.Scope is ReductionScopeKind.Tensor or ReductionScopeKind.Group or ReductionScopeKind.Global ? "0" : "segment_index")});");
                }

                foreach (string state in compact.Where(c => read.Contains(c)))
                {
                    // A per-tensor state read in a row (column, block) loop has one value.
                    bool perTensor = plan.CompactStates.First(c => c.Symbol == state).Scope == ReductionScopeKind.Tensor && loop.Scope != ReductionScopeKind.Tensor;
                    w.Line($"float {state} = TState.Load(ref {state}_state, {(perTensor ? "0" : "(nuint)segment_index")});");
                }

                foreach (string state in compact.Where(c => written.Contains(c) && !read.Contains(c)))
                {
                    w.Line($"float {state};");
                }

                HashSet<string> storedEarly = loop.StoredEarly(compact);
                for (int k = 0; k < loop.Body.Count; k++)
                {
                    ElementStatement s = loop.Body[k];
                    w.Line("// " + s.Comment);
                    string value = ExprText.Print(s.Value, ExprFlavor.ElementScalar, (e, n) => n);
                    w.Line(s.DeclaresLocal ? $"float {s.Target} = {value};" : $"{s.Target} = {value};");
                    if (s.DeclaresLocal && loop.Reductions.Contains(s.Target))
                    {
                        w.Line($"unit_segments.Add({index[s.Target]}, global::OptGen.ReductionScopeKind.{loop.Scope}, {loop.BlockLength}, segment_index, ref {s.Target}_total, {s.Target});");
                    }
                    else if (loop.StoresEarly(k, storedEarly))
                    {
                        w.Line($"TState.Store(ref {s.Target}_state, (nuint)segment_index, {s.Target});");
                        w.Line($"{s.Target} = TState.Load(ref {s.Target}_state, (nuint)segment_index);");
                    }
                }

                foreach (string state in compact.Where(c => written.Contains(c) && !storedEarly.Contains(c)))
                {
                    w.Line($"TState.Store(ref {state}_state, (nuint)segment_index, {state});");
                }

                w.Close();
                foreach (string reduction in loop.Reductions)
                {
                    w.Line($"unit_segments.SetTotal({index[reduction]}, {reduction}_total);");
                }

                w.Outdent();
                w.Line("}");
            }

            w.Outdent();
            w.Line("}");
        }
    }
}
