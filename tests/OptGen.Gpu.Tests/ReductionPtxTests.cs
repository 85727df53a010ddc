using System;
using System.Reflection;
using OptGen.Runtime.Tests.Reductions;
using Xunit;

namespace OptGen.Gpu.Tests;

/// <summary>
/// Every kernel of the rules with reductions compiled for CUDA sm_80 without a GPU (the other tests run them on the
/// CPU accelerator, which accepts constructs CUDA may not): the catalog rules' runtime kernels, the combine kernel
/// and a declared rule's generated pass kernels; the reducing ones use shared memory and barriers.
/// </summary>
public sealed class ReductionPtxTests
{
    [Theory]
    [InlineData("GpuLamb", "Reduce", true)]
    [InlineData("GpuLamb", "Finish", false)]
    [InlineData("GpuLamb", "Update", false)]
    [InlineData("GpuLars", "Reduce", true)]
    [InlineData("GpuLars", "Finish", false)]
    [InlineData("GpuLars", "Update", false)]
    [InlineData("GpuAdamMini", "Chains", false)]
    [InlineData("GpuAdamMini", "Blocks", false)]
    [InlineData("GpuAdamMini", "Update", false)]
    [InlineData("GpuAdafactor", "Sums", true)]
    [InlineData("GpuAdafactor", "Columns", false)]
    [InlineData("GpuAdafactor", "Rows", false)]
    [InlineData("GpuAdafactor", "UpdateNorm", true)]
    [InlineData("GpuAdafactor", "Alpha", false)]
    [InlineData("GpuAdafactor", "Update", false)]
    [InlineData("GpuScheduleFree", "Update", false)]
    [InlineData("GpuScheduleFree", "Swap", false)]
    [InlineData("GpuReductions", "Combine", false)]
    [InlineData("GpuScopes", "RunLanes", false)]
    [InlineData("GpuScopes", "Targets", false)]
    [InlineData("GpuScopes", "Columns", false)]
    [InlineData("GpuScopes", "CombineUnits", false)]
    [InlineData("GpuScopes", "Finish", false)]
    [InlineData("GpuScopes", "OverSegments", false)]
    public void CatalogKernelsCompileToPtx(string type, string method, bool explicitlyGrouped)
    {
        MethodInfo kernel = typeof(GpuOptimizer).Assembly.GetType("OptGen.Gpu." + type)!.GetMethod(method, BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)!;
        AssertPtx(PtxSnapshotTests.Compile(kernel, explicitlyGrouped), explicitlyGrouped);
    }

    [Theory]
    [InlineData("Reduce", true)]
    [InlineData("Update", false)]
    public void GeneratedPassKernelsCompileToPtx(string method, bool explicitlyGrouped)
    {
        MethodInfo create = typeof(DeclaredLamb).GetMethod("CreateKernel", BindingFlags.Static | BindingFlags.NonPublic)!;
        Type gpu = create.ReturnType.Assembly.GetType(create.ReturnType.FullName + "_Gpu")!;
        AssertPtx(PtxSnapshotTests.Compile(gpu.GetMethod(method, BindingFlags.Static | BindingFlags.Public)!, explicitlyGrouped), explicitlyGrouped);
    }

    /// <summary>The generated kernels of scoped plans: the per-element passes and the segment kernels (row, column, block, tensor loops).</summary>
    [Theory]
    [InlineData(typeof(DeclaredFactoredKeptMean), "Reduce")]
    [InlineData(typeof(DeclaredFactoredKeptMean), "Segments0")]
    [InlineData(typeof(DeclaredFactoredKeptMean), "Segments1")]
    [InlineData(typeof(DeclaredFactoredKeptMean), "Segments2")]
    [InlineData(typeof(DeclaredFactoredKeptMean), "Update")]
    [InlineData(typeof(DeclaredFactored), "Segments0")]
    [InlineData(typeof(DeclaredFactored), "Segments1")]
    [InlineData(typeof(DeclaredAdamMini), "Segments0")]
    [InlineData(typeof(DeclaredGroupGlobal), "Update")]
    [InlineData(typeof(DeclaredScopeKinds), "Reduce")]
    [InlineData(typeof(DeclaredScopeKinds), "Update")]
    [InlineData(typeof(DeclaredOverStates), "Segments0")]
    [InlineData(typeof(DeclaredOverStates), "Segments1")]
    public void GeneratedScopedKernelsCompileToPtx(Type rule, string method)
    {
        MethodInfo create = rule.GetMethod("CreateKernel", BindingFlags.Static | BindingFlags.NonPublic)!;
        Type gpu = create.ReturnType.Assembly.GetType(create.ReturnType.FullName + "_Gpu")!;
        AssertPtx(PtxSnapshotTests.Compile(gpu.GetMethod(method, BindingFlags.Static | BindingFlags.Public)!, explicitlyGrouped: false), explicitlyGrouped: false);
    }

    private static void AssertPtx(string ptx, bool explicitlyGrouped)
    {
        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        if (explicitlyGrouped)
        {
            Assert.Contains(".shared", ptx, StringComparison.Ordinal);
            Assert.Contains("bar.sync", ptx, StringComparison.Ordinal);
        }
    }
}
