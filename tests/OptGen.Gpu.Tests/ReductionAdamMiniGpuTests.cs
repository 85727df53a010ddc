using System;
using System.Linq;
using ILGPU.Runtime;
using OptGen.Runtime.Tests.Reductions;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Gpu.Tests;

/// <summary>
/// <see cref="AdamMini"/> on the GPU backend (ILGPU's CPU accelerator), with its compact state (m per element, one
/// v per block): against the float64 reference written for the CPU tests, against the CPU step, independent of the
/// launch shape, and a BlockSize change refused before anything changes.
/// </summary>
public sealed class ReductionAdamMiniGpuTests(CpuAcceleratorFixture fixture, ITestOutputHelper output) : IClassFixture<CpuAcceleratorFixture>
{
    private const double LearningRate = 1e-2;

    // 96-element blocks: the matrix's rows are not whole blocks, the 1000-vector ends in a short block, and the one-element tensor is one block.
    private static readonly int[][] Shapes = [[37, 61], [1000], [3, 700], [1]];
    private readonly Accelerator _accelerator = fixture.Accelerator;

    private static AdamMini Create(ParameterLayout layout, double blockSize) =>
        new(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-8, WeightDecay = 0.01, BlockSize = blockSize };

    private static float[] Random(Random random, int length, double scale = 1) =>
        Enumerable.Range(0, length).Select(_ => (float)(((random.NextDouble() * 2) - 1) * scale)).ToArray();

    [Fact]
    public void MatchesTheFloat64Reference()
    {
        ParameterLayout layout = ParameterLayout.FromShapes(Shapes);
        var random = new Random(31);
        float[] p = Random(random, layout.TotalLength);
        var reference = new AdamMiniReference(Shapes, p, 0.9, 0.99, 1e-8, 0.01, 96);
        using var gpu = new GpuOptimizer(Create(layout, 96), _accelerator);
        double worst = 0;
        for (int t = 0; t < 12; t++)
        {
            float[] g = Random(random, layout.TotalLength);
            gpu.Step(p, g);
            reference.Take(g, LearningRate);
            worst = Math.Max(worst, ReductionGpuTests.Error(p, reference.Parameters));
        }

        output.WriteLine($"max error {worst:E2} (relative to max |p|), {reference.BlockCount} blocks");
        Assert.True(worst < 2e-6, $"{worst:E2}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(96)]
    public void AgreesWithTheCpuStepBitForBit(double blockSize)
    {
        // Two groups: the second with blocks of 1000 (the 3 × 700 matrix's blocks straddle its rows). Bit for bit on
        // ILGPU's CPU accelerator since pass 1 adds each block in the CPU's lane order (it allowed 4 ULPs before).
        ParameterLayout layout = ParameterLayout.FromShapes(Shapes[..2], Shapes[2..]);
        var random = new Random(33);
        float[] pc = Random(random, layout.TotalLength), pg = (float[])pc.Clone();
        AdamMini cpu = Create(layout, blockSize), host = Create(layout, blockSize);
        cpu.Groups[1]["BlockSize"] = host.Groups[1]["BlockSize"] = 1000;
        using var gpu = new GpuOptimizer(host, _accelerator);
        for (int t = 0; t < 10; t++)
        {
            float[] g = Random(random, layout.TotalLength, 0.1);
            cpu.Step(pc, g);
            gpu.Step(pg, g);
        }

        gpu.SynchronizeHostState();
        int same = ReductionGpuTests.AssertWithinUlps(pc, pg, 0, "parameters"), count = pc.Length;
        foreach (string state in new[] { "FirstMoment", "BlockSecondMoment" })
        {
            float[] expected = cpu.GetState(state).ToArray();
            same += ReductionGpuTests.AssertWithinUlps(expected, host.GetState(state).ToArray(), 0, state);
            count += expected.Length;
        }

        float[] v = new float[cpu.StateLength("BlockSecondMoment", 1)];
        gpu.CopyState("BlockSecondMoment", 1, v);
        float[] expectedV = new float[v.Length];
        cpu.CopyState("BlockSecondMoment", 1, expectedV);
        ParityTests.AssertBitIdentical(expectedV, v, "CopyState of the 1000-vector's v_b");
        output.WriteLine($"BlockSize {blockSize}: {same} of {count} values bit-identical to the CPU step");
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(17)]
    [InlineData(255)]
    [InlineData(1000)]
    [InlineData(0)]
    public void BlocksShortAndLongAreBitIdenticalToTheCpuStep(double blockSize)
    {
        // 22 260 elements: a 20 000-vector, 37 rows of 61 and a 3-vector; blocks of 3 (7 423 of them), 5, 17, 255
        // (each one thread's), 1000 (16 chain threads each, and the vector's last block of 20 one thread's) or rows.
        // Scaled gradients on some steps. Parameters, m and every v_b bit for bit the CPU's.
        int[][] shapes = [[20000], [37, 61], [3]];
        ParameterLayout layout = ParameterLayout.FromShapes(shapes);
        var random = new Random(39);
        float[] pc = Random(random, layout.TotalLength), pg = (float[])pc.Clone();
        AdamMini cpu = Create(layout, blockSize), host = Create(layout, blockSize);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var gpu = new GpuOptimizer(host, _accelerator);
        for (int t = 0; t < 6; t++)
        {
            float[] g = Random(random, layout.TotalLength, t % 2 == 0 ? 0.1 : 10);
            var options = new StepOptions { GradientScale = t % 3 == 1 ? 0.125 : 1 };
            cpu.Step(pc, g, options);
            gpu.Step(pg, g, options);
        }

        gpu.SynchronizeHostState();
        output.WriteLine($"BlockSize {blockSize}: {cpu.BlockSecondMoment.Length} blocks, 6 GPU steps in {watch.Elapsed.TotalSeconds:F2} s");
        ParityTests.AssertBitIdentical(pc, pg, "parameters");
        ParityTests.AssertBitIdentical(cpu.FirstMoment.ToArray(), host.FirstMoment.ToArray(), "m");
        ParityTests.AssertBitIdentical(cpu.BlockSecondMoment.ToArray(), host.BlockSecondMoment.ToArray(), "v");
    }

    [Fact]
    public void BitsDoNotDependOnTheLaunchShape()
    {
        ParameterLayout layout = ParameterLayout.FromShapes(Shapes);
        var random = new Random(35);
        float[] p0 = Random(random, layout.TotalLength);
        float[][] grads = Enumerable.Range(0, 3).Select(_ => Random(random, layout.TotalLength)).ToArray();
        ReductionGpuTests.AssertLaunchShapeIndependent(_accelerator, () => Create(layout, 0), p0, grads, "Adam-mini");
    }

    [Fact]
    public void ABlockSizeChangeIsRefusedBeforeAnythingChanges()
    {
        ParameterLayout layout = ParameterLayout.FromShapes(Shapes);
        var random = new Random(37);
        AdamMini host = Create(layout, 96);
        using var gpu = new GpuOptimizer(host, _accelerator);
        float[] p = Random(random, layout.TotalLength), g = Random(random, layout.TotalLength);
        gpu.Step(p, g);
        float[] before = (float[])p.Clone();
        float[] m = new float[layout.LengthOf(0)];
        gpu.CopyState("FirstMoment", 0, m);
        host.BlockSize = 48;
        Assert.Throws<NotSupportedException>(() => gpu.Step(p, g));
        Assert.Equal(before, p);
        Assert.Equal(1, gpu.StepCount);
        float[] after = new float[m.Length];
        gpu.CopyState("FirstMoment", 0, after);
        Assert.Equal(m, after);
    }
}
