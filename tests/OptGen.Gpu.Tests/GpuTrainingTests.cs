using System;
using System.IO;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Xunit;
using Half = System.Half;

namespace OptGen.Gpu.Tests;

/// <summary>
/// The training runtime on the GPU backend: the reproductions (a schedule set on the optimizer, a two-group
/// layout), many groups, skipped steps, checkpoints interchangeable with the CPU's, state precision changes, and
/// argument checks of the 16-bit overloads.
/// </summary>
public sealed class GpuTrainingTests : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator;

    public GpuTrainingTests(CpuAcceleratorFixture fixture) => _accelerator = fixture.Accelerator;

    [Fact]
    public void AScheduleSetOnTheOptimizerAppliesOnTheGpu()
    {
        // Issue 15: Adam { LearningRate = 0.1 } with a constant-0 schedule left p = 1 on the CPU but gave 0.9 on the GPU.
        var adam = new Adam(1) { LearningRate = 0.1 };
        adam.SetSchedule("LearningRate", Schedule.Constant(0));
        using var gpu = new GpuOptimizer(adam, _accelerator);
        float[] p = [1f];
        gpu.Step(p, [1f]);
        Assert.Equal(1f, p[0]);
        Assert.Equal(1, adam.StepCount);
        Assert.Equal(0, adam.LearningRate);
    }

    [Fact]
    public void ATwoGroupLayoutRunsInOneLaunchAndMatchesTheCpu()
    {
        // Issue 15: new GpuOptimizer(new Adam(layout), …) threw ArgumentOutOfRangeException (lengthInBytes) for two groups.
        var layout = new ParameterLayout(new[] { 5, 3 }, new[] { 4 });
        var cpu = new Adam(layout);
        var host = new Adam(layout);
        cpu.Groups[1]["LearningRate"] = 0.1;
        host.Groups[1]["LearningRate"] = 0.1;
        using var gpu = new GpuOptimizer(host, _accelerator);
        float[] expected = Enumerable.Range(0, 12).Select(i => i * 0.25f).ToArray();
        float[] actual = (float[])expected.Clone();
        float[] g = Enumerable.Range(0, 12).Select(i => 1f - (i * 0.1f)).ToArray();
        for (int step = 0; step < 3; step++)
        {
            cpu.Step(expected, g, null);
            gpu.Step(actual, g);
        }

        ParityTests.AssertBitIdentical(expected, actual, "parameters");
        Assert.NotEqual(expected[0] - (0 * 0.25f), expected[11] - (11 * 0.25f));
    }

    [Fact]
    public void MoreGroupsThanPassByValueReadTheirKernelStructsFromTheDevice()
    {
        int groups = GpuGroups<int>.MaxByValue + 3;
        var layout = new ParameterLayout(Enumerable.Range(0, groups).Select(k => (System.Collections.Generic.IReadOnlyList<int>)new[] { 3 + k, 40 }).ToArray());
        var cpu = new RmsProp(layout);
        var host = new RmsProp(layout);
        for (int k = 0; k < groups; k++)
        {
            cpu.Groups[k]["LearningRate"] = 0.001 * (k + 1);
            host.Groups[k]["LearningRate"] = 0.001 * (k + 1);
        }

        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(9);
        float[] expected = Enumerable.Range(0, layout.TotalLength).Select(_ => (float)random.NextDouble()).ToArray();
        float[] actual = (float[])expected.Clone();
        float[] g = new float[layout.TotalLength];
        for (int step = 0; step < 5; step++)
        {
            ParityTests.Gradients(random, g);
            cpu.Step(expected, g, null);
            gpu.Step(actual, g);
        }

        ParityTests.AssertBitIdentical(expected, actual, "parameters");
        TrainingParityTests.AssertState(cpu, gpu);
    }

    [Fact]
    public void ASkippedStepWritesNothingAndIsNotCounted()
    {
        var layout = new ParameterLayout(new[] { 50, 7 }, new[] { 30 });
        using var gpu = new GpuOptimizer(new AdamW(layout), _accelerator);
        float[] p = Enumerable.Range(0, layout.TotalLength).Select(i => i / 100f).ToArray();
        float[] g = Enumerable.Range(0, layout.TotalLength).Select(i => 0.5f - (i / 200f)).ToArray();
        var options = new StepOptions { SkipNonFinite = true, MaxGradientNorm = 0.5 };
        gpu.Step(p, g, options);
        float[] before = (float[])p.Clone();
        float[][] state = Snapshot(gpu);

        g[60] = float.NaN;
        StepResult result = gpu.Step(p, g, options);

        Assert.True(result.Skipped);
        Assert.True(result.FoundNonFinite);
        Assert.Equal(1, result.StepCount);
        Assert.Equal(1, gpu.StepCount);
        ParityTests.AssertBitIdentical(before, p, "parameters");
        float[][] after = Snapshot(gpu);
        for (int k = 0; k < state.Length; k++)
        {
            ParityTests.AssertBitIdentical(state[k], after[k], "state");
        }
    }

    [Fact]
    public void AScheduleOutOfRangeThrowsAndWritesNothing()
    {
        var adam = new Adam(8);
        adam.SetSchedule("Beta1", Schedule.Linear(0.3, 1.5, 4));
        using var gpu = new GpuOptimizer(adam, _accelerator);
        float[] p = Enumerable.Repeat(1f, 8).ToArray();
        float[] g = Enumerable.Repeat(0.5f, 8).ToArray();
        for (int step = 0; step < 3; step++)
        {
            gpu.Step(p, g);
        }

        float[] before = (float[])p.Clone();
        float[][] state = Snapshot(gpu);
        Assert.Throws<InvalidOperationException>(() => gpu.Step(p, g));
        Assert.Equal(3, gpu.StepCount);
        ParityTests.AssertBitIdentical(before, p, "parameters");
        ParityTests.AssertBitIdentical(state[0], Snapshot(gpu)[0], "state");
    }

    [Fact]
    public void AStepFromInsideAStepIsRefusedByTheEngineGuard()
    {
        var adam = new Adam(4);
        using var gpu = new GpuOptimizer(adam, _accelerator);
        float[] inner = [1f, 1f, 1f, 1f];
        adam.SetSchedule("LearningRate", new Reentrant(() => gpu.Step(inner, [1f, 1f, 1f, 1f])));
        float[] p = [1f, 2f, 3f, 4f];
        Assert.Throws<InvalidOperationException>(() => gpu.Step(p, [1f, 1f, 1f, 1f]));
        Assert.Equal(0, gpu.StepCount);
        Assert.Equal([1f, 2f, 3f, 4f], p);
        Assert.Equal([1f, 1f, 1f, 1f], inner);
    }

    [Fact]
    public void TwoThreadsSteppingOneGpuOptimizerGetExceptionsNeverLostSteps()
    {
        // The optimizer is not thread-safe; the engine's guard turns concurrent use into InvalidOperationException.
        var layout = new ParameterLayout(new[] { 3000, 17 }, new[] { 500 });
        using var gpu = new GpuOptimizer(new Adam(layout), _accelerator);
        using MemoryBuffer1D<float, Stride1D.Dense> p1 = _accelerator.Allocate1D<float>(layout.TotalLength);
        using MemoryBuffer1D<float, Stride1D.Dense> p2 = _accelerator.Allocate1D<float>(layout.TotalLength);
        using MemoryBuffer1D<float, Stride1D.Dense> g = _accelerator.Allocate1D(Enumerable.Repeat(0.5f, layout.TotalLength).ToArray());
        int successes = 0;
        var options = new StepOptions { MaxGradientNorm = 1.0 };
        DateTime end = DateTime.UtcNow.AddMilliseconds(400);
        void Hammer(MemoryBuffer1D<float, Stride1D.Dense> p)
        {
            while (DateTime.UtcNow < end)
            {
                try
                {
                    gpu.Step(p.View, g.View, options);
                    System.Threading.Interlocked.Increment(ref successes);
                }
                catch (InvalidOperationException)
                {
                    // Refused: the other thread held the optimizer's guard; nothing was written.
                }
            }
        }

        var other = new System.Threading.Thread(() => Hammer(p2));
        other.Start();
        Hammer(p1);
        other.Join();
        Assert.Equal(successes, gpu.StepCount);
        Assert.True(successes > 0);
        Assert.True(double.IsFinite(gpu.LastResult.GradientNorm));
    }

    [Fact]
    public void SteppingOrConvertingTheHostOptimizerBehindTheGpuIsDetected()
    {
        var adam = new Adam(6);
        var reference = new Adam(6);
        using var gpu = new GpuOptimizer(adam, _accelerator);
        float[] p = [1f, 2f, 3f, 4f, 5f, 6f];
        float[] expected = (float[])p.Clone();
        float[] g = [0.5f, -1f, 2f, 0f, 1f, -3f];
        gpu.Step(p, g);
        reference.Step(expected, g, null);

        // The host optimizer stepped directly: its step count moved without the device state.
        adam.Step(new float[6], g);
        float[] before = (float[])p.Clone();
        var error = Assert.Throws<InvalidOperationException>(() => gpu.Step(p, g));
        Assert.Contains("ReloadFromHost", error.Message, StringComparison.Ordinal);
        ParityTests.AssertBitIdentical(before, p, "parameters");

        // Converted directly: also refused until reloaded.
        adam.Reset();
        adam.ChangeStatePrecision(StatePrecision.BFloat16);
        Assert.Throws<InvalidOperationException>(() => gpu.Step(p, g));
        gpu.ReloadFromHost();
        Assert.Equal(StatePrecision.BFloat16, gpu.StatePrecision);
        gpu.Step(p, g);
        Assert.Equal(1, gpu.StepCount);
    }

    [Theory]
    [InlineData(StatePrecision.Float32)]
    [InlineData(StatePrecision.BFloat16)]
    public void CheckpointsMoveBetweenTheGpuAndTheCpu(StatePrecision precision)
    {
        var layout = new ParameterLayout(new[] { 33, 1 }, new[] { 70 });
        var random = new Random(11);
        float[] p = Enumerable.Range(0, layout.TotalLength).Select(_ => (float)random.NextDouble()).ToArray();
        float[][] gradients = Enumerable.Range(0, 6).Select(_ =>
        {
            float[] g = new float[layout.TotalLength];
            ParityTests.Gradients(random, g);
            return g;
        }).ToArray();

        // The reference: six steps on the CPU.
        var reference = new NAdam(layout) { LearningRate = 0.01 };
        reference.ChangeStatePrecision(precision);
        float[] expected = (float[])p.Clone();
        foreach (float[] g in gradients)
        {
            reference.Step(expected, g, null);
        }

        // Three on the GPU, a checkpoint, three on the CPU.
        var first = new NAdam(layout) { LearningRate = 0.01 };
        first.ChangeStatePrecision(precision);
        float[] actual = (float[])p.Clone();
        var saved = new MemoryStream();
        using (var gpu = new GpuOptimizer(first, _accelerator))
        {
            foreach (float[] g in gradients.Take(3))
            {
                gpu.Step(actual, g);
            }

            gpu.SaveCheckpoint(saved);
        }

        var second = new NAdam(layout);
        second.ChangeStatePrecision(precision);
        saved.Position = 0;
        second.LoadCheckpoint(saved);
        foreach (float[] g in gradients.Skip(3))
        {
            second.Step(actual, g, null);
        }

        ParityTests.AssertBitIdentical(expected, actual, "GPU then CPU");
        Assert.Equal(reference.MuProduct, second.MuProduct);

        // Three on the CPU, a checkpoint, three on the GPU.
        var third = new NAdam(layout) { LearningRate = 0.01 };
        third.ChangeStatePrecision(precision);
        actual = (float[])p.Clone();
        foreach (float[] g in gradients.Take(3))
        {
            third.Step(actual, g, null);
        }

        saved = new MemoryStream();
        third.SaveCheckpoint(saved);
        using var resumed = new GpuOptimizer(new NAdam(layout), _accelerator);
        resumed.ChangeStatePrecision(precision);
        saved.Position = 0;
        resumed.LoadCheckpoint(saved);
        Assert.Equal(precision, resumed.StatePrecision);
        foreach (float[] g in gradients.Skip(3))
        {
            resumed.Step(actual, g);
        }

        ParityTests.AssertBitIdentical(expected, actual, "CPU then GPU");
        TrainingParityTests.AssertState(reference, resumed);
    }

    [Fact]
    public void CheckpointFilesRoundTripThroughTheDevice()
    {
        string path = Path.Combine(Path.GetTempPath(), $"optgen-gpu-{Guid.NewGuid():N}.ckpt");
        try
        {
            var layout = new ParameterLayout(new[] { 12, 5 });
            using var gpu = new GpuOptimizer(new RmsProp(layout), _accelerator);
            float[] p = Enumerable.Range(0, 17).Select(i => i / 17f).ToArray();
            gpu.Step(p, Enumerable.Range(0, 17).Select(i => 1f - (i / 8f)).ToArray());
            gpu.SaveCheckpoint(path);

            var cpu = new RmsProp(layout);
            cpu.LoadCheckpoint(path);
            TrainingParityTests.AssertState(cpu, gpu);

            using var other = new GpuOptimizer(new RmsProp(layout), _accelerator);
            other.LoadCheckpoint(path);
            TrainingParityTests.AssertState(cpu, other);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ARefusedCheckpointLeavesTheDeviceStateAsItWas()
    {
        using var gpu = new GpuOptimizer(new Adam(20), _accelerator);
        float[] p = Enumerable.Repeat(1f, 20).ToArray();
        gpu.Step(p, Enumerable.Repeat(0.25f, 20).ToArray());
        float[][] state = Snapshot(gpu);
        var stream = new MemoryStream();
        new Adam(21).SaveCheckpoint(stream);
        stream.Position = 0;
        Assert.Throws<CheckpointException>(() => gpu.LoadCheckpoint(stream));
        Assert.Equal(1, gpu.StepCount);
        float[][] after = Snapshot(gpu);
        for (int k = 0; k < state.Length; k++)
        {
            ParityTests.AssertBitIdentical(state[k], after[k], "state");
        }
    }

    [Fact]
    public void ChangingTheStatePrecisionOnTheDeviceMatchesTheCpu()
    {
        var layout = new ParameterLayout(new[] { 40, 9 });
        var cpu = new Adam(layout);
        using var gpu = new GpuOptimizer(new Adam(layout), _accelerator);
        float[] expected = Enumerable.Range(0, 49).Select(i => i / 49f).ToArray();
        float[] actual = (float[])expected.Clone();
        float[] g = Enumerable.Range(0, 49).Select(i => (i % 7) - 3f).ToArray();
        for (int step = 0; step < 6; step++)
        {
            if (step == 2 || step == 4)
            {
                StatePrecision next = step == 2 ? StatePrecision.BFloat16 : StatePrecision.Float32;
                cpu.ChangeStatePrecision(next);
                gpu.ChangeStatePrecision(next);
            }

            cpu.Step(expected, g, null);
            gpu.Step(actual, g);
        }

        ParityTests.AssertBitIdentical(expected, actual, "parameters");
        TrainingParityTests.AssertState(cpu, gpu);
        using var narrow = new GpuOptimizer(BFloat16Adam(), _accelerator);
        Assert.Throws<InvalidOperationException>(() => narrow.GetState("FirstMoment"));
    }

    [Fact]
    public void SixteenBitOverloadsCheckTheirArguments()
    {
        using var gpu = new GpuOptimizer(new Adam(16), _accelerator);
        using MemoryBuffer1D<Half, Stride1D.Dense> half = _accelerator.Allocate1D<Half>(32);
        using MemoryBuffer1D<BFloat16, Stride1D.Dense> bfloat = _accelerator.Allocate1D<BFloat16>(15);
        ArrayView<Half> halves = half.View;
        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => gpu.Step(halves.SubView(0, 16), halves.SubView(8, 16))).ParamName);
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => gpu.Step(bfloat.View, bfloat.View)).ParamName);
        Assert.Equal(0, gpu.StepCount);
    }

    /// <summary>A schedule that calls back into the optimizer (a second step while the first is being planned).</summary>
    private sealed class Reentrant(Action action) : Schedule
    {
        public override double ValueAt(long step)
        {
            action();
            return 0.001;
        }
    }

    private static Adam BFloat16Adam()
    {
        var adam = new Adam(4);
        adam.ChangeStatePrecision(StatePrecision.BFloat16);
        return adam;
    }

    internal static float[][] Snapshot(GpuOptimizer gpu)
    {
        ParameterLayout layout = gpu.Layout;
        return gpu.Optimizer.Descriptor.States.SelectMany(s => Enumerable.Range(0, layout.TensorCount).Select(j =>
        {
            float[] values = new float[layout.LengthOf(j)];
            gpu.CopyState(s.Name, j, values);
            return values;
        })).ToArray();
    }
}
