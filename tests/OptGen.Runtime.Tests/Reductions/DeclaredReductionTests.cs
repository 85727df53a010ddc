using System;
using System.Collections.Generic;
using System.Linq;
using ILGPU;
using ILGPU.Runtime.CPU;
using OptGen.Gpu;
using OptGen.Runtime.Tests.Conformance;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// Expression rules with reductions (DeclaredReductions.cs), compiled by the generator: each against a float64
/// reference written from its definition (LAMB: redref's <see cref="LambReference"/>; NovoGrad and the kinds rule:
/// DeclaredReductionReferences.cs), over several tensors; bit-identical at 1, 2 and 3 threads; no allocation after
/// warm-up; the passes the generator planned; the GPU backend refuses them.
/// </summary>
[Collection(nameof(AllocationCollection))]
public sealed class DeclaredReductionTests
{
    private const double LearningRate = 1e-2;

    // A matrix, a vector with a scalar tail, a 3-d tensor and a tensor of one element.
    private static readonly int[][] Shapes = [[40, 30], [257], [3, 5, 7], [1]];

    public static TheoryData<string> Rules() => new() { "lamb", "novograd", "kinds", "older_read", "decay_first" };

    [Theory]
    [MemberData(nameof(Rules))]
    public void MatchesTheFloat64ReferenceOverSeveralTensors(string rule)
    {
        (float[] p0, float[][] grads) = DeclaredRuleChecks.Data(Shapes, steps: 8, seed: 11);
        ReductionOptimizer optimizer = Create(rule, ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes));
        ReductionReference reference = Reference(rule, Shapes, p0);
        float[] p = DeclaredRuleChecks.MatchesTheReference(rule, optimizer, reference, p0, grads, LearningRate);
    }

    [Fact]
    public void DeclaredLambMatchesTheHandWrittenLamb()
    {
        // The same rule declared and hand-written (red's catalog Lamb): the same passes, bytes and, within float32
        // rounding, the same parameters.
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        (float[] p0, float[][] grads) = DeclaredRuleChecks.Data(Shapes, steps: 6, seed: 5);
        var declared = (DeclaredLamb)Create("lamb", layout);
        var written = new Lamb(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-6, WeightDecay = 0.01 };
        float[] a = (float[])p0.Clone(), b = (float[])p0.Clone();
        foreach (float[] g in grads)
        {
            declared.Step(a, g);
            written.Step(b, g);
        }

        Assert.Equal(written.Descriptor.BytesReadPerElement, declared.Descriptor.BytesReadPerElement);
        Assert.Equal(written.Descriptor.BytesWrittenPerElement, declared.Descriptor.BytesWrittenPerElement);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6 * (1 + Math.Abs(b[i])), $"element {i}: {a[i]:R} vs {b[i]:R}");
        }
    }

    [Fact]
    public void ThePassesAreTheOnesThePlannerChose()
    {
        // LAMB: pass 1 stores m and v and reduces ‖p‖, ‖r‖; pass 2 recomputes r from m, v, p and needs no g.
        var lamb = new DeclaredLamb(10);
        Assert.Equal(2, lamb.Passes.Count);
        Assert.Equal(["p", "g", "m", "v"], lamb.Passes[0].Reads);
        Assert.Equal(["m", "v"], lamb.Passes[0].Writes);
        Assert.Equal(["p", "m", "v"], lamb.Passes[1].Reads);
        Assert.Equal(["p"], lamb.Passes[1].Writes);
        Assert.Equal(40, lamb.Passes.Sum(p => p.BytesPerElement));
        Assert.Equal(28, lamb.Descriptor.BytesReadPerElement);
        Assert.Equal(12, lamb.Descriptor.BytesWrittenPerElement);

        // NovoGrad: v and m depend on ‖g‖², so pass 1 reads only g and pass 2 does the rest; v is one value per
        // tensor (compact state, updated between the passes), not a stream.
        var novo = new DeclaredNovoGrad(10);
        Assert.Equal(["g"], novo.Passes[0].Reads);
        Assert.Empty(novo.Passes[0].Writes);
        Assert.Equal(["p", "g", "m"], novo.Passes[1].Reads);
        Assert.Equal(["p", "m"], novo.Passes[1].Writes);
        Assert.Equal(24, novo.Passes.Sum(p => p.BytesPerElement));

        // m is read by p's update before its own: pass 1 must not store it, pass 2 recomputes it from memory.
        var older = new DeclaredOlderRead(10);
        Assert.Equal(["g"], older.Passes[0].Reads);
        Assert.Empty(older.Passes[0].Writes);
        Assert.Equal(["p", "g", "m"], older.Passes[1].Reads);
        Assert.Equal(["p", "m"], older.Passes[1].Writes);

        // p is decayed before its norm: pass 1 computes the decayed p for the operand and stores nothing.
        var decay = new DeclaredDecayFirst(10);
        Assert.Equal(["p"], decay.Passes[0].Reads);
        Assert.Empty(decay.Passes[0].Writes);
        Assert.Equal(["p", "g"], decay.Passes[1].Reads);
        Assert.Equal(["p"], decay.Passes[1].Writes);
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void BitIdenticalAtOneTwoAndThreeThreads(string rule) =>
        // Every tensor spans several work units of 16 384 elements.
        DeclaredRuleChecks.BitIdenticalAtOneTwoAndThreeThreads(rule, layout => Create(rule, layout), [[300, 170], [70_001], [4, 33, 80], [17]]);

    [Theory]
    [MemberData(nameof(Rules))]
    public void WarmedUpStepAllocatesNothing(string rule) => DeclaredRuleChecks.WarmedUpStepAllocatesNothing(layout => Create(rule, layout));

    [Theory]
    [MemberData(nameof(Rules))]
    public void ACheckpointResumesBitForBit(string rule) => DeclaredRuleChecks.ACheckpointResumesBitForBit(rule, layout => Create(rule, layout), LearningRate);

    [Fact]
    public void EachUnitReadsItsOwnGroupsHyperparameters()
    {
        // Group 1 (the last tensor) with Lr = 0 does not move; group 0 does, and its reductions are its own.
        ParameterLayout layout = ParameterLayout.FromShapes([[24, 40], [33]], [[3, 7, 5]]);
        var random = new Random(4);
        float[] p = Random(random, layout.TotalLength);
        float[] g = Random(random, layout.TotalLength, 0.1);
        ReductionOptimizer lamb = Create("lamb", layout);
        lamb.Groups[1]["Lr"] = 0;
        float[] before = (float[])p.Clone();
        lamb.Step(p, g);
        int group1 = layout.TotalLength - 105;
        AssertBitwiseEqual(before.AsSpan(group1), p.AsSpan(group1), "the tensor of group 1");
        Assert.NotEqual(before[0], p[0]);
    }

    [Fact]
    public void TheyHaveGpuPasses()
    {
        // Generated with ILGPU referenced: the GPU backend runs the tensor-scope plans (tests/OptGen.Gpu.Tests/ReductionDeclaredGpuTests.cs)
        // and the scoped ones, such as NovoGrad's, whose per-tensor second moment is compact state (ReductionScopeGpuTests.cs).
        foreach (string rule in new[] { "lamb", "kinds", "older_read", "decay_first", "novograd" })
        {
            Assert.IsAssignableFrom<IGpuKernelSource>(Create(rule, ParameterLayout.FromShapes([[4, 4]])));
        }
    }

    private static ReductionOptimizer Create(string rule, ParameterLayout layout) => DeclaredRules.Create(rule, layout, LearningRate);

    private static ReductionReference Reference(string rule, int[][] shapes, float[] p0) => DeclaredRules.Reference(rule, shapes, p0);
}
