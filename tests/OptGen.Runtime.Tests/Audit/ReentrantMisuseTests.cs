using System;
using System.Collections.Generic;
using System.IO;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// The entry points added with the rules with reductions and per-group precision, called while a step of those rules
/// runs (from a schedule, which is read inside the step's guard): each is an <see cref="InvalidOperationException"/>
/// naming itself, nothing deadlocks, and the step completes exactly as the same step taken alone.
/// </summary>
public sealed class ReentrantMisuseTests
{
    private static IEnumerable<(string Name, Action Call)> CallsOn(Optimizer optimizer, float[] p, float[] g)
    {
        yield return ("Step", () => optimizer.Step(p, g));
        yield return ("Reset", optimizer.Reset);
        yield return ("ChangeStatePrecision", () => optimizer.ChangeStatePrecision(StatePrecision.BFloat16));
        yield return ("SaveCheckpoint", () => optimizer.SaveCheckpoint(new MemoryStream()));
        yield return ("LoadCheckpoint", () => optimizer.LoadCheckpoint(new MemoryStream([1, 2, 3])));
        yield return ("StateLength", () => optimizer.StateLength(optimizer.Descriptor.States[0].Name, 0));
        yield return ("CopyState", () => optimizer.CopyState(optimizer.Descriptor.States[0].Name, 0, new float[optimizer.Layout.LengthOf(0)]));
        yield return ("Setting BatchSize", () => optimizer.BatchSize = 4);
        // A value every rule's second hyperparameter takes (Adafactor's c must be <= 0): only the busy step refuses it.
        yield return ("Setting a group's hyperparameter", () => optimizer.Groups[0][optimizer.Descriptor.Hyperparameters[1].Name] = optimizer is Adafactor ? -0.5 : 0.5);
        yield return ("SetSchedule", () => optimizer.SetSchedule(optimizer.Descriptor.Hyperparameters[1].Name, null));
        if (optimizer is AdamWScheduleFree scheduleFree)
        {
            yield return ("Eval", () => scheduleFree.Eval(p));
            yield return ("Train", () => scheduleFree.Train(p));
        }
    }

    public static TheoryData<string> Rules() => new() { "LAMB", "LARS", "Adam-mini", "Adafactor", "schedule-free", "LAMB bfloat16" };

    private static Optimizer Create(string rule)
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[6, 5], [7]], [[3, 4]]);
        return rule switch
        {
            "LAMB" => new Lamb(layout),
            "LARS" => new Lars(layout),
            "Adam-mini" => new AdamMini(layout) { BlockSize = 4 },
            "Adafactor" => new Adafactor(layout),
            "schedule-free" => new AdamWScheduleFree(layout) { WarmupSteps = 2 },
            _ => WithBFloat16(new Lamb(layout)),
        };

        static Optimizer WithBFloat16(Optimizer optimizer)
        {
            optimizer.ChangeStatePrecision(StatePrecision.BFloat16);
            return optimizer;
        }
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void EveryStateOperationDuringAStepIsRefusedAndTheStepIsUnchanged(string rule)
    {
        Optimizer optimizer = Create(rule), alone = Create(rule);
        var random = new Random(8);
        float[] p = Random(random, optimizer.Length), q = (float[])p.Clone();
        float[] g = Random(random, optimizer.Length, 0.1);
        optimizer.Step(p, g);
        alone.Step(q, g);

        var seen = new List<string>();
        string lr = optimizer.Descriptor.Hyperparameters[0].Name;
        double value = optimizer.Groups[0][lr];
        optimizer.SetSchedule(lr, new CallbackSchedule(value, () =>
        {
            foreach ((string name, Action call) in CallsOn(optimizer, p, g))
            {
                InvalidOperationException e = Assert.Throws<InvalidOperationException>(call);
                Assert.StartsWith(name + " was called while", e.Message, StringComparison.Ordinal);
                seen.Add(name);
            }
        }));
        alone.SetSchedule(lr, Schedule.Constant(value));
        optimizer.Step(p, g);
        alone.Step(q, g);

        Assert.Equal(optimizer is AdamWScheduleFree ? 12 : 10, seen.Count);
        AssertBitwiseEqual(q, p, $"{rule}: parameters");
        Assert.Equal(2, optimizer.StepCount);
        Assert.Equal(1, optimizer.BatchSize);
        Assert.Equal(alone.Groups[0][optimizer.Descriptor.Hyperparameters[1].Name], optimizer.Groups[0][optimizer.Descriptor.Hyperparameters[1].Name]);
        float[][] expected = StateOf(alone), actual = StateOf(optimizer);
        for (int k = 0; k < expected.Length; k++)
        {
            AssertBitwiseEqual(expected[k], actual[k], $"{rule}: state {k}");
        }
    }
}
