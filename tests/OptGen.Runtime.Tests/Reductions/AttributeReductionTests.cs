using System;
using System.Collections.Generic;
using System.Linq;
using OptGen.Gpu;
using OptGen.Runtime.Tests.Conformance;
using Xunit;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// Reductions declared with building-block attributes (AttributeReductions.cs): [TrustRatio] in the LAMB and LARS
/// forms and [SecondMoment(Scope = …)], lowered by the generator to the same IR reductions as the expression rules.
/// Each against the float64 reference of its family (LAMB, LARS, Adam-mini: ReferenceTrustRatio.cs and
/// ReferenceFactored.cs, written from the papers) over several tensors; the same passes, bytes and compact state as the
/// declared expression versions; bit-identical at 1, 2 and 3 threads; no allocation after warm-up; checkpoints resume.
/// </summary>
[Collection(nameof(AllocationCollection))]
public sealed class AttributeReductionTests
{
    private const double LearningRate = 1e-2;

    // A matrix, a vector with a scalar tail, a 3-d tensor and a tensor of one element.
    private static readonly int[][] Shapes = [[40, 30], [257], [3, 5, 7], [1]];

    public static TheoryData<string> Rules() => new() { "attribute_lamb", "attribute_lars", "adam_mini", "tensor_moment", "row_moment", "bounded_lamb" };

    [Theory]
    [InlineData("attribute_lamb")]
    [InlineData("attribute_lars")]
    [InlineData("adam_mini")]
    [InlineData("tensor_moment")]
    [InlineData("bounded_lamb")]
    public void MatchesTheFloat64ReferenceOverSeveralTensors(string rule) => AssertMatchesReference(rule, Shapes);

    [Fact]
    public void RowScopeMatchesTheFloat64Reference() =>
        // Every row is 30 long (a vector is one row), so one second moment per row is Adam-mini's with blocks of 30.
        AssertMatchesReference("row_moment", [[40, 30], [7, 30], [30], [2, 5, 30]]);

    public static TheoryData<string> BlockOfOneRules() => new() { "nadam", "adamax", "amsgrad", "radam", "adagrad_rms" };

