using System;
using System.IO;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace OptGen.Gpu.Tests;

/// <summary>
/// <see cref="GpuOptimizer"/>: a schedule-free checkpoint saved in eval mode loads in eval mode (as on the CPU), and
/// <see cref="GpuOptimizer.LastResult"/> read during a step is one step's whole result.
/// </summary>
public sealed class FixupsGpuTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator = fixture.Accelerator;

    private static float[] Random(Random random, int length) =>
        Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();

    [Fact]
    public void AScheduleFreeCheckpointSavedInEvalModeLoadsInEvalModeAndTrainGivesBackY()
    {
        const int length = 40;
        var random = new Random(8);
        float[] p = Random(random, length);
        using var gpu = new GpuOptimizer(new AdamWScheduleFree(length) { LearningRate = 0.01 }, _accelerator);
        for (int t = 0; t < 3; t++)
        {
            gpu.Step(p, Random(random, length));
        }

        float[] y = (float[])p.Clone();
        gpu.Eval(p);
        float[] x = (float[])p.Clone();
        Assert.NotEqual(y, x);
        var checkpoint = new MemoryStream();
        gpu.SaveCheckpoint(checkpoint);

        using var loaded = new GpuOptimizer(new AdamWScheduleFree(length) { LearningRate = 0.01 }, _accelerator);
        loaded.LoadCheckpoint(new MemoryStream(checkpoint.ToArray()));
        Assert.True(((AdamWScheduleFree)loaded.Optimizer).IsEvalMode);
        float[] parameters = (float[])x.Clone();
        Assert.Throws<InvalidOperationException>(() => loaded.Step(parameters, new float[length]));
        Assert.Equal(x, parameters);
        loaded.Train(parameters);
        Assert.Equal(y, parameters);
    }

    /// <summary>
    /// Deterministic: a schedule (user code the step runs before it plans) reads <see cref="GpuOptimizer.LastResult"/>
    /// inside a clipping step, whose previous step left its norm on the device. It gets that step's whole result, with
    /// the norm k·√n of its gradient k, or a refusal; before, the flag saying the norm was still on the device was
    /// cleared at the start of the step and the read returned the previous result with the norm never read back.
    /// </summary>
    [Fact]
    public void LastResultReadDuringAStepIsThePreviousStepsWholeResultOrARefusal()
    {
        const int length = 16;
        using var gpu = new GpuOptimizer(new Sgd(length) { LearningRate = 0 }, _accelerator);
        var reads = new System.Collections.Generic.List<(long Step, object Read)>();
        gpu.Optimizer.SetSchedule("LearningRate", new ReadingSchedule(step =>
        {
            try
            {
                reads.Add((step, gpu.LastResult));
            }
            catch (InvalidOperationException e)
            {
                reads.Add((step, e));
            }
        }));

        // Clipping without skipping: the norm stays on the device after each step.
        var options = new StepOptions { MaxGradientNorm = 1e9 };
        // Device views (a host-memory step reads LastResult itself before it returns).
        using MemoryBuffer1D<float, Stride1D.Dense> p = _accelerator.Allocate1D<float>(length);
        using MemoryBuffer1D<float, Stride1D.Dense> g = _accelerator.Allocate1D<float>(length);
        for (int k = 1; k <= 3; k++)
        {
            g.CopyFromCPU(Enumerable.Repeat((float)k, length).ToArray());
            gpu.Step(p.View, g.View, options);
        }

        Assert.Equal(3, reads.Count);
        foreach ((long step, object read) in reads.Skip(1))
        {
            if (read is StepResult r)
            {
                Assert.Equal(step, r.StepCount);
                Assert.Equal(step * Math.Sqrt(length), r.GradientNorm, 1e-9 * step);
            }
            else
            {
                Assert.IsType<InvalidOperationException>(read);
            }
        }

        Assert.Equal(3 * Math.Sqrt(length), gpu.LastResult.GradientNorm, 1e-9);
    }

    /// <summary>A learning rate of 0 whose every evaluation first runs a callback with the step.</summary>
    private sealed class ReadingSchedule(Action<long> read) : Schedule
    {
        public override double ValueAt(long step)
        {
            read(step);
            return 0;
        }
    }
}
