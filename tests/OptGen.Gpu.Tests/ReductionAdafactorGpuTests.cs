using System;
using System.Collections.Generic;
using System.Linq;
using ILGPU.Runtime;
using OptGen.Runtime.Tests.Reductions;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Gpu.Tests;

/// <summary>
/// <see cref="Adafactor"/> on the GPU backend (ILGPU's CPU accelerator), with its compact factored state: a
/// rectangular matrix, a vector, a stack of matrices and a one-element tensor, against the float64 reference written
/// for the CPU tests (torch.optim.Adafactor's definition), against the CPU step, and independent of the launch shape.
/// </summary>
public sealed class ReductionAdafactorGpuTests(CpuAcceleratorFixture fixture, ITestOutputHelper output) : IClassFixture<CpuAcceleratorFixture>
{
    private const double LearningRate = 1e-2;

    // A rectangular matrix with rows longer than 256 lanes, a vector over two chunks, a stack of 2 × (3 × 5) matrices, one element.
    private static readonly int[][] Shapes = [[37, 300], [2500], [2, 3, 5], [1]];
    private readonly Accelerator _accelerator = fixture.Accelerator;

    private static Adafactor Create(ParameterLayout layout, bool maximize) =>
        new(layout) { LearningRate = LearningRate, Beta2Decay = -0.8, Epsilon1 = Adafactor.Float32Epsilon, Epsilon2 = 1e-3, ClipThreshold = 1, WeightDecay = 0.01, Maximize = maximize };

    private static float[] Random(Random random, int length, double scale = 1) =>
        Enumerable.Range(0, length).Select(_ => (float)(((random.NextDouble() * 2) - 1) * scale)).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MatchesTheFloat64Reference(bool maximize)
    {
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        var random = new Random(41);
        float[] p = Random(random, layout.TotalLength);
        var reference = new AdafactorReference(Shapes, p, -0.8, null, 1e-3, 1, 0.01, maximize);
        using var gpu = new GpuOptimizer(Create(layout, maximize), _accelerator);
        double worst = 0;
        for (int t = 0; t < 8; t++)
        {
            float[] g = Random(random, layout.TotalLength, t % 4 == 3 ? 100 : 1);
            gpu.Step(p, g);
            reference.Take(g, LearningRate);
            worst = Math.Max(worst, ReductionGpuTests.Error(p, reference.Parameters));
        }

        output.WriteLine($"maximize {maximize}: max error {worst:E2} (relative to max |p|)");
        Assert.True(worst < 2e-6, $"{worst:E2}");
    }

    [Fact]
    public void AgreesWithTheCpuStepToFourUlps()
    {
        // Two groups with different learning rates; the state is the compact R, C (matrices) and v (vector).
        ParameterLayout layout = ParameterLayout.FromShapes(Shapes[..2], Shapes[2..]);
        var random = new Random(43);
        float[] pc = Random(random, layout.TotalLength), pg = (float[])pc.Clone();
        Adafactor cpu = Create(layout, false), host = Create(layout, false);
        cpu.Groups[1]["LearningRate"] = host.Groups[1]["LearningRate"] = 0.003;
        using var gpu = new GpuOptimizer(host, _accelerator);
        for (int t = 0; t < 10; t++)
        {
            float[] g = Random(random, layout.TotalLength, t % 4 == 3 ? 100 : 1);
            cpu.Step(pc, g);
            gpu.Step(pg, g);
        }

        gpu.SynchronizeHostState();
        int same = ReductionGpuTests.AssertWithinUlps(pc, pg, 4, "parameters"), count = pc.Length;
        foreach (string state in new[] { "Variance", "ColumnVariance" })
        {
            float[] expected = cpu.GetState(state).ToArray();
            same += ReductionGpuTests.AssertWithinUlps(expected, host.GetState(state).ToArray(), 4, state);
            count += expected.Length;
        }

        // The matrix's R (37 rows) and C (300 columns) through CopyState, and the vector's empty C.
        Assert.Equal(37, gpu.Optimizer.StateLength("Variance", 0));
        float[] c = new float[300];
        gpu.CopyState("ColumnVariance", 0, c);
        ParityTests.AssertBitIdentical(cpu.GetState("ColumnVariance").ToArray()[..300], c, "C of the matrix");
        gpu.CopyState("ColumnVariance", 1, Span<float>.Empty);
        output.WriteLine($"{same} of {count} values bit-identical to the CPU step");
    }

    [Fact]
    public void BitsDoNotDependOnTheLaunchShape()
    {
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        var random = new Random(45);
        float[] p0 = Random(random, layout.TotalLength);
        float[][] grads = Enumerable.Range(0, 3).Select(_ => Random(random, layout.TotalLength)).ToArray();
        ReductionGpuTests.AssertLaunchShapeIndependent(_accelerator, () => Create(layout, false), p0, grads, "Adafactor");
    }
}
