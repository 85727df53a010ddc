using System;
using System.Collections.Generic;
using System.Linq;
using ILGPU.Runtime;
using OptGen.Runtime.Tests.Reductions;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Gpu.Tests;

/// <summary>
/// Expression rules with tensor reductions (tests/OptGen.Runtime.Tests/Reductions/DeclaredReductions.cs, generated
/// here with their ILGPU pass kernels): against the float64 references written for the CPU tests, against the CPU
/// step, and independent of the launch shape. Covers every reduction kind (norm, sum, mean, maxabs), a state kept by
/// pass 1 and one written by pass 2, and a matrix, a vector with a tail, a 3-d tensor and a tensor of one element.
/// </summary>
public sealed class ReductionDeclaredGpuTests(CpuAcceleratorFixture fixture, ITestOutputHelper output) : IClassFixture<CpuAcceleratorFixture>
{
    private const double LearningRate = 1e-2;

    // Several chunks for the matrix and the 3-d tensor, a vector with a tail, a tensor of one element.
    private static readonly int[][] Shapes = [[70, 40], [257], [3, 25, 37], [1]];

    private readonly Accelerator _accelerator = fixture.Accelerator;

    // NovoGrad's second moment is one value per tensor (compact state): its plan is scoped, and runs on the device
    // through the scoped kernels (ReductionScopeGpuTests), to the CPU's bits.
    // attribute_lamb and attribute_lars: [TrustRatio] rules (AttributeReductions.cs), lowered to the same tensor norms.
    public static TheoryData<string> Rules() => new() { "lamb", "kinds", "older_read", "decay_first", "novograd", "attribute_lamb", "attribute_lars" };

    private static ReductionOptimizer Create(string rule, ParameterLayout layout) => DeclaredRules.Create(rule, layout, LearningRate);

    private static ReductionReference Reference(string rule, int[][] shapes, float[] p0) => DeclaredRules.Reference(rule, shapes, p0);

    /// <summary>p₀ and gradients ~ U(−1, 1), each tensor's gradients with its own scale (3^(k−1)) so the reductions differ per tensor.</summary>
    private static (float[] P0, float[][] Grads) Data(int steps, int seed)
    {
        var random = new Random(seed);
        int[] lengths = Shapes.Select(s => s.Aggregate(1, (a, d) => a * d)).ToArray();
        int n = lengths.Sum();
        float[] p0 = Enumerable.Range(0, n).Select(_ => (float)((2 * random.NextDouble()) - 1)).ToArray();
        var grads = new float[steps][];
        for (int t = 0; t < steps; t++)
        {
            grads[t] = new float[n];
            for (int k = 0, i = 0; k < lengths.Length; k++)
            {
                float scale = MathF.Pow(3, k - 1);
                for (int end = i + lengths[k]; i < end; i++)
                {
                    grads[t][i] = scale * (float)((2 * random.NextDouble()) - 1);
                }
            }
        }

        return (p0, grads);
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void MatchesTheFloat64Reference(string rule)
    {
        (float[] p, float[][] grads) = Data(steps: 8, seed: 11);
        ReductionReference reference = Reference(rule, Shapes, p);
        using var gpu = new GpuOptimizer(Create(rule, ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes)), _accelerator);
        double worst = 0;
        foreach (float[] g in grads)
        {
            gpu.Step(p, g);
            reference.Take(g, LearningRate);
            worst = Math.Max(worst, ReductionGpuTests.Error(p, reference.Parameters));
        }

        // The CPU test's bound for the same rules and data (DeclaredReductionTests).
        output.WriteLine($"{rule}: max error {worst:E2} (relative to max |p|)");
        Assert.True(worst < 5e-6, $"{rule}: {worst:E2}");
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void AgreesWithTheCpuStepToFourUlps(string rule)
    {
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        (float[] p0, float[][] grads) = Data(steps: 10, seed: 3);
        ReductionOptimizer cpu = Create(rule, layout), host = Create(rule, layout);
        using var gpu = new GpuOptimizer(host, _accelerator);
        float[] pc = (float[])p0.Clone(), pg = (float[])p0.Clone();
        foreach (float[] g in grads)
        {
            cpu.Step(pc, g);
            gpu.Step(pg, g);
        }

        gpu.SynchronizeHostState();
        int same = ReductionGpuTests.AssertWithinUlps(pc, pg, 4, $"{rule} parameters"), count = pc.Length;
        foreach (StateDescriptor state in cpu.Descriptor.States)
        {
            float[] expected = cpu.GetState(state.Name).ToArray();
            same += ReductionGpuTests.AssertWithinUlps(expected, host.GetState(state.Name).ToArray(), 4, $"{rule} {state.Name}");
            count += expected.Length;
        }

        output.WriteLine($"{rule}: {same} of {count} values bit-identical to the CPU step");
    }

    [Fact]
    public void MoreThanEightReductionsAreRefusedWhenTheGpuOptimizerIsCreated()
    {
        var rule = new NineReductions(64);
        Assert.Equal(9, rule.Passes[0].Description.Split(',').Length);
        NotSupportedException e = Assert.Throws<NotSupportedException>(() => new GpuOptimizer(rule, _accelerator));
        Assert.Contains("9 reductions", e.Message, StringComparison.Ordinal);
        float[] p = new float[64];
        rule.Step(p, Enumerable.Repeat(1f, 64).ToArray()); // the CPU runs it
        Assert.Equal(1, rule.StepCount);
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void BitsDoNotDependOnTheLaunchShape(string rule)
    {
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        (float[] p0, float[][] grads) = Data(steps: 3, seed: 9);
        ReductionGpuTests.AssertLaunchShapeIndependent(_accelerator, () => Create(rule, layout), p0, grads, rule);
    }
}

/// <summary>A rule of nine tensor reductions: one more than the GPU passes take.</summary>
[Optimizer(Name = "Nine reductions")]
[Hyperparameter("Lr", 0.01)]
[Update("p = p - Lr * (sum(g) + sum(p) + mean(g) + mean(p) + norm(g) + norm(p) + maxabs(g) + maxabs(p) + sum(g * p)) * 0.001")]
public sealed partial class NineReductions;
