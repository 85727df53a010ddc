using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.Emit
{
    /// <summary>
    /// The ILGPU kernels of a scoped plan (<see cref="PassPlan.IsScoped"/>: row, column, block, group or global
    /// reductions, or compact state), from the same <see cref="PassPlan"/> as the CPU's scoped passes
    /// (CpuEmitter.Scopes.cs): pass 1 per element (the states it keeps and each reduction's operand, stored as float32
    /// for the runtime to add in the CPU's order, <c>OptGen.Gpu.GpuScopes</c>), one kernel per segment loop (one
    /// thread per row, column, block or tensor: the compact states), and pass 2 per element. Every state plane and
    /// every reduction is addressed through the runtime's int table (per tensor: rows, columns, group, the planes'
    /// offsets in the host's state layout, the values' starts).
    /// </summary>
    internal static partial class GpuEmitter
    {
        private static readonly string[] ScopedParameterNames = { "gpu_index", "gpu_chunks", "gpu_groups", "gpu_table", "gpu_factor", "gpu_p32", "gpu_p16", "gpu_g32", "gpu_g16", "gpu_s32", "gpu_s16", "gpu_scopes", "gpu_values", "gpu_launch" };

        private static readonly string[] SegmentParameterNames = { "gpu_index", "gpu_items", "gpu_groups", "gpu_table", "gpu_s32", "gpu_s16", "gpu_scopes", "gpu_values", "gpu_terms", "gpu_launch" };

        private static string[] ScopedParameterTypes(KernelModel kernel) => new[]
        {
            "global::ILGPU.Index1D", $"global::ILGPU.ArrayView<{Gpu}GpuChunk>", $"{Gpu}GpuGroups<{KernelType(kernel)}>", $"global::ILGPU.ArrayView<{KernelType(kernel)}>",
            View, View, View16, View, View16, View, View16, "global::ILGPU.ArrayView<int>", View, Gpu + "GpuLaunch",
        };

        private static string[] SegmentParameterTypes(KernelModel kernel) => new[]
        {
            "global::ILGPU.Index1D", "global::ILGPU.ArrayView<int>", $"{Gpu}GpuGroups<{KernelType(kernel)}>", $"global::ILGPU.ArrayView<{KernelType(kernel)}>",
            View, View16, "global::ILGPU.ArrayView<int>", View, View, Gpu + "GpuLaunch",
        };

        private static string Parameters(string[] types, string[] names) => string.Join(", ", types.Zip(names, (type, name) => type + " " + name));

        /// <summary>The ILGPU kernels of a scoped plan, and their per-accelerator loaders.</summary>
        private static string EmitScopedKernel(KernelModel kernel, IReadOnlyList<string> users)
        {
            PassPlan plan = kernel.Passes!;
            string name = GpuKernelName(kernel);
            string[] types = ScopedParameterTypes(kernel);
            string[] segmentTypes = SegmentParameterTypes(kernel);
            string launcher = $"global::System.Action<{Stream}, {string.Join(", ", types)}>";
            string segmentLauncher = $"global::System.Action<{Stream}, {string.Join(", ", segmentTypes)}>";

            var w = new SourceWriter();
            Header(w);
            w.Open("namespace " + CpuEmitter.KernelNamespace);
            w.Line("/// <summary>");
            w.Line($"/// The ILGPU kernels of <see cref=\"{kernel.Name}\"/>, a rule with scoped reductions or compact state, for " + string.Join(", ", users.Select(u => $"<see cref=\"global::{u}\"/>")) + ".");
            w.Line("/// </summary>");
            w.Line("/// <remarks>");
            w.Line("/// <para>The statements of each pass and segment loop are the CPU's (one pass plan), in scalar float32. Pass 1 stores each");
            w.Line("/// reduction's operand (float32) for <c>OptGen.Gpu.GpuScopes</c> to add in the CPU passes' order; the segment kernels");
            w.Line("/// update the compact states once per row (column, block, tensor) and store, per segment, the operand of each tensor");
            w.Line("/// reduction of a compact state (<c>GpuScopes.OverSegments</c> adds them in segment order); pass 2 reads the finished values. The gradient is");
            w.Line("/// multiplied by the step's gradient factor when loaded; the kernel structs are made with gradient scale 1.</para>");
            w.Line("/// </remarks>");
            w.Line(CpuEmitter.GeneratedCodeAttribute);
            w.Open($"internal static class {name}");
            w.Line($"private static readonly global::System.Runtime.CompilerServices.ConditionalWeakTable<{Accelerator}, {launcher}> LoadedReduce = new();");
            w.Line($"private static readonly global::System.Runtime.CompilerServices.ConditionalWeakTable<{Accelerator}, {launcher}> LoadedUpdate = new();");
            for (int l = 0; l < plan.Segments.Count; l++)
            {
                w.Line($"private static readonly global::System.Runtime.CompilerServices.ConditionalWeakTable<{Accelerator}, {segmentLauncher}> LoadedSegments{l} = new();");
            }

            foreach (int pass in new[] { 0, 1 })
            {
                w.Line();
                w.Line(pass == 0
                    ? "/// <summary>Pass 1 (a grid-stride loop over the chunks' elements): the states this pass keeps, and each reduction's operand into <paramref name=\"gpu_values\"/> (plane k at k·table[1]).</summary>"
                    : "/// <summary>Pass 2 (a grid-stride loop over the chunks' elements): the update, with the finished values in <paramref name=\"gpu_values\"/> and the compact states.</summary>");
                w.Open($"public static void {(pass == 0 ? "Reduce" : "Update")}({Parameters(types, ScopedParameterNames)})");
                w.Line($"float gpu_gradientFactor = {Gpu}GpuReductions.GradientFactor(gpu_factor, gpu_launch);");
                w.Line($"long gpu_end = gpu_chunks.Length << {Gpu}GpuChunk.Shift;");
                w.Open("for (long gpu_v = gpu_index; gpu_v < gpu_end; gpu_v += gpu_launch.Stride)");
                w.Line($"{Gpu}GpuChunk gpu_chunk = gpu_chunks[gpu_v >> {Gpu}GpuChunk.Shift];");
                w.Line($"int gpu_i = (int)(gpu_v & ({Gpu}GpuChunk.Capacity - 1));");
                w.Open("if (gpu_i >= gpu_chunk.Length)");
                w.Line("continue;");
                w.Close();
                w.Line();
                w.Line($"{KernelType(kernel)} gpu_kernel = gpu_groups.Count <= {Gpu}GpuGroups<{KernelType(kernel)}>.MaxByValue ? gpu_groups.Get(gpu_chunk.Group) : gpu_table[gpu_chunk.Group];");
                w.Line("long gpu_e = gpu_chunk.ArenaStart + gpu_i;");
                w.Line("int gpu_t = gpu_chunk.TensorStart + gpu_i;");
                w.Line($"int gpu_at = {Gpu}GpuScopes.Header + (gpu_chunk.Tensor * gpu_scopes[0]);");
                w.Line("int gpu_rows = gpu_scopes[gpu_at];");
                w.Line("int gpu_columns = gpu_scopes[gpu_at + 1];");
                EmitScopedElement(w, kernel, plan, pass);
                w.Close();
                w.Close();
            }

            for (int l = 0; l < plan.Segments.Count; l++)
            {
                EmitSegmentKernel(w, kernel, plan, l);
            }

            foreach (string pass in new[] { "Reduce", "Update" })
            {
                w.Line();
                w.Line($"/// <summary>{pass} compiled for <paramref name=\"accelerator\"/>: compiled on the first call, then reused.</summary>");
                w.Line("/// <param name=\"accelerator\">The accelerator to run on.</param>");
                w.Line($"public static {launcher} Load{pass}({Accelerator} accelerator) =>");
                w.Line($"    Loaded{pass}.GetValue(accelerator, static a => global::ILGPU.Runtime.KernelLoaders.LoadAutoGroupedKernel<{string.Join(", ", types)}>(a, {pass}));");
            }

            for (int l = 0; l < plan.Segments.Count; l++)
            {
                w.Line();
                w.Line($"/// <summary>Segments{l} compiled for <paramref name=\"accelerator\"/>: compiled on the first call, then reused.</summary>");
                w.Line("/// <param name=\"accelerator\">The accelerator to run on.</param>");
                w.Line($"public static {segmentLauncher} LoadSegments{l}({Accelerator} accelerator) =>");
                w.Line($"    LoadedSegments{l}.GetValue(accelerator, static a => global::ILGPU.Runtime.KernelLoaders.LoadAutoGroupedKernel<{string.Join(", ", segmentTypes)}>(a, Segments{l}));");
            }

            w.Close();
            w.Close();
            return w.ToString();
        }

        /// <summary>The segment index of element gpu_t for <paramref name="scope"/> (0 for tensor, group and global).</summary>
        private static string SegmentIndex(ReductionScopeKind scope, int blockLength) => scope is ReductionScopeKind.Row or ReductionScopeKind.Column or ReductionScopeKind.Block
            ? $"{Gpu}GpuScopes.SegmentOf({(int)scope}, {blockLength.ToString(CultureInfo.InvariantCulture)}, gpu_rows, gpu_columns, gpu_t)"
            : "0";

        /// <summary>Where state <paramref name="state"/>'s value is in the device state: its plane, its tensor's extent (the int table), and <paramref name="index"/>.</summary>
        private static string ScopedStateIndex(KernelModel kernel, string state, string index)
        {
            int k = kernel.StateSymbols.ToList().IndexOf(state);
            return $"(gpu_launch.StateStride * {k}) + gpu_scopes[gpu_at + {Gpu}GpuScopes.TensorFields + {k}] + {index}";
        }

        private static void EmitScopedElement(SourceWriter w, KernelModel kernel, PassPlan plan, int pass)
        {
            PassModel model = pass == 0 ? plan.Reduce : plan.Update;
            var compact = plan.CompactStates.ToDictionary(c => c.Symbol, c => c);
            int planes = kernel.StateSymbols.Count;
            var used = new HashSet<string>(model.Body.SelectMany(s => PassPlanner.Variables(s.Value)));
            foreach (string stream in model.Reads)
            {
                w.Line($"float {stream} = {(stream == "p" || stream == "g" ? PassLoad(kernel, stream) : $"{Gpu}GpuElements.Load(gpu_launch.StateCodec, gpu_s32, gpu_s16, {ScopedStateIndex(kernel, stream, "gpu_t")})")};");
            }

            // Compact states read by the pass: their row's (column's, block's, tensor's) value.
            foreach (CompactState c in plan.CompactStates.Where(c => used.Contains(c.Symbol) && !model.Reads.Contains(c.Symbol)))
            {
                w.Line($"float {c.Symbol} = {Gpu}GpuElements.Load(gpu_launch.StateCodec, gpu_s32, gpu_s16, {ScopedStateIndex(kernel, c.Symbol, SegmentIndex(c.Scope, c.BlockLength))});");
            }

            if (pass == 1)
            {
                for (int k = 0; k < plan.Reductions.Count; k++)
                {
                    ReductionDecl r = plan.Reductions[k];
                    if (used.Contains(r.Name))
                    {
                        w.Line($"float {r.Name} = gpu_values[gpu_scopes[gpu_at + {Gpu}GpuScopes.TensorFields + {planes + k}] + {SegmentIndex(r.Scope, r.BlockLength)}];");
                    }
                }
            }

            foreach (string stream in model.AssignedWithoutLoad.Where(s => !compact.ContainsKey(s)))
            {
                w.Line($"float {stream};");
            }

            var operands = plan.Reductions.Select((r, k) => (r.Name, k)).ToDictionary(x => x.Name, x => x.k);
            foreach (ElementStatement s in model.Body)
            {
                w.Line("// " + s.Comment);
                string value = ExprText.Print(s.Value, ExprFlavor.ElementScalar, (e, n) => e.Op == ExprOp.Scalar ? "gpu_kernel." + n : n);
                w.Line(s.DeclaresLocal ? $"float {s.Target} = {value};" : $"{s.Target} = {value};");
                if (pass == 0 && s.DeclaresLocal && operands.TryGetValue(s.Target, out int k))
                {
                    w.Line($"gpu_values[((long){k} * gpu_scopes[1]) + gpu_e] = {s.Target};");
                }
            }

            foreach (string stream in model.Writes)
            {
                w.Line(stream == "p"
                    ? $"{Gpu}GpuElements.Store(gpu_launch.ParameterCodec, gpu_p32, gpu_p16, gpu_e, p, gpu_launch, gpu_chunk.Tensor, gpu_t);"
                    : $"{Gpu}GpuElements.Store(gpu_launch.StateCodec, gpu_s32, gpu_s16, {ScopedStateIndex(kernel, stream, "gpu_t")}, {stream}, gpu_launch, gpu_chunk.Tensor, gpu_t);");
            }
        }

        /// <summary>Segment loop <paramref name="l"/>: one thread per (tensor, segment) pair of the runtime's list, the CPU's <c>Segments</c> statements.</summary>
        private static void EmitSegmentKernel(SourceWriter w, KernelModel kernel, PassPlan plan, int l)
        {
            SegmentLoop loop = plan.Segments[l];
            var compact = plan.CompactStates.Select(c => c.Symbol).ToList();
            var used = new HashSet<string>(loop.Body.SelectMany(s => PassPlanner.Variables(s.Value)));
            HashSet<string> read = StateAccess.Read(loop.Body, compact);
            HashSet<string> written = StateAccess.Written(loop.Body, compact);
            int planes = kernel.StateSymbols.Count;
            w.Line();
            w.Line($"/// <summary>The compact states of scope {loop.Scope}{(loop.Scope == ReductionScopeKind.Block ? " " + loop.BlockLength.ToString(CultureInfo.InvariantCulture) : string.Empty)}: a grid-stride loop over the (tensor, segment) pairs in <paramref name=\"gpu_items\"/>.</summary>");
            w.Open($"public static void Segments{l}({Parameters(SegmentParameterTypes(kernel), SegmentParameterNames)})");
            w.Open("for (int gpu_x = gpu_index; gpu_x < gpu_items.IntLength / 2; gpu_x += gpu_launch.Stride)");
            w.Line("int gpu_tensor = gpu_items[2 * gpu_x];");
            w.Line("int segment_index = gpu_items[(2 * gpu_x) + 1];");
            w.Line($"int gpu_at = {Gpu}GpuScopes.Header + (gpu_tensor * gpu_scopes[0]);");
            w.Line("int gpu_group = gpu_scopes[gpu_at + 2];");
            w.Line($"{KernelType(kernel)} gpu_kernel = gpu_groups.Count <= {Gpu}GpuGroups<{KernelType(kernel)}>.MaxByValue ? gpu_groups.Get(gpu_group) : gpu_table[gpu_group];");
            for (int k = 0; k < plan.Reductions.Count; k++)
            {
                ReductionDecl r = plan.Reductions[k];
                if (used.Contains(r.Name))
                {
                    bool perTensor = r.Scope is ReductionScopeKind.Tensor or ReductionScopeKind.Group or ReductionScopeKind.Global;
                    w.Line($"float {r.Name} = gpu_values[gpu_scopes[gpu_at + {Gpu}GpuScopes.TensorFields + {planes + k}]{(perTensor ? string.Empty : " + segment_index")}];");
                }
            }

            foreach (string state in compact.Where(read.Contains))
            {
                // A per-tensor state read in a row (column, block) loop has one value.
                bool perTensor = plan.CompactStates.First(c => c.Symbol == state).Scope == ReductionScopeKind.Tensor && loop.Scope != ReductionScopeKind.Tensor;
                w.Line($"float {state} = {Gpu}GpuElements.Load(gpu_launch.StateCodec, gpu_s32, gpu_s16, {ScopedStateIndex(kernel, state, perTensor ? "0" : "segment_index")});");
            }

            foreach (string state in compact.Where(c => written.Contains(c) && !read.Contains(c)))
            {
                w.Line($"float {state};");
            }

            // A state a reduction of this loop reads is stored and read back (SegmentLoop.StoredEarly), as on the CPU;
            // each such reduction's operand is stored per (tensor, segment) pair in its plane of gpu_terms.
            HashSet<string> storedEarly = loop.StoredEarly(compact);
            var reductionIndex = plan.Reductions.Select((r, k) => (r.Name, k)).ToDictionary(x => x.Name, x => x.k);
            for (int k = 0; k < loop.Body.Count; k++)
            {
                ElementStatement s = loop.Body[k];
                w.Line("// " + s.Comment);
                string value = ExprText.Print(s.Value, ExprFlavor.ElementScalar, (e, n) => e.Op == ExprOp.Scalar ? "gpu_kernel." + n : n);
                w.Line(s.DeclaresLocal ? $"float {s.Target} = {value};" : $"{s.Target} = {value};");
                if (s.DeclaresLocal && loop.Reductions.Contains(s.Target))
                {
                    w.Line($"gpu_terms[((long){reductionIndex[s.Target]} * gpu_scopes[1]) + gpu_x] = {s.Target};");
                }
                else if (loop.StoresEarly(k, storedEarly))
                {
                    w.Line($"{Gpu}GpuElements.Store(gpu_launch.StateCodec, gpu_s32, gpu_s16, {ScopedStateIndex(kernel, s.Target, "segment_index")}, {s.Target}, gpu_launch, gpu_tensor, segment_index);");
                    w.Line($"{s.Target} = {Gpu}GpuElements.Load(gpu_launch.StateCodec, gpu_s32, gpu_s16, {ScopedStateIndex(kernel, s.Target, "segment_index")});");
                }
            }

            foreach (string state in compact.Where(c => written.Contains(c) && !storedEarly.Contains(c)))
            {
                w.Line($"{Gpu}GpuElements.Store(gpu_launch.StateCodec, gpu_s32, gpu_s16, {ScopedStateIndex(kernel, state, "segment_index")}, {state}, gpu_launch, gpu_tensor, segment_index);");
            }

            w.Close();
            w.Close();
        }

        /// <summary>The optimizer's <c>CreateGpuUpdate</c> arguments for a scoped plan (after <c>new ...(</c>).</summary>
        private static void EmitScopedUpdateArguments(SourceWriter w, KernelModel kernel)
        {
            PassPlan plan = kernel.Passes!;
            string type = $"global::OptGen.Gpu.GpuScopedUpdate<{KernelType(kernel)}>";
            string kernels = $"global::{CpuEmitter.KernelNamespace}.{GpuKernelName(kernel)}";
            w.Line("this,");
            w.Line("accelerator,");
            w.Line("groups,");
            w.Line($"new({kernels}.LoadReduce(accelerator)),");
            w.Line($"new({kernels}.LoadUpdate(accelerator)),");
            w.Line($"new {type}.SegmentPass[] {{ {string.Join(", ", Enumerable.Range(0, plan.Segments.Count).Select(l => $"new({kernels}.LoadSegments{l}(accelerator))"))} }},");
            w.Line($"new global::OptGen.ReductionScope[] {{ {string.Join(", ", plan.Segments.Select(s => CpuEmitter.ScopeLiteral(s.Scope, s.BlockLength)))} }},");
            var index = plan.Reductions.Select((r, k) => (r.Name, k)).ToDictionary(x => x.Name, x => x.k);
            w.Line($"new int[][] {{ {string.Join(", ", plan.Segments.Select(s => $"new int[] {{ {string.Join(", ", s.Reductions.Select(r => index[r].ToString(CultureInfo.InvariantCulture)))} }}"))} }},");
        }
    }
}
