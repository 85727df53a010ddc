using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

using OptGen.Testing;

namespace OptGen.Generator.Tests;

/// <summary>
/// The GPU half of the generator: emitted only when the compilation references ILGPU, beside CPU code that stays
/// exactly as without ILGPU, compiling cleanly, and covered by snapshots.
/// </summary>
public sealed class GpuSnapshotTests
{
    private const string AdamDeclaration = """
        using OptGen;
        namespace Demo;

        [Optimizer]
        [FirstMoment(Beta = 0.9)]
        [SecondMoment(Beta = 0.999)]
        [BiasCorrection(BiasCorrectionMode.Power)]
        [Epsilon(1e-8)]
        public partial class AdamPyTorch;
        """;

    [Fact]
    public void GpuCodeMatchesSnapshotAndCpuCodeIsUnchanged()
    {
        GeneratorHarness.Run withoutIlgpu = GeneratorHarness.Generate(AdamDeclaration);
        GeneratorHarness.Run run = GenerateWithIlgpu(AdamDeclaration);

        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.Equal(5, run.Files.Count);
        foreach (KeyValuePair<string, string> cpu in withoutIlgpu.Files)
        {
            Assert.Equal(cpu.Value, run.Files[cpu.Key]);
        }

        Snapshot.VerifyAll(new[]
        {
            ("AdamPyTorch.GpuKernel", run.Files.Single(f => f.Key.EndsWith("_Gpu.g.cs", StringComparison.Ordinal)).Value),
            ("AdamPyTorch.GpuOptimizer", run.Files["Demo.AdamPyTorch.Gpu.g.cs"]),
            ("IlgpuRuntimeAccess", run.Files["OptGen.Generated.IlgpuRuntimeAccess.g.cs"]),
        });
    }

    [Fact]
    public void RandomDrawsMatchSnapshotOnCpuAndGpu()
    {
        GeneratorHarness.Run run = GenerateWithIlgpu("""
            using OptGen;
            namespace Demo;

            [Optimizer]
            [Hyperparameter("LearningRate", 0.01, Range = HyperparameterRange.NonNegative)]
            [Hyperparameter("Temperature", 1.0, Range = HyperparameterRange.NonNegative)]
            [Hyperparameter("Seed", 0.0, Range = HyperparameterRange.NonNegative)]
            [Update("p = p - LearningRate * g + sqrt(2 * LearningRate * Temperature) * randn()")]
            public partial class Sgld;
            """);

        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Snapshot.VerifyAll(new[]
        {
            ("Sgld.Kernel", run.Files.Single(f => f.Key.StartsWith("OptGen.Generated.UpdateKernel_", StringComparison.Ordinal) && !f.Key.EndsWith("_Gpu.g.cs", StringComparison.Ordinal)).Value),
            ("Sgld.Optimizer", run.Files["Demo.Sgld.g.cs"]),
            ("Sgld.GpuKernel", run.Files.Single(f => f.Key.EndsWith("_Gpu.g.cs", StringComparison.Ordinal)).Value),
        });
    }

    [Fact]
    public void NoGpuCodeWithoutIlgpu()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate(AdamDeclaration);
        Assert.DoesNotContain(run.Files.Keys, name => name.Contains("Gpu", StringComparison.Ordinal) || name.Contains("Ilgpu", StringComparison.Ordinal));
    }

    [Fact]
    public void GpuCodeCompilesWithoutWarningsForEveryKindOfRule()
    {
        GeneratorHarness.Run run = GenerateWithIlgpu("""
            using OptGen;
            namespace Demo;

            [Optimizer]
            [FirstMoment(Beta = 0.9)]
            [SecondMoment(Beta = 0.999)]
            [BiasCorrection(BiasCorrectionMode.Power)]
            [Epsilon(1e-8)]
            [AmsGrad]
            [WeightDecay(0.01, Decoupled = true)]
            [Maximize]
            public partial class EverythingAdam;

            public static partial class Outer
            {
                [Optimizer]
                [SecondMoment(Kind = SecondMomentKind.Sum, InitialValue = 0.1)]
                [LearningRate(0.01, Decay = 0.001)]
                [Epsilon(1e-10)]
                internal partial class NestedAdagrad;
            }

            [Optimizer]
            [LearningRate(0.1)]
            [WeightDecay(0)]
            public partial class PlainSgd;

            [Optimizer]
            [SecondMoment(Beta = 0.99, Centered = true, Name = "Alpha")]
            [Epsilon(1e-8)]
            [Momentum(0.9)]
            public partial class CenteredRmsProp;
            """);

        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.Equal(4, run.Files.Count(f => f.Key.EndsWith(".Gpu.g.cs", StringComparison.Ordinal)));
        Assert.Equal(4, run.Files.Count(f => f.Key.EndsWith("_Gpu.g.cs", StringComparison.Ordinal)));
    }

    [Fact]
    public void GpuOutputsStayCachedWhenAnUnrelatedFileChanges()
    {
        CSharpCompilation compilation = GeneratorHarness.WithIlgpu(GeneratorHarness.Compilation(AdamDeclaration));
        GeneratorDriver driver = GeneratorHarness.Driver().RunGenerators(compilation);
        CSharpCompilation changed = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace Demo { internal static class Unrelated { } }", GeneratorHarness.ParseOptions()));
        GeneratorDriverRunResult second = driver.RunGenerators(changed).GetRunResult();

        ImmutableArray<IncrementalGeneratorRunStep> gpu = second.Results[0].TrackedSteps[TrackingNames.Gpu];
        Assert.All(gpu.SelectMany(step => step.Outputs), output => Assert.True(output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"Gpu step: {output.Reason}"));
        Assert.All(
            second.Results[0].TrackedOutputSteps.SelectMany(step => step.Value).SelectMany(step => step.Outputs),
            output => Assert.True(output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"output: {output.Reason}"));
    }

    private static GeneratorHarness.Run GenerateWithIlgpu(string source) => GeneratorHarness.Generate(source, ilgpu: true);
}
