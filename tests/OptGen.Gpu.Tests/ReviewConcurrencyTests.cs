using System;
using System.Threading;
using ILGPU.Runtime;
using Xunit;

namespace OptGen.Gpu.Tests;

/// <summary>
/// The host-memory steps stage through buffers the GpuOptimizer owns: a second thread's call must be refused before
/// it touches them, or the step in flight computes on the other thread's data.
/// </summary>
public sealed class ReviewConcurrencyTests : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator;

    public ReviewConcurrencyTests(CpuAcceleratorFixture fixture) => _accelerator = fixture.Accelerator;

    [Fact]
    public void AHostStepWhileAnotherRunsIsRefusedWithoutTouchingTheStagedData()
    {
        const int length = 64;
        float[] pA = new float[length], gA = new float[length], pB = new float[length], gB = new float[length];
        for (int i = 0; i < length; i++)
        {
            pA[i] = 1 + (0.01f * i);
            gA[i] = 0.5f - (0.01f * i);
            pB[i] = -7;
            gB[i] = 3;
        }

        // The expected result of thread A's step alone: the same optimizer and schedule value, no interference.
        var alone = new Adam(length) { LearningRate = 0.1 };
        using (var gpuAlone = new GpuOptimizer(alone, _accelerator))
        {
            float[] expected = (float[])pA.Clone();
            gpuAlone.Step(expected, gA);

            using var blocking = new BlockingSchedule(0.1);
            var adam = new Adam(length);
            adam.SetSchedule("LearningRate", blocking);
            using var gpu = new GpuOptimizer(adam, _accelerator);
            Exception? failure = null;
            var first = new Thread(() =>
            {
                try
                {
                    gpu.Step(pA, gA);
                }
                catch (Exception e)
                {
                    failure = e;
                }
            });
            first.Start();
            Assert.True(blocking.Entered.Wait(TimeSpan.FromSeconds(30)));
            float[] pBBefore = (float[])pB.Clone();
            Assert.Throws<InvalidOperationException>(() => gpu.Step(pB, gB));
            blocking.Release.Set();
            Assert.True(first.Join(TimeSpan.FromSeconds(30)));
            Assert.Null(failure);
            Assert.Equal(expected, pA);
            Assert.Equal(pBBefore, pB);
            Assert.Equal(1, adam.StepCount);
        }
    }

    /// <summary>A constant schedule that, the first time it is read, says so and waits to be released.</summary>
    private sealed class BlockingSchedule(double value) : Schedule, IDisposable
    {
        private int _calls;

        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public override double ValueAt(long step)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                Entered.Set();
                Release.Wait(TimeSpan.FromSeconds(30));
            }

            return value;
        }

        public void Dispose()
        {
            Entered.Dispose();
            Release.Dispose();
        }
    }
}