    /// <summary>
    /// A second moment shared over blocks of one element is the per-element one: each declared rule against its
    /// catalog twin (checked against PyTorch elsewhere) with decay and maximize on, over several tensors and 12 steps
    /// (RAdam rectifies from step 6). Covers every Kind, AMSGrad, NAdam's host state and RAdam's per-step switch
    /// in the two-pass (scoped) runtime.
    /// </summary>
    [Theory]
    [MemberData(nameof(BlockOfOneRules))]
    public void BlocksOfOneAreTheElementWiseRule(string rule)
    {
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        (Optimizer shared, Optimizer element) = rule switch
        {
            "nadam" => ((Optimizer)new BlockOfOneNAdam(layout) { WeightDecay = 0.01, Maximize = true }, (Optimizer)new NAdam(layout) { WeightDecay = 0.01, Maximize = true }),
            "adamax" => (new BlockOfOneAdamax(layout) { WeightDecay = 0.01, Maximize = true }, new Adamax(layout) { WeightDecay = 0.01, Maximize = true }),
            "amsgrad" => (new BlockOfOneAdamAmsGrad(layout) { WeightDecay = 0.01, Maximize = true }, new AdamAmsGrad(layout) { WeightDecay = 0.01, Maximize = true }),
            "radam" => (new BlockOfOneRAdam(layout) { WeightDecay = 0.01, Maximize = true }, new RAdam(layout) { WeightDecay = 0.01, Maximize = true }),
            _ => (new BlockOfOneAdagradRms(layout), new AdagradRms(layout)),
        };
        Assert.IsAssignableFrom<ReductionOptimizer>(shared);
        (float[] p0, float[][] grads) = DeclaredRuleChecks.Data(Shapes, steps: 12, seed: 19);
        float[] a = (float[])p0.Clone(), b = (float[])p0.Clone();
        foreach (float[] g in grads)
        {
            shared.Step(a, g);
            element.Step(b, g);
        }

        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6 * (1 + Math.Abs(b[i])), $"{rule} element {i}: {a[i]:R} vs {b[i]:R}");
        }

        Assert.NotEqual(p0[0], a[0]);
    }

    [Theory]
    [InlineData("attribute_lamb")]
    [InlineData("attribute_lars")]
    public void AZeroNormGivesARatioOfOne(string rule)
    {
        // Tensor 0 starts at p = 0 (‖p‖ = 0 at step 1), tensor 1 never has a gradient (‖g‖ = 0, and for LAMB ‖r‖ = 0
        // until decay moves it), tensor 2 is ordinary: the references take the ratio as 1 in the first two cases.
        int[][] shapes = [[6, 5], [33], [4, 4]];
        (float[] p0, float[][] grads) = DeclaredRuleChecks.Data(shapes, steps: 4, seed: 29);
        Array.Clear(p0, 0, 30);
        foreach (float[] g in grads)
        {
            Array.Clear(g, 30, 33);
        }

        ReductionOptimizer optimizer = Create(rule, ParameterLayout.FromShapes((IReadOnlyList<int[]>)shapes));
        ReductionReference reference = Reference(rule, shapes, p0);
        float[] p = DeclaredRuleChecks.MatchesTheReference(rule, optimizer, reference, p0, grads, LearningRate);
        Assert.All(p, x => Assert.True(float.IsFinite(x)));
        Assert.NotEqual(0f, p[0]); // the zero tensor moved: its ratio was 1, not 0/‖r‖ = 0
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void EmptyTensorsAndAnEmptyLayoutStep(string rule)
    {
        // Empty tensors between real ones (no norms to take, no rows or blocks), and a layout of no parameters.
        ReductionOptimizer optimizer = Create(rule, ParameterLayout.FromShapes([[0, 4], [5], [0]]));
        float[] p = [1, -2, 3, 0.5f, 0];
        float[] before = (float[])p.Clone();
        optimizer.Step(p, [0.5f, -1, 2, 0, 1]);
        Assert.All(p, x => Assert.True(float.IsFinite(x)));
        Assert.NotEqual(before, p);
        Assert.Equal(1, optimizer.StepCount);

        ReductionOptimizer empty = Create(rule, ParameterLayout.Single(0));
        empty.Step([], []);
        Assert.Equal(1, empty.StepCount);
    }

    [Fact]
    public void TheBoundCapsTheTrustRatio()
    {
        // Step 1 of LAMB from the formula: m̂ = g, v̂ = g², r = g/(|g| + ε) (no decay here), trust = ‖p‖/‖r‖ ~ 1; with the
        // bound at 0.01 every tensor moves by exactly η·0.01·r.
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        (float[] p0, float[][] grads) = DeclaredRuleChecks.Data(Shapes, steps: 1, seed: 3);
        var rule = new AttributeBoundedLamb(layout) { LearningRate = LearningRate, MaxTrustRatio = 0.01 };
        float[] p = (float[])p0.Clone();
        rule.Step(p, grads[0]);
        for (int i = 0; i < p.Length; i++)
        {
            double g = grads[0][i];
            double expected = p0[i] - (LearningRate * 0.01 * g / (Math.Abs(g) + 1e-6));
            Assert.True(Math.Abs(p[i] - expected) <= 1e-6 * (1 + Math.Abs(expected)), $"element {i}: {p[i]:R} vs {expected:R}");
        }
    }

    [Fact]
    public void AttributeLambHasTheDeclaredLambsPassesAndBytes()
    {
        // The attribute LAMB plans exactly as the expression rule (DeclaredLamb): pass 1 stores m and v and reduces
        // ‖p‖, ‖r‖; pass 2 recomputes r from m, v and p.
        var attribute = new AttributeLamb(10);
        var declared = new DeclaredLamb(10);
        Assert.Equal(declared.Passes.Select(p => p.Reads), attribute.Passes.Select(p => p.Reads));
        Assert.Equal(declared.Passes.Select(p => p.Writes), attribute.Passes.Select(p => p.Writes));
        Assert.Equal(40, attribute.Passes.Sum(p => p.BytesPerElement));
        Assert.Equal(declared.Descriptor.BytesReadPerElement, attribute.Descriptor.BytesReadPerElement);
        Assert.Equal(declared.Descriptor.BytesWrittenPerElement, attribute.Descriptor.BytesWrittenPerElement);

        // LARS: ‖p‖ and ‖g‖ in pass 1 (reads p and g only); pass 2 is the momentum step.
        var lars = new AttributeLars(10);
        Assert.Equal(["p", "g"], lars.Passes[0].Reads);
        Assert.Empty(lars.Passes[0].Writes);
        Assert.Equal(["p", "g", "b"], lars.Passes[1].Reads);
        Assert.Equal(["p", "b"], lars.Passes[1].Writes);
    }

    [Theory]
    [InlineData("attribute_lamb")]
    [InlineData("attribute_lars")]
    public void MatchesTheHandWrittenCatalogRule(string rule)
    {
        // The same rule from attributes and hand-written (the catalog's Lamb, Lars): within float32 rounding the same
        // parameters after six steps over several tensors.
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        (float[] p0, float[][] grads) = DeclaredRuleChecks.Data(Shapes, steps: 6, seed: 5);
        ReductionOptimizer attribute = Create(rule, layout);
        Optimizer written = rule == "attribute_lamb"
            ? new Lamb(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-6, WeightDecay = 0.01 }
            : new Lars(layout) { LearningRate = LearningRate, Momentum = 0.9, WeightDecay = 0.01, TrustCoefficient = 0.02 };
        float[] a = (float[])p0.Clone(), b = (float[])p0.Clone();
        foreach (float[] g in grads)
        {
            attribute.Step(a, g);
            written.Step(b, g);
        }

        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6 * (1 + Math.Abs(b[i])), $"{rule} element {i}: {a[i]:R} vs {b[i]:R}");
        }
    }

    [Fact]
    public void LarsFollowsTheCatalogLarsWhileTheLearningRateChanges()
    {
        // LARS (the paper's Algorithm 1, optax lars, the catalog's Lars) puts ηₜ inside the momentum buffer:
        // b ← μ·b + ηₜ·local·(g + λp), p ← p − b. LARS runs under warm-up and decay, so ηₜ changes every step; a
        // declaration whose buffer leaves η outside (PyTorch's p ← p − ηₜ·b) matches only while η is constant.
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        (float[] p0, float[][] grads) = DeclaredRuleChecks.Data(Shapes, steps: 6, seed: 23);
        var attribute = new AttributeLars(layout) { Momentum = 0.9, WeightDecay = 0.01, TrustCoefficient = 0.02 };
        var written = new Lars(layout) { Momentum = 0.9, WeightDecay = 0.01, TrustCoefficient = 0.02 };
        float[] a = (float[])p0.Clone(), b = (float[])p0.Clone();
        for (int t = 0; t < grads.Length; t++)
        {
            attribute.LearningRate = written.LearningRate = LearningRate * (t + 1); // a linear warm-up
            attribute.Step(a, grads[t]);
            written.Step(b, grads[t]);
        }

        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6 * (1 + Math.Abs(b[i])), $"element {i}: {a[i]:R} vs {b[i]:R}");
        }

        Assert.NotEqual(p0[0], a[0]);
    }

    [Fact]
    public void AttributeAdamMiniHasTheDeclaredAdamMinisCompactStateAndBytes()
    {
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        var attribute = new AttributeAdamMini(layout);
        var declared = new DeclaredAdamMini(layout);
        Assert.Equal(declared.V.Length, attribute.SecondMoment.Length);
        Assert.Equal(declared.M.Length, attribute.FirstMoment.Length);
        for (int j = 0; j < layout.TensorCount; j++)
        {
            Assert.Equal(declared.StateLength("V", j), attribute.StateLength("SecondMoment", j));
        }

        Assert.Equal(declared.StateBytesPerParameter, attribute.StateBytesPerParameter);
        Assert.Equal(declared.Passes.Select(p => p.BytesPerElement), attribute.Passes.Select(p => p.BytesPerElement));
        Assert.Equal(layout.TensorCount, new AttributeTensorMomentAdam(layout).SecondMoment.Length);
    }

    [Fact]
    public void TheyHaveTheGpuKernelsTheDeclaredRulesHave()
    {
        // GpuEmitter.HasGpuKernel decides, as for the expression rules: tensor-scope plans (LAMB, LARS) get pass
        // kernels; a shared second moment is compact state, a scoped plan, which gets one exactly when the declared
        // Adam-mini (the same plan) does.
        ParameterLayout layout = ParameterLayout.FromShapes([[4, 4]]);
        Assert.IsAssignableFrom<IGpuKernelSource>(Create("attribute_lamb", layout));
        Assert.IsAssignableFrom<IGpuKernelSource>(Create("attribute_lars", layout));
        Assert.Equal((ReductionOptimizer)new DeclaredAdamMini(layout) is IGpuKernelSource, Create("adam_mini", layout) is IGpuKernelSource);
        Assert.Equal((ReductionOptimizer)new DeclaredNovoGrad(layout) is IGpuKernelSource, Create("tensor_moment", layout) is IGpuKernelSource);
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void BitIdenticalAtOneTwoAndThreeThreads(string rule) =>
        DeclaredRuleChecks.BitIdenticalAtOneTwoAndThreeThreads(rule, layout => Create(rule, layout), [[300, 170], [70_001], [4, 33, 80], [17]]);

    [Theory]
    [MemberData(nameof(Rules))]
    public void WarmedUpStepAllocatesNothing(string rule) => DeclaredRuleChecks.WarmedUpStepAllocatesNothing(layout => Create(rule, layout));

    [Theory]
    [MemberData(nameof(Rules))]
    public void ACheckpointResumesBitForBit(string rule) =>
        DeclaredRuleChecks.ACheckpointResumesBitForBit(rule, layout => Create(rule, layout), LearningRate, "LearningRate");

    private static void AssertMatchesReference(string rule, int[][] shapes)
    {
        (float[] p0, float[][] grads) = DeclaredRuleChecks.Data(shapes, steps: 8, seed: 11);
        ReductionOptimizer optimizer = Create(rule, ParameterLayout.FromShapes((IReadOnlyList<int[]>)shapes));
        ReductionReference reference = Reference(rule, shapes, p0);
        float[] p = DeclaredRuleChecks.MatchesTheReference(rule, optimizer, reference, p0, grads, LearningRate);
    }

    private static ReductionOptimizer Create(string rule, ParameterLayout layout) => rule switch
    {
        "adam_mini" => new AttributeAdamMini(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-8, WeightDecay = 0.1 },
        "tensor_moment" => new AttributeTensorMomentAdam(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-8 },
        "row_moment" => new AttributeRowMomentAdam(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-8, WeightDecay = 0.01 },
        // The bound far above every ratio that occurs: the unbounded LAMB (with L2 decay 0: no [WeightDecay]).
        "bounded_lamb" => new AttributeBoundedLamb(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-6, MaxTrustRatio = 1e6 },
        _ => DeclaredRules.Create(rule, layout, LearningRate),
    };

    private static ReductionReference Reference(string rule, int[][] shapes, float[] p0) => rule switch
    {
        "adam_mini" => new AdamMiniReference(shapes, p0, 0.9, 0.99, 1e-8, 0.1, 16),
        // One block longer than every tensor: one second moment per tensor.
        "tensor_moment" => new AdamMiniReference(shapes, p0, 0.9, 0.99, 1e-8, 0, 1 << 20),
        "row_moment" => new AdamMiniReference(shapes, p0, 0.9, 0.99, 1e-8, 0.01, shapes[0][^1]),
        "bounded_lamb" => new LambReference(shapes, p0, 0.9, 0.99, 1e-6, 0),
        _ => DeclaredRules.Reference(rule, shapes, p0),
    };
}
