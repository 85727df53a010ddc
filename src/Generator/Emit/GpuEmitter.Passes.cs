using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator.Emit
{
    /// <summary>
    /// The ILGPU kernels of a rule with tensor reductions, from the same <see cref="PassPlan"/> the CPU passes are
    /// emitted from (<see cref="CpuEmitter"/>, CpuEmitter.Passes.cs): the same statements per pass, the same stored and
    /// loaded streams, printed as scalar float32 code. Pass 1 is explicitly grouped: each chunk's partial result of
    /// every reduction from 256 virtual lanes and the runtime's fixed tree (<c>OptGen.Gpu.GpuReductions</c>); the
    /// runtime adds the chunks of a tensor in order (<c>OptGen.Gpu.GpuReductionUpdate</c>); pass 2 is a grid-stride
    /// loop over the chunks with the tensor's results.
    /// </summary>
    internal static partial class GpuEmitter
    {
        private const string Gpu = "global::OptGen.Gpu.";

        /// <summary>The pass kernels' parameter types after the index (pass 1: none; pass 2: Index1D), shared by both passes.</summary>
        private static string[] PassParameterTypes(KernelModel kernel, string last) => new[]
        {
            $"global::ILGPU.ArrayView<{Gpu}GpuChunk>", $"{Gpu}GpuGroups<{KernelType(kernel)}>", $"global::ILGPU.ArrayView<{KernelType(kernel)}>",
            View, View, View16, View, View16, View, View16, last, Gpu + "GpuLaunch",
        };

        private static readonly string[] PassParameterNames = { "gpu_chunks", "gpu_groups", "gpu_table", "gpu_factor", "gpu_p32", "gpu_p16", "gpu_g32", "gpu_g16", "gpu_s32", "gpu_s16", "gpu_reductions", "gpu_launch" };

        private static string PassParameters(KernelModel kernel) =>
            string.Join(", ", PassParameterTypes(kernel, "global::ILGPU.ArrayView<double>").Zip(PassParameterNames, (type, name) => type + " " + name));

        /// <summary>The ILGPU pass kernels of a rule with reductions, and their per-accelerator loaders.</summary>
        private static string EmitPassKernel(KernelModel kernel, IReadOnlyList<string> users)
        {
            PassPlan plan = kernel.Passes!;
            string name = GpuKernelName(kernel);
            string kernelType = KernelType(kernel);
            string types = string.Join(", ", PassParameterTypes(kernel, "global::ILGPU.ArrayView<double>"));
            string reduceLauncher = $"global::System.Action<{Stream}, global::ILGPU.KernelConfig, {types}>";
            string updateLauncher = $"global::System.Action<{Stream}, global::ILGPU.Index1D, {types}>";
            int width = plan.Reductions.Count;
            int maxMask = 0;
            for (int k = 0; k < width; k++)
            {
                maxMask |= plan.Reductions[k].Kind == ReductionKind.MaxAbs ? 1 << k : 0;
            }

            var w = new SourceWriter();
            Header(w);
            w.Open("namespace " + CpuEmitter.KernelNamespace);
            w.Line("/// <summary>");
            w.Line($"/// The ILGPU pass kernels of <see cref=\"{kernel.Name}\"/>, the two passes of " + string.Join(", ", users.Select(u => $"<see cref=\"global::{u}\"/>")) + ".");
            w.Line("/// </summary>");
            w.Line("/// <remarks>");
            w.Line("/// <para>The statements of each pass are the CPU passes' (one pass plan), in scalar float32. The gradient is multiplied");
            w.Line("/// by the step's gradient factor when loaded; the kernel structs are made with gradient scale 1 (its sign carries");
            w.Line("/// <c>maximize</c>), so the product is the CPU's g·GradientScale bit for bit.</para>");
            w.Line("/// <para>Pass 1 writes each 2048-element chunk's partial result of every reduction: 256 virtual lanes, lane l adding");
            w.Line("/// elements l, l + 256, … in double, then a fixed pairwise tree; the result does not depend on the group size or grid.</para>");
            w.Line("/// </remarks>");
            w.Line(CpuEmitter.GeneratedCodeAttribute);
            w.Open($"internal static class {name}");
            w.Line($"private static readonly global::System.Runtime.CompilerServices.ConditionalWeakTable<{Accelerator}, {reduceLauncher}> LoadedReduce = new();");
            w.Line($"private static readonly global::System.Runtime.CompilerServices.ConditionalWeakTable<{Accelerator}, {updateLauncher}> LoadedUpdate = new();");

            // Pass 1.
            w.Line();
            w.Line("/// <summary>Pass 1 (explicitly grouped, a grid-stride loop over the chunks): the chunk partials of every reduction into <paramref name=\"gpu_reductions\"/>, and the states this pass keeps.</summary>");
            w.Open($"public static void Reduce({PassParameters(kernel)})");
            w.Line($"global::ILGPU.ArrayView<double> gpu_shared = global::ILGPU.SharedMemory.Allocate<double>({width * 256});");
            w.Line($"float gpu_gradientFactor = {Gpu}GpuReductions.GradientFactor(gpu_factor, gpu_launch);");
            w.Open("for (int gpu_c = global::ILGPU.Grid.IdxX; gpu_c < gpu_chunks.IntLength; gpu_c += global::ILGPU.Grid.DimX)");
            w.Line($"{Gpu}GpuChunk gpu_chunk = gpu_chunks[gpu_c];");
            w.Line($"{kernelType} gpu_kernel = gpu_groups.Count <= {Gpu}GpuGroups<{kernelType}>.MaxByValue ? gpu_groups.Get(gpu_chunk.Group) : gpu_table[gpu_chunk.Group];");
            w.Open($"for (int gpu_l = global::ILGPU.Group.IdxX; gpu_l < {Gpu}GpuReductions.Lanes; gpu_l += global::ILGPU.Group.DimX)");
            foreach (ReductionDecl r in plan.Reductions)
            {
                w.Line($"double {r.Name}_partial = 0;");
            }

            w.Open($"for (int gpu_i = gpu_l; gpu_i < gpu_chunk.Length; gpu_i += {Gpu}GpuReductions.Lanes)");
            EmitPassElement(w, kernel, plan, 0);
            w.Close();
            for (int k = 0; k < width; k++)
            {
                w.Line($"gpu_shared[{(k == 0 ? "gpu_l" : $"{k * 256} + gpu_l")}] = {plan.Reductions[k].Name}_partial;");
            }

            w.Close();
            w.Line($"{Gpu}GpuReductions.Tree(gpu_shared, {width}, {maxMask});");
            w.Open("if (global::ILGPU.Group.IdxX == 0)");
            for (int k = 0; k < width; k++)
            {
                w.Line($"gpu_reductions[((long)gpu_c * {width}) + {k}] = gpu_shared[{k * 256}];");
            }

            w.Close();
            w.Line("global::ILGPU.Group.Barrier();");
            w.Close();
            w.Close();

            // Pass 2.
            w.Line();
            w.Line("/// <summary>Pass 2 (a grid-stride loop over the chunks' elements): the update, with the tensor's finished <paramref name=\"gpu_reductions\"/>.</summary>");
            w.Open($"public static void Update(global::ILGPU.Index1D gpu_index, {PassParameters(kernel)})");
            w.Line($"float gpu_gradientFactor = {Gpu}GpuReductions.GradientFactor(gpu_factor, gpu_launch);");
            w.Line($"long gpu_end = gpu_chunks.Length << {Gpu}GpuChunk.Shift;");
            w.Open("for (long gpu_v = gpu_index; gpu_v < gpu_end; gpu_v += gpu_launch.Stride)");
            w.Line($"{Gpu}GpuChunk gpu_chunk = gpu_chunks[gpu_v >> {Gpu}GpuChunk.Shift];");
            w.Line($"int gpu_i = (int)(gpu_v & ({Gpu}GpuChunk.Capacity - 1));");
            w.Open("if (gpu_i >= gpu_chunk.Length)");
            w.Line("continue;");
            w.Close();
            w.Line();
            w.Line($"{kernelType} gpu_kernel = gpu_groups.Count <= {Gpu}GpuGroups<{kernelType}>.MaxByValue ? gpu_groups.Get(gpu_chunk.Group) : gpu_table[gpu_chunk.Group];");
            for (int k = 0; k < width; k++)
            {
                string reduction = plan.Reductions[k].Name;
                if (plan.Update.Body.Any(s => PassPlanner.Variables(s.Value).Contains(reduction)))
                {
                    w.Line($"float {reduction} = (float)gpu_reductions[((long)gpu_chunk.Tensor * {width}) + {k}];");
                }
            }

            EmitPassElement(w, kernel, plan, 1);
            w.Close();
            w.Close();

            // The loaders.
            w.Line();
            w.Line("/// <summary>Pass 1 compiled for <paramref name=\"accelerator\"/>: compiled on the first call, then reused.</summary>");
            w.Line("/// <param name=\"accelerator\">The accelerator to run on.</param>");
            w.Line($"public static {reduceLauncher} LoadReduce({Accelerator} accelerator) =>");
            w.Line($"    LoadedReduce.GetValue(accelerator, static a => global::ILGPU.Runtime.KernelLoaders.LoadKernel<{types}>(a, Reduce));");
            w.Line();
            w.Line("/// <summary>Pass 2 compiled for <paramref name=\"accelerator\"/>: compiled on the first call, then reused.</summary>");
            w.Line("/// <param name=\"accelerator\">The accelerator to run on.</param>");
            w.Line($"public static {updateLauncher} LoadUpdate({Accelerator} accelerator) =>");
            w.Line($"    LoadedUpdate.GetValue(accelerator, static a => global::ILGPU.Runtime.KernelLoaders.LoadAutoGroupedKernel<global::ILGPU.Index1D, {types}>(a, Update));");
            w.Close();
            w.Close();
            return w.ToString();
        }

        /// <summary>One element of pass <paramref name="pass"/> (element i of the chunk): loads, the pass's statements, partials (pass 1), stores.</summary>
        private static void EmitPassElement(SourceWriter w, KernelModel kernel, PassPlan plan, int pass)
        {
            PassModel model = pass == 0 ? plan.Reduce : plan.Update;
            var reductions = plan.Reductions.ToDictionary(r => r.Name, r => r);
            w.Line("long gpu_e = gpu_chunk.ArenaStart + gpu_i;");
            w.Line("long gpu_s = gpu_chunk.StateStart + gpu_i;");
            w.Line("int gpu_t = gpu_chunk.TensorStart + gpu_i;");
            foreach (string stream in model.Reads)
            {
                w.Line($"float {stream} = {PassLoad(kernel, stream)};");
            }

            foreach (string stream in model.AssignedWithoutLoad)
            {
                w.Line($"float {stream};");
            }

            foreach (ElementStatement s in model.Body)
            {
                w.Line("// " + s.Comment);
                string value = ExprText.Print(s.Value, ExprFlavor.ElementScalar, (e, n) => e.Op == ExprOp.Scalar ? "gpu_kernel." + n : n);
                w.Line(s.DeclaresLocal ? $"float {s.Target} = {value};" : $"{s.Target} = {value};");
                if (pass == 0 && s.DeclaresLocal && reductions.TryGetValue(s.Target, out ReductionDecl? r))
                {
                    w.Line(r.Kind switch
                    {
                        ReductionKind.Norm => $"{r.Name}_partial += (double){r.Name} * {r.Name};",
                        ReductionKind.MaxAbs => $"{r.Name}_partial = global::System.Math.Max({r.Name}_partial, global::System.Math.Abs((double){r.Name}));",
                        _ => $"{r.Name}_partial += {r.Name};",
                    });
                }
            }

            foreach (string stream in model.Writes)
            {
                w.Line(stream == "p"
                    ? $"{Gpu}GpuElements.Store(gpu_launch.ParameterCodec, gpu_p32, gpu_p16, gpu_e, p, gpu_launch, gpu_chunk.Tensor, gpu_t);"
                    : $"{Gpu}GpuElements.Store(gpu_launch.StateCodec, gpu_s32, gpu_s16, {PassStateIndex(kernel.StateSymbols.ToList().IndexOf(stream))}, {stream}, gpu_launch, gpu_chunk.Tensor, gpu_t);");
            }
        }

        private static string PassStateIndex(int k) => k == 0 ? "gpu_s" : k == 1 ? "gpu_launch.StateStride + gpu_s" : $"(gpu_launch.StateStride * {k}) + gpu_s";

        private static string PassLoad(KernelModel kernel, string stream) => stream switch
        {
            "p" => $"{Gpu}GpuElements.Load(gpu_launch.ParameterCodec, gpu_p32, gpu_p16, gpu_e)",
            "g" => $"{Gpu}GpuElements.Load(gpu_launch.GradientCodec, gpu_g32, gpu_g16, gpu_e) * gpu_gradientFactor",
            _ => $"{Gpu}GpuElements.Load(gpu_launch.StateCodec, gpu_s32, gpu_s16, {PassStateIndex(kernel.StateSymbols.ToList().IndexOf(stream))})",
        };

        /// <summary>The optimizer's <c>CreateGpuUpdate</c> body for a rule with reductions (after <c>new ...(accelerator, groups, </c>).</summary>
        private static void EmitPassUpdateArguments(SourceWriter w, KernelModel kernel)
        {
            w.Line("RuleReductions,");
            w.Line($"new(global::{CpuEmitter.KernelNamespace}.{GpuKernelName(kernel)}.LoadReduce(accelerator)),");
            w.Line($"new(global::{CpuEmitter.KernelNamespace}.{GpuKernelName(kernel)}.LoadUpdate(accelerator)),");
        }
    }
}
