using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Runtime.Tests;
using Xunit;
using Half = System.Half;

namespace OptGen.Gpu.Tests;

/// <summary>
/// The exact SkipNonFinite overflow test on the device backend (max |g| reduced by the gradient-norm kernels beside
/// Σ g²): gradients at the float32 edge of g·scale are stepped, bit-identical to the CPU step, and one element one
/// float past it skips the step with parameters and state unchanged, as on the CPU.
/// </summary>
public sealed class ExactOverflowSkipGpuTests : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator;

    public ExactOverflowSkipGpuTests(CpuAcceleratorFixture fixture) => _accelerator = fixture.Accelerator;

    public static TheoryData<double> Scales() => new(ScaledGradientEdge.Scales);

    [Theory]
    [MemberData(nameof(Scales))]
    public void GradientsAtTheEdgeAreSteppedAsOnTheCpu(double scale)
    {
        var layout = new ParameterLayout(ScaledGradientEdge.GroupLengths);
        var cpu = new SgdMomentum(layout) { LearningRate = 1e-30 };
        var host = new SgdMomentum(layout) { LearningRate = 1e-30 };
        cpu.Groups[1]["LearningRate"] = 2e-30;
        host.Groups[1]["LearningRate"] = 2e-30;
        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(3);
        float[] expected = Enumerable.Range(0, layout.TotalLength).Select(_ => (float)random.NextDouble()).ToArray();
        float[] actual = (float[])expected.Clone();
        float[] g = ScaledGradientEdge.Gradients(random, ScaledGradientEdge.Largest(scale)).SelectMany(t => t).ToArray();
        var options = new StepOptions { SkipNonFinite = true, GradientScale = scale };

        StepResult onCpu = cpu.Step(expected, g, options);
        StepResult onGpu = gpu.Step(actual, g, options);

        Assert.False(onCpu.Skipped);
        Assert.False(onGpu.Skipped);
        Assert.False(onGpu.FoundNonFinite);
        Assert.True(onGpu.GradientNorm > 2.0 * float.MaxValue, "the norm bound alone would have skipped this step");
        Assert.All(actual, x => Assert.True(float.IsFinite(x)));
        ParityTests.AssertBitIdentical(expected, actual, "parameters");
        TrainingParityTests.AssertState(cpu, gpu);
    }

    [Theory]
    [MemberData(nameof(Scales))]
    public void OneElementPastTheEdgeSkipsTheStepWithNothingChanged(double scale)
    {
        var layout = new ParameterLayout(ScaledGradientEdge.GroupLengths);
        float past = MathF.BitIncrement(ScaledGradientEdge.Largest(scale));
        var options = new StepOptions { SkipNonFinite = true, GradientScale = scale };
        using var gpu = new GpuOptimizer(new SgdMomentum(layout) { LearningRate = 1e-30 }, _accelerator);
        var random = new Random(4);
        float[] p = Enumerable.Range(0, layout.TotalLength).Select(_ => (float)random.NextDouble()).ToArray();
        Assert.False(gpu.Step(p, p.Select(x => x - 0.5f).ToArray(), options).Skipped);
        float[] before = (float[])p.Clone();
        float[][] state = GpuTrainingTests.Snapshot(gpu);
        for (int j = 0; j < layout.TensorCount; j++)
        {
            foreach (int i in new[] { 0, layout.LengthOf(j) - 1, ScaledGradientEdge.SecondPiece }.Where(i => i < layout.LengthOf(j)).Distinct())
            {
                float[] g = ScaledGradientEdge.Gradients(random, ScaledGradientEdge.Largest(scale)).SelectMany(t => t).ToArray();
                g[layout.ArenaOffsetOf(j) + i] = j % 2 == 0 ? -past : past;

                StepResult result = gpu.Step(p, g, options);

                string what = $"scale {scale}, tensor {j}[{i}]";
                Assert.True(result.Skipped, what);
                Assert.True(result.FoundNonFinite, what);
                Assert.Equal(1, gpu.StepCount);
                ParityTests.AssertBitIdentical(before, p, what);
                float[][] after = GpuTrainingTests.Snapshot(gpu);
                for (int k = 0; k < state.Length; k++)
                {
                    ParityTests.AssertBitIdentical(state[k], after[k], $"{what}: state {k}");
                }
            }
        }
    }

    [Fact]
    public void HalfGradientsAtTheEdgeOfTheScaleAreStepped()
    {
        // 65504 (float16's maximum) times the largest scale that keeps it finite, then one float32 scale more.
        float f = ScaledGradientEdge.Largest(65504);
        using var gpu = new GpuOptimizer(new Sgd(40) { LearningRate = 1e-30 }, _accelerator);
        using MemoryBuffer1D<float, Stride1D.Dense> p = _accelerator.Allocate1D<float>(40);
        using MemoryBuffer1D<Half, Stride1D.Dense> g = _accelerator.Allocate1D(Enumerable.Range(0, 40).Select(i => i == 33 ? (Half)65504f : (Half)(-1f)).ToArray());
        p.MemSetToZero();

        gpu.Step(p.View, g.View, new StepOptions { SkipNonFinite = true, GradientScale = f });
        Assert.False(gpu.LastResult.Skipped);
        float[] stepped = p.GetAsArray1D();
        Assert.True(float.IsFinite(stepped[33]) && stepped[33] < -3e8f, $"{stepped[33]}");

        gpu.Step(p.View, g.View, new StepOptions { SkipNonFinite = true, GradientScale = MathF.BitIncrement(f) });
        Assert.True(gpu.LastResult.Skipped);
        ParityTests.AssertBitIdentical(stepped, p.GetAsArray1D(), "parameters");
    }
}
