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
    internal static class GpuEmitter
    {
        /// <summary>The type whose presence in the compilation switches GPU emission on.</summary>
        internal const string IlgpuMarkerType = "ILGPU.Index1D";

        private const string View = "global::ILGPU.ArrayView<float>";
        private const string Accelerator = "global::ILGPU.Runtime.Accelerator";
        private const string Stream = "global::ILGPU.Runtime.AcceleratorStream";

        public const string AccessHintName = "OptGen.Generated.IlgpuRuntimeAccess.g.cs";

        public static string GpuKernelName(KernelModel kernel) => kernel.Name + "_Gpu";

        public static string OptimizerHintName(OptimizerModel model) => model.Type.HintName + ".Gpu.g.cs";

        public static string KernelHintName(KernelModel kernel) => CpuEmitter.KernelNamespace + "." + GpuKernelName(kernel) + ".g.cs";

        /// <summary>The ILGPU kernel of one per-element program, and its per-accelerator loader.</summary>
        public static string EmitKernel(KernelModel kernel, IReadOnlyList<string> users)
        {
            string name = GpuKernelName(kernel);
            string launcher = LauncherType(kernel);
            var w = new SourceWriter();
            Header(w);
            w.Open("namespace " + CpuEmitter.KernelNamespace);
            w.Line("/// <summary>");
            w.Line($"/// The ILGPU kernel of <see cref=\"{kernel.Name}\"/>, the fused per-element update of " + string.Join(", ", users.Select(u => $"<see cref=\"global::{u}\"/>")) + ".");
            w.Line("/// </summary>");
            w.Line("/// <remarks>");
            w.Line($"/// <para>Per element, a thread loads p, g and the state, calls <see cref=\"{kernel.Name}.Invoke({(ExprText.UsesRandom(kernel.Body) ? "ulong, " : string.Empty)}ref float, float{string.Concat(kernel.StateSymbols.Select(_ => ", ref float"))})\"/>,");
            w.Line("/// the same scalar update the CPU path runs, and stores p and the state back. The per-step scalars travel in");
            w.Line("/// the kernel struct, passed by value as the second kernel parameter.</para>");
            w.Line("/// <para>" + CpuEmitter.Xml(CpuEmitter.Traffic(kernel)) + "</para>");
            w.Line("/// </remarks>");
            w.Line(CpuEmitter.GeneratedCodeAttribute);
            w.Open($"internal static class {name}");
            w.Line("private static readonly global::System.Runtime.CompilerServices.ConditionalWeakTable<" + Accelerator + ", " + launcher + "> Loaded = new();");
            w.Line();

            // The kernel.
            var parameters = new List<string> { "global::ILGPU.Index1D index", $"global::{CpuEmitter.KernelNamespace}.{kernel.Name} kernel", $"{View} p", $"{View} g" };
            parameters.AddRange(kernel.StateSymbols.Select(s => $"{View} {s}"));
            w.Line("/// <summary>");
            w.Line("/// Updates p and every state buffer in place, element by element: a grid-stride loop, so one launch of any");
            w.Line("/// size covers every element (on the CPU accelerator a few threads walk long runs; on a GPU one wave of");
            w.Line("/// resident threads streams through memory).");
            w.Line("/// </summary>");
            w.Line("/// <param name=\"index\">The thread: its first element.</param>");
            w.Line("/// <param name=\"kernel\">The step's per-step scalars.</param>");
            w.Line("/// <param name=\"p\">The parameters.</param>");
            w.Line("/// <param name=\"g\">The gradients (read only).</param>");
            foreach (string s in kernel.StateSymbols)
            {
                w.Line($"/// <param name=\"{s}\">State buffer {s}.</param>");
            }

            w.Line("/// <param name=\"stride\">The number of threads launched: thread <paramref name=\"index\"/> updates elements index, index + stride, ….</param>");
            w.Open($"public static void Kernel({string.Join(", ", parameters)}, int stride)");
            w.Open("for (long i = index; i < p.Length; i += stride)");
            w.Line("float p_i = p[i];");
            foreach (string s in kernel.StateSymbols)
            {
                w.Line($"float {s}_i = {s}[i];");
            }

            w.Line($"kernel.Invoke({(ExprText.UsesRandom(kernel.Body) ? "kernel.ElementOffset + (ulong)i, " : string.Empty)}ref p_i, g[i]{string.Concat(kernel.StateSymbols.Select(s => $", ref {s}_i"))});");
            w.Line("p[i] = p_i;");
            foreach (string s in kernel.StateSymbols)
            {
                w.Line($"{s}[i] = {s}_i;");
            }

            w.Close();
            w.Close();

            // The loader.
            w.Line();
            w.Line("/// <summary>The kernel compiled for <paramref name=\"accelerator\"/>: compiled on the first call, then reused.</summary>");
            w.Line("/// <param name=\"accelerator\">The accelerator to run on.</param>");
            w.Line($"public static {launcher} Load({Accelerator} accelerator) =>");
            w.Line($"    Loaded.GetValue(accelerator, static a => global::ILGPU.Runtime.KernelLoaders.LoadAutoGroupedKernel<{string.Join(", ", KernelTypeArguments(kernel))}>(a, Kernel));");
            w.Close();
            w.Close();
            return w.ToString();
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

            w.Line($"// On an ILGPU accelerator each step is one launch of {CpuEmitter.KernelNamespace}.{GpuKernelName(kernel)} (see OptGen.Gpu.GpuOptimizer).");
            w.Open($"partial class {model.Type.Name} : global::OptGen.Gpu.IGpuKernelSource");
            w.Line("/// <inheritdoc/>");
            w.Line(CpuEmitter.GeneratedCodeAttribute);
            w.Open($"global::OptGen.Gpu.GpuStepLauncher global::OptGen.Gpu.IGpuKernelSource.LoadGpuKernel({Accelerator} accelerator)");
            w.Line($"{LauncherType(kernel)} launch = global::{CpuEmitter.KernelNamespace}.{GpuKernelName(kernel)}.Load(accelerator);");
            bool hostState = model.Program.HostStates.Count > 0;
            w.Line("return (stream, threads, hyperparameters, hostState, step, gradientScale, parameters, gradients, states) => launch(");
            w.Indent();
            w.Line("stream,");
            w.Line("threads,");
            w.Line(hostState ? "CreateKernel(hyperparameters, hostState, step, gradientScale)," : "CreateKernel(hyperparameters, step, gradientScale),");
            w.Line("parameters,");
            w.Line("gradients,");
            for (int k = 0; k < kernel.StateSymbols.Count; k++)
            {
                w.Line($"states[{k}],");
            }

            w.Line("threads);");

            w.Outdent();
            w.Close();

            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line(CpuEmitter.GeneratedCodeAttribute);
            w.Open("void global::OptGen.Gpu.IGpuKernelSource.AdvanceGpuHostState(global::System.Span<double> hostState, global::System.ReadOnlySpan<double> hyperparameters, long step)");
            if (hostState)
            {
                w.Line("AdvanceHostState(hostState, hyperparameters, step);");
            }

            w.Close();
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line(CpuEmitter.GeneratedCodeAttribute);
            w.Open("void global::OptGen.Gpu.IGpuKernelSource.CopyHostState(global::System.Span<double> destination)");
            for (int i = 0; i < model.Program.HostStates.Count; i++)
            {
                w.Line($"destination[{i}] = GetHostState({i});");
            }

            w.Close();
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

        /// <summary>
        /// The most state buffers a GPU kernel can take: the launcher is an <c>Action</c> of the stream, the extent,
        /// the scalars, p, g, each state and the stride, and <c>Action</c> (like ILGPU's kernel loaders) stops at 16
        /// type arguments. Rules with more buffers get no GPU kernel (the CPU kernel is unaffected); see docs/gpu.md.
        /// </summary>
        public const int MaxStateBuffers = 10;

        /// <summary>Whether <paramref name="kernel"/> fits a GPU launcher.</summary>
        public static bool Supports(KernelModel kernel) => kernel.StateSymbols.Count <= MaxStateBuffers;

        private static IEnumerable<string> KernelTypeArguments(KernelModel kernel) =>
            new[] { "global::ILGPU.Index1D", $"global::{CpuEmitter.KernelNamespace}.{kernel.Name}", View, View }.Concat(kernel.StateSymbols.Select(_ => View)).Concat(new[] { "int" });

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
