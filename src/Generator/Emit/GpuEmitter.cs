using System;
using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.Emit
{
    /// <summary>
    /// Phase 3 (GPU): for a compilation that references ILGPU, emits per kernel an ILGPU kernel method that loads
    /// one element, calls the kernel struct's scalar <c>Invoke</c> (the very code the CPU SIMD path runs in its
    /// tail) and stores it back; and per optimizer the <c>OptGen.Gpu.IGpuKernelSource</c> implementation that binds
    /// the optimizer's per-step scalars to that kernel on an accelerator.
    /// </summary>
    internal static partial class GpuEmitter
    {
        /// <summary>The type whose presence in the compilation switches GPU emission on.</summary>
        internal const string IlgpuMarkerType = "ILGPU.Index1D";

        private const string View = "global::ILGPU.ArrayView<float>";
        private const string View16 = "global::ILGPU.ArrayView<ushort>";
        private const string Accelerator = "global::ILGPU.Runtime.Accelerator";
        private const string Stream = "global::ILGPU.Runtime.AcceleratorStream";

        public const string AccessHintName = "OptGen.Generated.IlgpuRuntimeAccess.g.cs";

        public static string GpuKernelName(KernelModel kernel) => kernel.Name + "_Gpu";

        public static string OptimizerHintName(OptimizerModel model) => model.Type.HintName + ".Gpu.g.cs";

        public static string KernelHintName(KernelModel kernel) => CpuEmitter.KernelNamespace + "." + GpuKernelName(kernel) + ".g.cs";

        /// <summary>
        /// Whether a rule gets an ILGPU kernel: every element-wise rule, and a rule with reductions (tensor-scope, or a
        /// scoped plan: row, column, block, group or global reductions and compact state) that reads no per-element
        /// input (gsq). The others run on the CPU; <c>GpuOptimizer</c> refuses them (no <c>IGpuKernelSource</c>).
        /// </summary>
        public static bool HasGpuKernel(KernelModel kernel) => kernel.Passes is null || kernel.Inputs.Count == 0;

        /// <summary>The ILGPU kernel of one per-element program, and its per-accelerator loader.</summary>
        public static string EmitKernel(KernelModel kernel, IReadOnlyList<string> users)
        {
            if (kernel.Passes is not null)
            {
                return kernel.Passes.IsScoped ? EmitScopedKernel(kernel, users) : EmitPassKernel(kernel, users);
            }

            string name = GpuKernelName(kernel);
            string kernelType = KernelType(kernel);
            bool random = ExprText.UsesRandom(kernel.Body);
            var w = new SourceWriter();
            Header(w);
            w.Open("namespace " + CpuEmitter.KernelNamespace);
            w.Line("/// <summary>");
            w.Line($"/// The ILGPU kernel of <see cref=\"{kernel.Name}\"/>, the fused per-element update of " + string.Join(", ", users.Select(u => $"<see cref=\"global::{u}\"/>")) + ".");
            w.Line("/// </summary>");
            w.Line("/// <remarks>");
            w.Line("/// <para>One launch updates every tensor of a parameter layout: the tensor table (<c>chunks</c>) cuts the tensors into");
            w.Line("/// chunks of at most 2048 elements, each with its tensor, parameter group and offsets (as PyTorch's multi-tensor apply).");
            w.Line($"/// Per element, a thread loads p, g and the state in their storage formats, calls <see cref=\"{kernel.Name}.Invoke({(random ? "ulong, " : string.Empty)}ref float, float{string.Concat(kernel.Inputs.Select(_ => ", float"))}{string.Concat(kernel.StateSymbols.Select(_ => ", ref float"))})\"/>");
            w.Line("/// of its group's kernel struct, the same scalar update the CPU path runs, and stores p and the state back.</para>");
            w.Line("/// <para>The gradient is multiplied by the step's gradient factor (unscaling × clipping, computed on the device when");
            w.Line("/// clipping) before the call; the kernel structs are made with gradient scale 1, whose sign carries <c>maximize</c>, so the");
            w.Line("/// product is the CPU's g·GradientScale bit for bit.</para>");
            w.Line("/// <para>" + CpuEmitter.Xml(CpuEmitter.Traffic(kernel)) + "</para>");
            w.Line("/// </remarks>");
            w.Line(CpuEmitter.GeneratedCodeAttribute);
            w.Open($"internal static class {name}");
            w.Line("private static readonly global::System.Runtime.CompilerServices.ConditionalWeakTable<" + Accelerator + ", " + LauncherType(kernel) + "> Loaded = new();");
            w.Line();

            w.Line("/// <summary>");
            w.Line("/// Updates every element of every chunk in place: a grid-stride loop over the chunks' virtual indices (chunk c holds");
            w.Line("/// c·2048 … c·2048 + its length − 1), so one launch of any size covers every tensor.");
            w.Line("/// </summary>");
            w.Line("/// <param name=\"index\">The thread: its first virtual index.</param>");
            w.Line("/// <param name=\"groups\">The kernel struct of each parameter group, by value (up to 8 groups).</param>");
            w.Line("/// <param name=\"table\">The kernel structs on the device, for layouts with more groups.</param>");
            w.Line("/// <param name=\"chunks\">The tensor table.</param>");
            w.Line("/// <param name=\"factor\">The device-computed gradient factor (one element; read when <c>launch.DeviceFactor</c> is 1).</param>");
            w.Line("/// <param name=\"p32\">float32 parameters (or empty).</param>");
            w.Line("/// <param name=\"p16\">16-bit parameters (or empty).</param>");
            w.Line("/// <param name=\"g32\">float32 gradients (or empty; read only).</param>");
            w.Line("/// <param name=\"g16\">16-bit gradients (or empty; read only).</param>");
            w.Line("/// <param name=\"s32\">float32 state planes" + (kernel.StateSymbols.Count > 0 ? " (" + string.Join(", ", kernel.StateSymbols) + ", <c>launch.StateStride</c> apart)" : string.Empty) + " (or empty).</param>");
            w.Line("/// <param name=\"s16\">bfloat16 state planes (or empty).</param>");
            if (kernel.Inputs.Count > 0)
            {
                w.Line($"/// <param name=\"q32\">float32 {string.Join(", ", kernel.Inputs)}, beside the gradients (or empty; read only).</param>");
                w.Line($"/// <param name=\"q16\">16-bit {string.Join(", ", kernel.Inputs)} (or empty; read only).</param>");
            }

            w.Line("/// <param name=\"launch\">Storage formats, the state stride, the gradient factor, the thread count and the rounding inputs.</param>");
            w.Open($"public static void Kernel({string.Join(", ", KernelTypeArguments(kernel).Zip(ParameterNames(kernel), (type, name) => type + " " + name))})");
            w.Line("float gradientFactor = launch.DeviceFactor != 0 ? factor[0] : launch.GradientFactor;");
            w.Line("long end = chunks.Length << global::OptGen.Gpu.GpuChunk.Shift;");
            w.Open("for (long v = index; v < end; v += launch.Stride)");
            w.Line("global::OptGen.Gpu.GpuChunk chunk = chunks[v >> global::OptGen.Gpu.GpuChunk.Shift];");
            w.Line("int local = (int)(v & (global::OptGen.Gpu.GpuChunk.Capacity - 1));");
            w.Open("if (local >= chunk.Length)");
            w.Line("continue;");
            w.Close();
            w.Line();
            w.Line($"{kernelType} kernel = groups.Count <= global::OptGen.Gpu.GpuGroups<{kernelType}>.MaxByValue ? groups.Get(chunk.Group) : table[chunk.Group];");
            EmitElementUpdate(
                w,
                kernel,
                k => $"global::OptGen.Gpu.GpuElements.Load(launch.StateCodec, s32, s16, {StateIndex(k)})",
                (k, value) => $"global::OptGen.Gpu.GpuElements.Store(launch.StateCodec, s32, s16, {StateIndex(k)}, {value}, launch, chunk.Tensor, t);");
            w.Close();
            w.Close();

            if (kernel.StateSymbols.Count > 0)
            {
                EmitBlockwiseKernel(w, kernel);
            }

            // The loader.
            w.Line();
            w.Line("/// <summary>The kernel compiled for <paramref name=\"accelerator\"/>: compiled on the first call, then reused.</summary>");
            w.Line("/// <param name=\"accelerator\">The accelerator to run on.</param>");
            w.Line($"public static {LauncherType(kernel)} Load({Accelerator} accelerator) =>");
            w.Line($"    Loaded.GetValue(accelerator, static a => global::ILGPU.Runtime.KernelLoaders.LoadAutoGroupedKernel<{string.Join(", ", KernelTypeArguments(kernel))}>(a, Kernel));");
            w.Close();
            w.Close();
            return w.ToString();
        }

        /// <summary>
        /// The update of element <c>local</c> of <c>chunk</c>, shared by the float32/bfloat16-state kernel and the
        /// blockwise one: load p, g and the inputs in their storage formats (g times the step's gradient factor), load
        /// the state with <paramref name="loadState"/>, call the kernel struct's <c>Invoke</c>, store p, and store the
        /// state with <paramref name="storeState"/> (plane, value expression → statement).
        /// </summary>
        private static void EmitElementUpdate(SourceWriter w, KernelModel kernel, Func<int, string> loadState, Func<int, string, string> storeState)
        {
            bool random = ExprText.UsesRandom(kernel.Body);
            w.Line("long e = chunk.ArenaStart + local;");
            w.Line("long s = chunk.StateStart + local;");
            w.Line("int t = chunk.TensorStart + local;");
            w.Line("float p_i = global::OptGen.Gpu.GpuElements.Load(launch.ParameterCodec, p32, p16, e);");
            w.Line("float g_i = global::OptGen.Gpu.GpuElements.Load(launch.GradientCodec, g32, g16, e) * gradientFactor;");
            foreach (string input in kernel.Inputs)
            {
                // Stored like the gradients and scaled like them, by the square of the factor (the struct's own is 1).
                w.Line($"float {input}_i = global::OptGen.Gpu.GpuElements.Load(launch.GradientCodec, q32, q16, e) * (gradientFactor * gradientFactor);");
            }

            for (int k = 0; k < kernel.StateSymbols.Count; k++)
            {
                w.Line($"float {kernel.StateSymbols[k]}_i = {loadState(k)};");
            }

            w.Line($"kernel.Invoke({(random ? "kernel.ElementOffset + (ulong)s, " : string.Empty)}ref p_i, g_i{string.Concat(kernel.Inputs.Select(i => $", {i}_i"))}{string.Concat(kernel.StateSymbols.Select(s => $", ref {s}_i"))});");
            w.Line("global::OptGen.Gpu.GpuElements.Store(launch.ParameterCodec, p32, p16, e, p_i, launch, chunk.Tensor, t);");
            for (int k = 0; k < kernel.StateSymbols.Count; k++)
            {
                w.Line(storeState(k, kernel.StateSymbols[k] + "_i"));
            }
        }

        /// <summary>The optimizer's binding of its per-step scalars to its GPU kernel.</summary>
        public static string EmitOptimizer(OptimizerModel model)
        {
            KernelModel kernel = model.Kernel;
            var w = new SourceWriter();
            Header(w);
            if (model.Type.Namespace.Length > 0)
            {
                w.Open("namespace " + model.Type.Namespace);
            }

            foreach (string containing in model.Type.ContainingTypes)
            {
                w.Open(containing);
            }

            w.Line(kernel.Passes is null
                ? $"// On an ILGPU accelerator each step is one launch of {CpuEmitter.KernelNamespace}.{GpuKernelName(kernel)} over every tensor (see OptGen.Gpu.GpuOptimizer)."
                : $"// On an ILGPU accelerator each step runs the passes of {CpuEmitter.KernelNamespace}.{GpuKernelName(kernel)} over every tensor, with the reductions combined on the device (see OptGen.Gpu.GpuOptimizer).");
            w.Open($"partial class {model.Type.Name} : global::OptGen.Gpu.IGpuKernelSource");
            w.Line("/// <inheritdoc/>");
            w.Line(CpuEmitter.GeneratedCodeAttribute);
            w.Line($"global::OptGen.Gpu.GpuUpdate global::OptGen.Gpu.IGpuKernelSource.CreateGpuUpdate({Accelerator} accelerator, int groups) =>");
            w.Indent();
            w.Line($"new global::OptGen.Gpu.{(kernel.Passes is null ? "GpuUpdate" : kernel.Passes.IsScoped ? "GpuScopedUpdate" : "GpuReductionUpdate")}<{KernelType(kernel)}>(");
            w.Indent();
            if (kernel.Passes is { IsScoped: true })
            {
                EmitScopedUpdateArguments(w, kernel);
            }
            else if (kernel.Passes is not null)
            {
                w.Line("accelerator,");
                w.Line("groups,");
                EmitPassUpdateArguments(w, kernel);
            }
            else
            {
                w.Line("accelerator,");
                w.Line("groups,");
                w.Line($"global::{CpuEmitter.KernelNamespace}.{GpuKernelName(kernel)}.Load(accelerator),");
            }

            // A rule with reductions has no blockwise kernel (its state precision is float32 or bfloat16).
            string end = kernel.Passes is null ? BlockwiseInitializer(kernel) : ";";
            if (CpuEmitter.UsesBatchSize(model.Program))
            {
                w.Line(model.Program.HostStates.Count > 0
                    ? "static (hyperparameters, hostState, step, batchSize) => CreateKernel(hyperparameters, hostState, step, 1.0, batchSize))" + end
                    : "static (hyperparameters, _, step, batchSize) => CreateKernel(hyperparameters, step, 1.0, batchSize))" + end);
            }
            else
            {
                w.Line(model.Program.HostStates.Count > 0
                    ? "static (hyperparameters, hostState, step) => CreateKernel(hyperparameters, hostState, step, 1.0))" + end
                    : "static (hyperparameters, _, step) => CreateKernel(hyperparameters, step, 1.0))" + end);
            }
            w.Outdent();
            w.Outdent();
            w.Close();
            for (int i = 0; i < model.Type.ContainingTypes.Count; i++)
            {
                w.Close();
            }

            if (model.Type.Namespace.Length > 0)
            {
                w.Close();
            }

            return w.ToString();
        }

        /// <summary>Lets ILGPU's dynamic launcher assembly see the internal kernel structs.</summary>
        public static string EmitAccess()
        {
            var w = new SourceWriter();
            Header(w);
            w.Line("// ILGPU's CPU accelerator emits its kernel launchers into a dynamic assembly named \"ILGPURuntime\", which must");
            w.Line("// see the generated kernel structs (they are internal).");
            w.Line("[assembly: global::System.Runtime.CompilerServices.InternalsVisibleTo(\"ILGPURuntime\")]");
            return w.ToString();
        }

        private static string StateIndex(int k) => k == 0 ? "s" : k == 1 ? "launch.StateStride + s" : $"(launch.StateStride * {k}) + s";

        /// <summary>The kernel method's parameter names, in the order of <see cref="KernelTypeArguments"/>.</summary>
        private static readonly string[] KernelParameterNames = { "index", "groups", "table", "chunks", "factor", "p32", "p16", "g32", "g16", "s32", "s16", "launch" };

        /// <summary>The names with the input views (per-example squares) before <c>launch</c>, for kernels that read one.</summary>
        private static readonly string[] KernelParameterNamesWithInputs = { "index", "groups", "table", "chunks", "factor", "p32", "p16", "g32", "g16", "s32", "s16", "q32", "q16", "launch" };

        private static string[] ParameterNames(KernelModel kernel) => kernel.Inputs.Count > 0 ? KernelParameterNamesWithInputs : KernelParameterNames;

        /// <summary>The rule's kernel struct, fully qualified.</summary>
        private static string KernelType(KernelModel kernel) => $"global::{CpuEmitter.KernelNamespace}.{kernel.Name}";

        /// <summary>The kernel method's parameter types: its signature and the loader's type arguments.</summary>
        private static IEnumerable<string> KernelTypeArguments(KernelModel kernel)
        {
            string kernelType = KernelType(kernel);
            return new[]
            {
                "global::ILGPU.Index1D", $"global::OptGen.Gpu.GpuGroups<{kernelType}>", $"global::ILGPU.ArrayView<{kernelType}>", "global::ILGPU.ArrayView<global::OptGen.Gpu.GpuChunk>",
                View, View, View16, View, View16, View, View16,
            }.Concat(kernel.Inputs.Count > 0 ? new[] { View, View16 } : Array.Empty<string>()).Concat(new[] { "global::OptGen.Gpu.GpuLaunch" });
        }

        private static string LauncherType(KernelModel kernel) =>
            $"global::System.Action<{Stream}, {string.Join(", ", KernelTypeArguments(kernel))}>";

        private static void Header(SourceWriter w)
        {
            w.Line("// <auto-generated/>");
            w.Line("// Generated by the OptGen source generator from the optimizer's attributes. Do not edit: change the attributes.");
            w.Line("#nullable enable");
            w.Line();
        }
    }
}
