using System;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Xunit;

using OptGen.Testing;

namespace OptGen.Gpu.Tests;

/// <summary>
/// The PTX that ILGPU makes of the catalog Adam's GPU kernel, compiled without a GPU by constructing the PTX
/// backend directly, kept as a golden file so that a change to the emitted GPU code shows in review.
/// </summary>
/// <remarks>
/// What to look for in the snapshot: the group kernel structs read from the parameter space (<c>ld.param.f32</c>
/// from <c>_groups</c>; on the GPU these become constant-bank operands), one table lookup per element (the chunk's
/// <c>ld.v4.b32</c>/<c>ld.v2.b64</c>), the element loads behind uniform branches on the storage formats
/// (<c>ld.f32</c> for float32, <c>ld.b16</c> for half/bfloat16), correctly rounded <c>div.rn.f32</c> and
/// <c>sqrt.rn.f32</c>, and no <c>fma</c>. Note that ILGPU writes <c>mul.f32</c>/<c>add.f32</c> without <c>.rn</c>,
/// which lets ptxas contract them into FMAs: on a real GPU results may differ from the CPU paths by a few ULP
/// (docs/gpu.md).
/// </remarks>
public sealed partial class PtxSnapshotTests
{
    [Fact]
    public void AdamKernelPtxMatchesSnapshot()
    {
        string ptx = CompileToPtx(typeof(Adam));

        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        Snapshot.Verify("Adam.Kernel", ptx, ".ptx", ScrubPtx);
    }

    [Theory]
    [InlineData("LaneSums")]
    [InlineData("PieceSums")]
    [InlineData("Finish")]
    public void GradientNormKernelsCompileToPtx(string name)
    {
        // The device reduction is runtime code, not generated: compile it for sm_80 too, so a construct CUDA cannot
        // take (it ran only on the CPU accelerator in the other tests) fails here, without a GPU.
        MethodInfo kernel = typeof(GpuOptimizer).Assembly.GetType("OptGen.Gpu.GpuGradientNorm")!.GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic)!;
        string ptx = Compile(kernel);
        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        Assert.Contains(".f64", ptx, StringComparison.Ordinal);
    }

    /// <summary>The kernel method the generator emitted for <paramref name="optimizer"/>, compiled to PTX for sm_80.</summary>
    internal static string CompileToPtx(Type optimizer) => Compile(GpuKernelOf(optimizer));

    internal static string Compile(MethodInfo kernel, bool explicitlyGrouped = false)
    {
        using Context context = Context.Create(builder => builder.Optimize(OptimizationLevel.O1).Math(MathMode.Default));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_80), CudaArchitecture.SM_80, CudaInstructionSet.ISA_80, nvvmAPI: null);
        EntryPointDescription entry = explicitlyGrouped ? EntryPointDescription.FromExplicitlyGroupedKernel(kernel) : EntryPointDescription.FromImplicitlyGroupedKernel(kernel);
        var specialization = KernelSpecialization.Empty;
        var compiled = (PTXCompiledKernel)backend.Compile(entry, specialization);
        return compiled.PTXAssembly;
    }

    /// <summary>
    /// <c>OptGen.Generated.UpdateKernel_*_Gpu.Kernel</c> for an optimizer: the generated <c>CreateKernel</c> returns
    /// the kernel struct, and its GPU kernel class is named after it.
    /// </summary>
    internal static MethodInfo GpuKernelOf(Type optimizer)
    {
        MethodInfo create = optimizer.GetMethod("CreateKernel", BindingFlags.Static | BindingFlags.NonPublic)
            ?? throw new InvalidOperationException($"{optimizer} has no generated CreateKernel.");
        Type structType = create.ReturnType;
        Type gpu = structType.Assembly.GetType(structType.FullName + "_Gpu")
            ?? throw new InvalidOperationException($"No GPU kernel class for {structType}.");
        return gpu.GetMethod("Kernel", BindingFlags.Static | BindingFlags.Public)!;
    }

    /// <summary>
    /// Removes what changes without the kernel changing: kernel hashes, ILGPU's global value numbers on parameter
    /// names, and its label numbers (renumbered in order of appearance).
    /// </summary>
    internal static string ScrubPtx(string ptx)
    {
        string text = ptx.Replace("\r\n", "\n", StringComparison.Ordinal);
        text = HashPattern().Replace(text, "UpdateKernel_HASH");
        text = ParameterPattern().Replace(text, "_$1");
        var labels = new System.Collections.Generic.Dictionary<string, string>(StringComparer.Ordinal);
        return LabelPattern().Replace(text, match =>
        {
            if (!labels.TryGetValue(match.Value, out string? label))
            {
                label = "L_" + labels.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
                labels.Add(match.Value, label);
            }

            return label;
        });
    }

    [GeneratedRegex("UpdateKernel_[0-9a-f]{8}")]
    private static partial Regex HashPattern();

    [GeneratedRegex(@"\b_([A-Za-z][A-Za-z0-9]*)_\d+\b")]
    private static partial Regex ParameterPattern();

    [GeneratedRegex(@"\bL_\d+\b")]
    private static partial Regex LabelPattern();
}
