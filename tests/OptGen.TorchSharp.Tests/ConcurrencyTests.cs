using System;
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
