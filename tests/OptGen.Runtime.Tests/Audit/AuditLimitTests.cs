using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// Limits that lived in one entry point only: a rule's own limit on a hyperparameter (Adafactor's c ≤ 0 and d ≥ 1),
/// a layout built from a caller's list, and a loss scaler's counters.
/// </summary>
public sealed class AuditLimitTests
{
    /// <summary>A list whose Count disagrees with what it enumerates.</summary>
    private sealed class Miscounted(int count, int[] items) : IReadOnlyList<int>
    {
        public int this[int index] => items[index];

        public int Count => count;

        public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)items).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>
    /// Adafactor's c ≤ 0 and d ≥ 1 are the rule's, not the descriptor range's (Finite, Positive): only the typed
    /// setter applied them (naming "value"), so the indexers, a group and a checkpoint took c = 0.5 or d = 0.5 and every
    /// later step threw. Each way in now refuses them by the hyperparameter's name, with nothing changed.
    /// </summary>
    [Theory]
    [InlineData("Beta2Decay", 0.5)]
    [InlineData("Beta2Decay", double.Epsilon)]
    [InlineData("ClipThreshold", 0.5)]
    [InlineData("ClipThreshold", 0.99999999999999989)]
    public void ARuleLimitIsAppliedByEveryWayIn(string name, double value)
    {
        var layout = ParameterLayout.FromShapes([[3, 4]], [[5]]);
        var adafactor = new Adafactor(layout) { WeightDecay = 0.01 };
        float[] p = Random(new Random(1), layout.TotalLength);
        adafactor.Step(p, Random(new Random(2), layout.TotalLength));
        Snapshot before = Snapshot.Of(adafactor);
        Action[] ways =
        [
            () => typeof(Adafactor).GetProperty(name)!.SetValue(adafactor, value),
            () => adafactor[name] = value,
            () => adafactor.Groups[1][name] = value,
        ];
        foreach (Action way in ways)
        {
            Exception e = Assert.ThrowsAny<Exception>(way);
            e = e is System.Reflection.TargetInvocationException { InnerException: { } inner } ? inner : e;
            Assert.Equal(name, Assert.IsType<ArgumentOutOfRangeException>(e).ParamName);
            AssertUnchanged(before, adafactor);
        }

        // A checkpoint with the value (checksum recomputed) is refused by name, as the range is.
        using var saved = new MemoryStream();
        adafactor.SaveCheckpoint(saved);
        CheckpointImage image = CheckpointImage.Parse(saved.ToArray());
        image.Values[1][adafactor.Descriptor.IndexOfHyperparameter(name)] = value;
        CheckpointException refused = Assert.Throws<CheckpointException>(() => adafactor.LoadCheckpoint(new MemoryStream(image.ToBytes())));
        Assert.Equal(name, refused.Field);
        AssertUnchanged(before, adafactor);

        // A schedule giving the value is refused at the step, as a value out of range is; nothing is written.
        adafactor.Groups[0].SetSchedule(name, Schedule.Constant(value));
        float[] kept = (float[])p.Clone();
        Assert.Contains(name, Assert.Throws<InvalidOperationException>(() => adafactor.Step(p, new float[p.Length])).Message, StringComparison.Ordinal);
        AssertBitwiseEqual(kept, p, "parameters");
        AssertUnchanged(before, adafactor);
    }

    /// <summary>The limits' edges are still taken: c = 0 and c = −0 (β̂ = 0 every step), d = 1.</summary>
    [Fact]
    public void ARuleLimitTakesItsEdges()
    {
        var adafactor = new Adafactor(4) { Beta2Decay = -0.0, ClipThreshold = 1 };
        adafactor["Beta2Decay"] = 0;
        adafactor.Groups[0]["ClipThreshold"] = 1;
        float[] p = [1, 2, 3, 4];
        adafactor.Step(p, [0.5f, -1, 2, 0]);
        Assert.All(p, x => Assert.True(float.IsFinite(x)));
    }

    /// <summary>
    /// A group list read twice (its Count to size the layout, its enumeration to fill it) built a layout with more
    /// tensors than lengths (a later step threw NullReferenceException), threw IndexOutOfRangeException, or, with
    /// Counts summing past int.MaxValue, OverflowException. Each group is now read once, by enumeration.
    /// </summary>
    [Fact]
    public void ALayoutReadsEachGroupOnce()
    {
        var layout = new ParameterLayout(new Miscounted(3, [3, 4]), new Miscounted(1, [5, 6]));
        Assert.Equal(4, layout.TensorCount);
        Assert.Equal(18, layout.TotalLength);
        Assert.Equal([2, 2], new[] { layout.TensorCountOf(0), layout.TensorCountOf(1) });
        var adam = new Adam(layout);
        float[] p = Random(new Random(1), layout.TotalLength);
        adam.Step(p, Random(new Random(2), layout.TotalLength));
        Assert.All(p, x => Assert.True(float.IsFinite(x)));

        Assert.Equal(2, new ParameterLayout(new Miscounted(int.MaxValue, [1]), new Miscounted(int.MaxValue, [2])).TensorCount);
        Assert.Equal("groups", Assert.Throws<ArgumentException>(() => new ParameterLayout(new Miscounted(2, []))).ParamName);
    }

    /// <summary>
    /// The layout's public accessors given a tensor or group that is not there: IndexOutOfRangeException before (and
    /// RankOf of a layout made from lengths answered 1 for any index); now ArgumentOutOfRangeException naming the index.
    /// </summary>
    [Fact]
    public void ALayoutRefusesAnIndexThatIsNotThereByName()
    {
        foreach (ParameterLayout layout in new[] { new ParameterLayout([3, 4], [5]), ParameterLayout.FromShapes([[2, 3]], [[5]]) })
        {
            foreach (int tensor in new[] { -1, layout.TensorCount, int.MaxValue, int.MinValue })
            {
                Func<object>[] calls = [() => layout.LengthOf(tensor), () => layout.GroupOf(tensor), () => layout.ArenaOffsetOf(tensor), () => layout.ShapeOf(tensor), () => layout.RankOf(tensor), () => layout.MatrixShapeOf(tensor)];
                foreach (Func<object> call in calls)
                {
                    Assert.Equal("tensor", Assert.Throws<ArgumentOutOfRangeException>(() => call()).ParamName);
                }
            }

            foreach (int group in new[] { -1, layout.GroupCount, int.MaxValue })
            {
                Assert.Equal("group", Assert.Throws<ArgumentOutOfRangeException>(() => layout.FirstTensorOf(group)).ParamName);
                Assert.Equal("group", Assert.Throws<ArgumentOutOfRangeException>(() => layout.TensorCountOf(group)).ParamName);
            }

            Assert.Equal(layout.TotalLength - 5, layout.ArenaOffsetOf(layout.TensorCount - 1));
            Assert.Equal(1, layout.TensorCountOf(layout.GroupCount - 1));
        }
    }

    /// <summary>A scaler resumed with a good-step count at or past its interval grows at the next good step; the count wrapped to int.MinValue before.</summary>
    [Fact]
    public void ALossScalerResumedPastItsIntervalGrowsAtTheNextGoodStep()
    {
        var scaler = new DynamicLossScale(initialScale: 1024, growthInterval: 10, goodSteps: int.MaxValue);
        scaler.Update(new StepResult(Skipped: false, FoundNonFinite: false, GradientNorm: 1, ClipFactor: 1, StepCount: 1));
        Assert.Equal(2048, scaler.Scale);
        Assert.Equal(0, scaler.GoodSteps);

        var exact = new DynamicLossScale(initialScale: 1024, growthInterval: 3, goodSteps: 1);
        exact.Update(default);
        Assert.Equal((1024, 2), (exact.Scale, exact.GoodSteps));
        exact.Update(default);
        Assert.Equal((2048, 0), (exact.Scale, exact.GoodSteps));
    }

    /// <summary>
    /// Threads reporting their own steps to one scaler: every update counts (a read-modify-write of the scale lost
    /// some, and could pair one scale with another's options). Each thread alternates a good step (×2, interval 1) and an
    /// overflow (×0.5), so the scale ends where it began.
    /// </summary>
    [Fact]
    public void ALossScalerUpdatedFromSeveralThreadsLosesNoUpdate()
    {
        var scaler = new DynamicLossScale(initialScale: 1, growthInterval: 1);
        var good = new StepResult(Skipped: false, FoundNonFinite: false, GradientNorm: 1, ClipFactor: 1, StepCount: 1);
        var overflow = new StepResult(Skipped: true, FoundNonFinite: true, GradientNorm: double.PositiveInfinity, ClipFactor: 1, StepCount: 1);
        const int threads = 4;
        using var start = new Barrier(threads);
        Thread[] running = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < 1_000_000; i++)
            {
                scaler.Update(i % 2 == 0 ? good : overflow);
            }
        })).ToArray();
        foreach (Thread thread in running)
        {
            thread.Start();
        }

        foreach (Thread thread in running)
        {
            thread.Join();
        }

        Assert.Equal(1, scaler.Scale);
        Assert.Equal(1, scaler.Options.GradientScale);
    }
}
