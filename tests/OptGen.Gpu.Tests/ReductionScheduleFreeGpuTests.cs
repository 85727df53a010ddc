using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Runtime.Tests.Reductions;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Gpu.Tests;

/// <summary>
/// <see cref="AdamWScheduleFree"/> on the GPU backend (ILGPU's CPU accelerator), with the device Eval/Train swap:
/// against the float64 reference written for the CPU tests (y while training, x in eval mode), against the CPU step
/// and swap, Train restoring y bit for bit, and misuse refused before anything changes.
/// </summary>
public sealed class ReductionScheduleFreeGpuTests(CpuAcceleratorFixture fixture, ITestOutputHelper output) : IClassFixture<CpuAcceleratorFixture>
{
    private const double LearningRate = 1e-2;
    private static readonly int[][] Shapes = [[37, 61], [100], [3000], [1]];
    private readonly Accelerator _accelerator = fixture.Accelerator;

    private static AdamWScheduleFree Create(ParameterLayout layout) =>
        new(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-8, WeightDecay = 0.01, WarmupSteps = 3, R = 0.5, WeightLrPower = 2 };

    private static float[] Random(Random random, int length, double scale = 1) =>
        Enumerable.Range(0, length).Select(_ => (float)(((random.NextDouble() * 2) - 1) * scale)).ToArray();

    [Fact]
    public void MatchesTheFloat64ReferenceInTrainAndEvalMode()
    {
        ParameterLayout layout = ParameterLayout.FromShapes(Shapes);
        var random = new Random(21);
        float[] p0 = Random(random, layout.TotalLength);
        var reference = new ScheduleFreeReference(Shapes, p0, 0.9, 0.99, 1e-8, 0.01, warmupSteps: 3, r: 0.5, weightLrPower: 2);
        using var gpu = new GpuOptimizer(Create(layout), _accelerator);
        using MemoryBuffer1D<float, Stride1D.Dense> p = _accelerator.Allocate1D(p0);
        using MemoryBuffer1D<float, Stride1D.Dense> g = _accelerator.Allocate1D<float>(layout.TotalLength);
        double train = 0, eval = 0;
        for (int t = 0; t < 12; t++)
        {
            float[] gradient = Random(random, layout.TotalLength);
            g.CopyFromCPU(gradient);
            gpu.Step(p.View, g.View);
            reference.Take(gradient, LearningRate);
            float[] y = p.GetAsArray1D();
            train = Math.Max(train, ReductionGpuTests.Error(y, reference.Parameters));
            gpu.Eval(p.View);
            eval = Math.Max(eval, ReductionGpuTests.Error(p.GetAsArray1D(), reference.Eval));
            gpu.Train(p.View);
            ParityTests.AssertBitIdentical(y, p.GetAsArray1D(), $"y after Train at step {t + 1}");
        }

        output.WriteLine($"max error {train:E2} (train), {eval:E2} (eval), relative to max |p|");
        Assert.True(train < 2e-6, $"train: {train:E2}");
        Assert.True(eval < 2e-6, $"eval: {eval:E2}");
    }

    [Fact]
    public void AgreesWithTheCpuStepAndSwapToFourUlps()
    {
        ParameterLayout layout = ParameterLayout.FromShapes(Shapes[..2], Shapes[2..]);
        var random = new Random(23);
        float[] pc = Random(random, layout.TotalLength);
        AdamWScheduleFree cpu = Create(layout), host = Create(layout);
        cpu.Groups[1]["Beta1"] = host.Groups[1]["Beta1"] = 0.8;
        using var gpu = new GpuOptimizer(host, _accelerator);
        using MemoryBuffer1D<float, Stride1D.Dense> p = _accelerator.Allocate1D(pc);
        using MemoryBuffer1D<float, Stride1D.Dense> g = _accelerator.Allocate1D<float>(layout.TotalLength);
        int same = 0, count = 0;
        for (int t = 0; t < 10; t++)
        {
            float[] gradient = Random(random, layout.TotalLength, 0.1);
            g.CopyFromCPU(gradient);
            cpu.Step(pc, gradient);
            gpu.Step(p.View, g.View);
        }

        cpu.Eval(pc);
        gpu.Eval(p.View);
        Assert.True(cpu.IsEvalMode && host.IsEvalMode);
        same += ReductionGpuTests.AssertWithinUlps(pc, p.GetAsArray1D(), 4, "x (eval)");
        count += pc.Length;
        cpu.Train(pc);
        gpu.Train(p.View);
        same += ReductionGpuTests.AssertWithinUlps(pc, p.GetAsArray1D(), 4, "y (train)");
        count += pc.Length;
        gpu.SynchronizeHostState();
        foreach (string state in new[] { "Z", "SecondMoment" })
        {
            float[] expected = cpu.GetState(state).ToArray();
            same += ReductionGpuTests.AssertWithinUlps(expected, host.GetState(state).ToArray(), 4, state);
            count += expected.Length;
        }

        output.WriteLine($"{same} of {count} values bit-identical to the CPU");
    }

    [Fact]
    public void MisuseIsRefusedBeforeAnythingChanges()
    {
        ParameterLayout layout = ParameterLayout.FromShapes(Shapes);
        var random = new Random(25);
        AdamWScheduleFree host = Create(layout);
        using var gpu = new GpuOptimizer(host, _accelerator);
        using MemoryBuffer1D<float, Stride1D.Dense> p = _accelerator.Allocate1D(Random(random, layout.TotalLength));
        using MemoryBuffer1D<float, Stride1D.Dense> g = _accelerator.Allocate1D(Random(random, layout.TotalLength));
        using MemoryBuffer1D<float, Stride1D.Dense> shorter = _accelerator.Allocate1D<float>(layout.TotalLength - 1);
        gpu.Step(p.View, g.View);
        gpu.Eval(p.View);
        float[] x = p.GetAsArray1D();

        // In eval mode a step is refused by the rule's own check while the step is planned.
        Assert.Throws<InvalidOperationException>(() => gpu.Step(p.View, g.View));
        Assert.Equal(1, gpu.StepCount);
        ParityTests.AssertBitIdentical(x, p.GetAsArray1D(), "x after a refused step");

        Assert.Throws<ArgumentException>(() => gpu.Train(shorter.View));
        Assert.True(host.IsEvalMode);
        gpu.Train(p.View);
        Assert.False(host.IsEvalMode);

        // Another rule has no second point; β₁ = 0 has no averaged point.
        using (var lamb = new GpuOptimizer(new Lamb(layout), _accelerator))
        {
            Assert.Throws<NotSupportedException>(() => lamb.Eval(p.View));
        }

        host.Beta1 = 0;
        float[] y = p.GetAsArray1D();
        Assert.Throws<ArgumentOutOfRangeException>(() => gpu.Eval(p.View));
        Assert.False(host.IsEvalMode);
        ParityTests.AssertBitIdentical(y, p.GetAsArray1D(), "y after a refused Eval");
    }
}
