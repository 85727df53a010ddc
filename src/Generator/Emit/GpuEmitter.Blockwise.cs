using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.Emit
{
    /// <content>
    /// The blockwise kernel: the same per-element update over 8-bit or 4-bit blockwise-quantized state (one thread
    /// group per block; dequantize, <c>Invoke</c>, block absmax, requantize; see <c>OptGen.Gpu.GpuBlockwise</c>).
    /// </content>
    internal static partial class GpuEmitter
    {
        /// <summary>The blockwise kernel's parameter names, in the order of <see cref="BlockwiseTypeArguments"/>.</summary>
        private static readonly string[] BlockwiseParameterNames = { "groups", "table", "chunks", "factor", "p32", "p16", "g32", "g16", "codes", "floats", "books", "blockwise" };

        /// <summary>The names with the input views before <c>blockwise</c>, for kernels that read one.</summary>
        private static readonly string[] BlockwiseParameterNamesWithInputs = { "groups", "table", "chunks", "factor", "p32", "p16", "g32", "g16", "codes", "floats", "books", "q32", "q16", "blockwise" };

        /// <summary>
        /// The object initializer (with the closing <c>;</c>) that hands the blockwise kernel's loader to the
        /// optimizer's <c>GpuUpdate</c>; just <c>;</c> for a rule without state (nothing to quantize).
        /// </summary>
        private static string BlockwiseInitializer(KernelModel kernel) => kernel.StateSymbols.Count == 0
            ? ";"
            : $" {{ {(kernel.Inputs.Count > 0 ? "BlockwiseInputKernel" : "BlockwiseKernel")} = global::{CpuEmitter.KernelNamespace}.{GpuKernelName(kernel)}.LoadBlockwise }};";

        /// <summary>Emits, into the kernel's static class, the blockwise kernel method and its loader.</summary>
        private static void EmitBlockwiseKernel(SourceWriter w, KernelModel kernel)
        {
            string kernelType = KernelType(kernel);
            int planes = kernel.StateSymbols.Count;
            string launcher = $"global::System.Action<{Stream}, global::ILGPU.KernelConfig, {string.Join(", ", BlockwiseTypeArguments(kernel))}>";
            string[] names = kernel.Inputs.Count > 0 ? BlockwiseParameterNamesWithInputs : BlockwiseParameterNames;
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// The update over blockwise-quantized state (8-bit blocks of 256, 4-bit blocks of 128): one thread group per block at a");
            w.Line("/// time (a grid-stride loop over the chunks' blocks). Each thread dequantizes its elements' codes (code value × absmax),");
            w.Line($"/// runs the same <c>Invoke</c> as <see cref=\"Kernel\"/> in float32 and stages the new state in shared memory; then the group");
            w.Line("/// takes each plane's new block absmax and requantizes every element with the CPU's decision rule (<c>OptGen.Gpu.GpuBlockwise</c>).");
            w.Line("/// Chunks of tensors below the threshold keep float32 state and only run the update.");
            w.Line("/// </summary>");
            w.Line("/// <param name=\"groups\">The kernel struct of each parameter group, by value (up to 8 groups).</param>");
            w.Line("/// <param name=\"table\">The kernel structs on the device, for layouts with more groups.</param>");
            w.Line("/// <param name=\"chunks\">The blockwise tensor table.</param>");
            w.Line("/// <param name=\"factor\">The device-computed gradient factor (one element; read when <c>launch.DeviceFactor</c> is 1).</param>");
            w.Line("/// <param name=\"p32\">float32 parameters (or empty).</param>");
            w.Line("/// <param name=\"p16\">16-bit parameters (or empty).</param>");
            w.Line("/// <param name=\"g32\">float32 gradients (or empty; read only).</param>");
            w.Line("/// <param name=\"g16\">16-bit gradients (or empty; read only).</param>");
            w.Line($"/// <param name=\"codes\">The codes of the state planes ({string.Join(", ", kernel.StateSymbols)}, <c>blockwise.CodeStride</c> bytes apart).</param>");
            w.Line("/// <param name=\"floats\">The planes' absmax, then the float32 state of the tensors below the threshold.</param>");
            w.Line("/// <param name=\"books\">The code tables, one per plane.</param>");
            if (kernel.Inputs.Count > 0)
            {
                w.Line($"/// <param name=\"q32\">float32 {string.Join(", ", kernel.Inputs)}, beside the gradients (or empty; read only).</param>");
                w.Line($"/// <param name=\"q16\">16-bit {string.Join(", ", kernel.Inputs)} (or empty; read only).</param>");
            }

            w.Line("/// <param name=\"blockwise\">The element launch's values and the state layout.</param>");
            w.Open($"public static void BlockwiseKernel({string.Join(", ", BlockwiseTypeArguments(kernel).Zip(names, (type, name) => type + " " + name))})");
            w.Line($"global::ILGPU.ArrayView<float> stage = global::ILGPU.SharedMemory.Allocate<float>({planes} * global::OptGen.Gpu.GpuBlockwise.MaxBlockLength);");
            w.Line($"global::ILGPU.ArrayView<uint> peak = global::ILGPU.SharedMemory.Allocate<uint>({planes} * global::OptGen.Gpu.GpuBlockwise.ScratchLength);");
            w.Line("global::OptGen.Gpu.GpuLaunch launch = blockwise.Element;");
            w.Line("float gradientFactor = launch.DeviceFactor != 0 ? factor[0] : launch.GradientFactor;");
            w.Line("int perChunk = global::OptGen.Gpu.GpuChunk.Capacity / blockwise.BlockLength;");
            w.Line("long end = chunks.Length * perChunk;");
            w.Open("for (long v = global::ILGPU.Grid.IdxX; v < end; v += global::ILGPU.Grid.DimX)");
            w.Line("global::OptGen.Gpu.GpuBlockChunk chunk = chunks[v / perChunk];");
            w.Line("int first = (int)(v % perChunk) * blockwise.BlockLength;");
            w.Open("if (first >= chunk.Length)");
            w.Line("continue;");
            w.Close();
            w.Line();
            w.Line("int count = global::System.Math.Min(blockwise.BlockLength, chunk.Length - first);");
            w.Line($"{kernelType} kernel = groups.Count <= global::OptGen.Gpu.GpuGroups<{kernelType}>.MaxByValue ? groups.Get(chunk.Group) : table[chunk.Group];");
            w.Open("for (int j = global::ILGPU.Group.IdxX; j < count; j += global::ILGPU.Group.DimX)");
            w.Line("int local = first + j;");
            EmitElementUpdate(
                w,
                kernel,
                k => $"global::OptGen.Gpu.GpuBlockwise.Load(codes, floats, books, blockwise, chunk, {k}, local)",
                (k, value) => $"global::OptGen.Gpu.GpuBlockwise.Store(stage, floats, blockwise, chunk, {k}, local, j, {value});");
            w.Close();
            w.Line();
            w.Line($"global::OptGen.Gpu.GpuBlockwise.Requantize(stage, peak, codes, floats, books, blockwise, chunk, first, count, {planes});");
            w.Close();
            w.Close();

            w.Line();
            w.Line($"private static readonly global::System.Runtime.CompilerServices.ConditionalWeakTable<{Accelerator}, {launcher}> LoadedBlockwise = new();");
            w.Line();
            w.Line("/// <summary>The blockwise kernel compiled for <paramref name=\"accelerator\"/>: compiled on the first call, then reused.</summary>");
            w.Line("/// <param name=\"accelerator\">The accelerator to run on.</param>");
            w.Line($"public static {launcher} LoadBlockwise({Accelerator} accelerator) =>");
            w.Line($"    LoadedBlockwise.GetValue(accelerator, static a => global::ILGPU.Runtime.KernelLoaders.LoadKernel<{string.Join(", ", BlockwiseTypeArguments(kernel))}>(a, BlockwiseKernel));");
        }

        /// <summary>The blockwise kernel method's parameter types: its signature and the loader's type arguments.</summary>
        private static IEnumerable<string> BlockwiseTypeArguments(KernelModel kernel)
        {
            string kernelType = KernelType(kernel);
            return new[]
            {
                $"global::OptGen.Gpu.GpuGroups<{kernelType}>", $"global::ILGPU.ArrayView<{kernelType}>", "global::ILGPU.ArrayView<global::OptGen.Gpu.GpuBlockChunk>",
                View, View, View16, View, View16, "global::ILGPU.ArrayView<byte>", View, View,
            }.Concat(kernel.Inputs.Count > 0 ? new[] { View, View16 } : System.Array.Empty<string>()).Concat(new[] { "global::OptGen.Gpu.GpuBlockwiseLaunch" });
        }
    }
}
