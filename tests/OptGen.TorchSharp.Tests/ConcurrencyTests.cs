using System;
using System.IO;
using System.Linq;
using System.Threading;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace OptGen.TorchSharp.Tests;

/// <summary>A FusedOptimizer is claimed for a whole step or state load, before it aims its tensor table or writes.</summary>
public class ConcurrencyTests
{
    [Fact]
    public void ALoadDuringAStepIsRefusedBeforeItWritesAnything()
    {
        Parameter[] parameters = Fixture.MakeParameters();
        using FusedOptimizer<OptGen.Adam> fused = FusedOptimizer.Create(parameters, layout => new OptGen.Adam(layout));
        Tensor[] gradients = Fixture.Gradients(parameters, 0);
        Fixture.SetGradients(parameters, gradients);
        fused.step();
        var saved = fused.state_dict();

        // A schedule is read inside the step: from there, a load_state_dict is a second call during the step.
        var schedule = new ReentrantSchedule(() => fused.load_state_dict(saved));
        fused.Optimizer.SetSchedule("LearningRate", schedule);
        fused.step();

        InvalidOperationException refused = Assert.IsType<InvalidOperationException>(schedule.Failure);
        Assert.Contains("load_state_dict was called while another step", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2, fused.Optimizer.StepCount);
    }

    /// <summary>
    /// load_state_dict writes the groups, the step count and each parameter's state in separate calls on the OptGen
    /// optimizer; an OptGen checkpoint saved meanwhile from another thread through the adapter must be refused, never
    /// a mix of the old and the new state (SaveCheckpoint did not claim the adapter, and saved such mixes).
    /// </summary>
    [Fact]
    public void ACheckpointSavedDuringALoadIsRefusedNeverAMixOfTwoStates()
    {
        // Two sources of the same shapes after 1 and 4 steps; their state dictionaries are loaded in turn.
        var sources = new FusedOptimizer<OptGen.Adam>[2];
        byte[][] expected = new byte[2][];
        for (int s = 0; s < 2; s++)
        {
            torch.random.manual_seed(7);
            Parameter[] own = Enumerable.Range(0, 300).Select(_ => new Parameter(torch.randn(4))).ToArray();
            sources[s] = FusedOptimizer.Create(own, layout => new OptGen.Adam(layout));
            for (int t = 0; t < 1 + (3 * s); t++)
            {
                Fixture.SetGradients(own, Fixture.Gradients(own, t));
                sources[s].step();
            }

            var stream = new MemoryStream();
            sources[s].SaveCheckpoint(stream);
            expected[s] = stream.ToArray();
        }

        Assert.NotEqual(expected[0], expected[1]);
        torch.random.manual_seed(7);
        Parameter[] parameters = Enumerable.Range(0, 300).Select(_ => new Parameter(torch.randn(4))).ToArray();
        using FusedOptimizer<OptGen.Adam> fused = FusedOptimizer.Create(parameters, layout => new OptGen.Adam(layout));
        var dictionaries = sources.Select(s => s.state_dict()).ToArray();
        fused.load_state_dict(dictionaries[0]);
        int loads = 0, saves = 0, refusals = 0;
        Exception? failure = null;
        var loader = new Thread(() =>
        {
            try
            {
                for (; loads < 600; loads++)
                {
                    try
                    {
                        fused.load_state_dict(dictionaries[loads % 2]);
                    }
                    catch (InvalidOperationException)
                    {
                        Interlocked.Increment(ref refusals);
                    }
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        loader.Start();
        var mixed = new System.Collections.Generic.List<int>();
        var random = new Random(3);
        while (loader.IsAlive)
        {
            // Saves at random moments, so that loads get through and saves land anywhere inside them.
            Thread.SpinWait(random.Next(20_000));
            var stream = new MemoryStream();
            try
            {
                fused.SaveCheckpoint(stream);
            }
            catch (InvalidOperationException)
            {
                Interlocked.Increment(ref refusals);
                continue;
            }

            byte[] bytes = stream.ToArray();
            if (!bytes.AsSpan().SequenceEqual(expected[0]) && !bytes.AsSpan().SequenceEqual(expected[1]))
            {
                mixed.Add(saves);
            }

            saves++;
        }

        loader.Join();
        Assert.Null(failure);
        Assert.True(mixed.Count == 0, $"{mixed.Count} of {saves} checkpoints mix the two states ({refusals} calls refused)");
        foreach (FusedOptimizer<OptGen.Adam> source in sources)
        {
            source.Dispose();
        }
    }

    private sealed class ReentrantSchedule(Action action) : Schedule
    {
        public Exception? Failure { get; private set; }

        public override double ValueAt(long step)
        {
            if (Failure is null)
            {
                try
                {
                    action();
                }
                catch (Exception e)
                {
                    Failure = e;
                }
            }

            return 1e-3;
        }
    }
}
