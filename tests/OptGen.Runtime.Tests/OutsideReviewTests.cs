using System;
using System.IO;
using System.Linq;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Misuse an outside reviewer tried through the public API: checkpoints of another rule, layout or precision, streams
/// that return a few bytes at a time or hold more than one checkpoint, bad schedule arguments, wrong lengths. Each is
/// the documented exception with the optimizer left exactly as it was, or works.
/// </summary>
public sealed class OutsideReviewTests
{
    private static byte[] Save(Optimizer optimizer)
    {
        using var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }

    private static T Trained<T>(T optimizer, int steps = 3)
        where T : Optimizer
    {
        var random = new Random(7);
        float[] p = TrainingTestData.Random(random, optimizer.Length);
        for (int i = 0; i < steps; i++)
        {
            optimizer.Step(p, TrainingTestData.Random(random, optimizer.Length));
        }

        return optimizer;
    }

    /// <summary>Runs <paramref name="misuse"/>, expects <typeparamref name="TException"/>, and checks that nothing about the optimizer changed.</summary>
    private static TException AssertRefusedAndUnchanged<TException>(Optimizer optimizer, Action misuse)
        where TException : Exception
    {
        byte[] before = Save(optimizer);
        long steps = optimizer.StepCount;
        TException e = Assert.Throws<TException>(misuse);
        Assert.Equal(steps, optimizer.StepCount);
        Assert.Equal(before, Save(optimizer));
        return e;
    }

    // ---- Checkpoints ----

    [Fact]
    public void CheckpointOfAnotherRuleIsRefused()
    {
        byte[] adam = Save(Trained(new Adam(10)));
        AssertRefusedAndUnchanged<CheckpointException>(Trained(new AdamW(10)), () => Trained(new AdamW(10)).LoadCheckpoint(new MemoryStream(adam)));
        AdamW target = Trained(new AdamW(10));
        AssertRefusedAndUnchanged<CheckpointException>(target, () => target.LoadCheckpoint(new MemoryStream(adam)));
        Lion lion = Trained(new Lion(10));
        AssertRefusedAndUnchanged<CheckpointException>(lion, () => lion.LoadCheckpoint(new MemoryStream(adam)));
    }

    [Fact]
    public void CheckpointOfTheSameRuleUnderAnotherNameSaysWhy()
    {
        // Same statements, same rule id, different class name: refused (the name is part of a checkpoint's identity),
        // and the message used to show two equal ids without saying what differs.
        byte[] bytes = Save(Trained(new SameRuleFirst(5)));
        SameRuleSecond target = Trained(new SameRuleSecond(5));
        Assert.Equal(new SameRuleFirst(1).Descriptor.RuleId, target.Descriptor.RuleId);
        CheckpointException e = AssertRefusedAndUnchanged<CheckpointException>(target, () => target.LoadCheckpoint(new MemoryStream(bytes)));
        Assert.Equal(CheckpointError.WrongRule, e.Error);
        Assert.Contains("[Optimizer(Name = ...)]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExpressionRuleHyperparameterIsNamedOnceInACheckpointError()
    {
        // An expression rule's hyperparameter symbol is its name: the message said "Beta1 (Beta1) must be …".
        Lion lion = Trained(new Lion(4));
        CheckpointImage image = CheckpointImage.Parse(Save(lion));
        image.Values[0][image.Hyperparameters.IndexOf("Beta1")] = 1;
        CheckpointException e = AssertRefusedAndUnchanged<CheckpointException>(lion, () => lion.LoadCheckpoint(new MemoryStream(image.ToBytes())));
        Assert.Contains("Beta1 must be", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(Beta1)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExpressionRuleHyperparameterIsNamedOnceInASetterError()
    {
        var lion = new Lion(new ParameterLayout([2], [3]));
        ArgumentOutOfRangeException e = AssertRefusedAndUnchanged<ArgumentOutOfRangeException>(lion, () => lion.Beta1 = 1);
        Assert.DoesNotContain("(Beta1)", e.Message, StringComparison.Ordinal);
        e = AssertRefusedAndUnchanged<ArgumentOutOfRangeException>(lion, () => lion.Groups[1]["Beta1"] = 1);
        Assert.DoesNotContain("(Beta1)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckpointOfAnotherLayoutIsRefused()
    {
        byte[] small = Save(Trained(new Adam(10)));
        Adam target = Trained(new Adam(11));
        AssertRefusedAndUnchanged<CheckpointException>(target, () => target.LoadCheckpoint(new MemoryStream(small)));
        Adam grouped = Trained(new Adam(new ParameterLayout([4, 6])));
        Adam two = new(new ParameterLayout([4], [6]));
        AssertRefusedAndUnchanged<CheckpointException>(two, () => two.LoadCheckpoint(new MemoryStream(Save(grouped))));
    }

    [Fact]
    public void BFloat16StateCheckpointIntoAFloat32OptimizerIsRefusedOrLoadsExactly()
    {
        Adam source = Trained(new Adam(10));
        source.ChangeStatePrecision(StatePrecision.BFloat16);
        Trained(source);
        byte[] bytes = Save(source);
        Adam target = Trained(new Adam(10));
        byte[] before = Save(target);
        try
        {
            target.LoadCheckpoint(new MemoryStream(bytes));
            Assert.Equal(source.StepCount, target.StepCount);
            Assert.Equal(source.GetState("FirstMoment").ToArray(), target.GetState("FirstMoment").ToArray());
        }
        catch (CheckpointException)
        {
            Assert.Equal(before, Save(target));
        }
    }

    /// <summary>A stream whose Read returns at most one byte per call, as network and pipe streams may.</summary>
    private sealed class TrickleStream(byte[] data, bool seekable) : MemoryStream(data)
    {
        public override bool CanSeek => seekable && base.CanSeek;

        public override long Length => seekable ? base.Length : throw new NotSupportedException();

        public override long Position { get => seekable ? base.Position : throw new NotSupportedException(); set => base.Position = seekable ? value : throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 1));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, 1)]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CheckpointLoadsFromAStreamThatReturnsOneByteAtATime(bool seekable)
    {
        Adam source = Trained(new Adam(new ParameterLayout([5, 3], [7])), steps: 4);
        Adam target = new(new ParameterLayout([5, 3], [7]));
        target.LoadCheckpoint(new TrickleStream(Save(source), seekable));
        Assert.Equal(Save(source), Save(target));
    }

    [Fact]
    public void TwoCheckpointsInOneStreamLoadOneAfterTheOther()
    {
        Adam a = Trained(new Adam(6), 2);
        Lion b = Trained(new Lion(9), 5);
        using var stream = new MemoryStream();
        stream.Write("HEADER"u8);
        a.SaveCheckpoint(stream);
        b.SaveCheckpoint(stream);
        stream.Position = 6;
        var a2 = new Adam(6);
        var b2 = new Lion(9);
        a2.LoadCheckpoint(stream);
        b2.LoadCheckpoint(stream);
        Assert.Equal(stream.Length, stream.Position);
        Assert.Equal(Save(a), Save(a2));
        Assert.Equal(Save(b), Save(b2));
    }

    [Fact]
    public void LoadFromAMissingFileThrowsAndChangesNothing()
    {
        Adam target = Trained(new Adam(4));
        AssertRefusedAndUnchanged<FileNotFoundException>(target, () => target.LoadCheckpoint(Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"))));
        AssertRefusedAndUnchanged<ArgumentException>(target, () => target.LoadCheckpoint(string.Empty));
        AssertRefusedAndUnchanged<ArgumentNullException>(target, () => target.LoadCheckpoint((Stream)null!));
    }

    [Fact]
    public void EmptyAndGarbageStreamsAreNotCheckpoints()
    {
        Adam target = Trained(new Adam(4));
        AssertRefusedAndUnchanged<CheckpointException>(target, () => target.LoadCheckpoint(new MemoryStream()));
        AssertRefusedAndUnchanged<CheckpointException>(target, () => target.LoadCheckpoint(new MemoryStream(new byte[3])));
        AssertRefusedAndUnchanged<CheckpointException>(target, () => target.LoadCheckpoint(new MemoryStream("not a checkpoint at all, just text"u8.ToArray())));
    }

    [Fact]
    public void ACheckpointWithCarriedHostStateLoadsIntoAFreshOptimizer()
    {
        NAdam source = Trained(new NAdam(12), 6);
        var target = new NAdam(12);
        target.LoadCheckpoint(new MemoryStream(Save(source)));
        Assert.Equal(Save(source), Save(target));
        float[] p1 = TrainingTestData.Random(new Random(3), 12), p2 = (float[])p1.Clone();
        float[] g = TrainingTestData.Random(new Random(4), 12);
        source.Step(p1, g);
        target.Step(p2, g);
        Assert.Equal(p1, p2);
    }

    // ---- Steps ----

    [Fact]
    public void WrongLengthsAreRefusedAndChangeNothing()
    {
        Adam optimizer = Trained(new Adam(8));
        float[] p = new float[8];
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer.Step(p, new float[7]));
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer.Step(new float[9], new float[9]));
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer.Step(new Half[8], new Half[7]));
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer.Step(new BFloat16[7], new BFloat16[7]));
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer.Step(new float[8], new BFloat16[9]));
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer.Step(new float[8], new Half[0]));
        Assert.All(p, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void OverlappingParametersAndGradientsAreRefused()
    {
        Adam optimizer = Trained(new Adam(8));
        float[] buffer = TrainingTestData.Random(new Random(1), 16);
        float[] copy = (float[])buffer.Clone();
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer.Step(buffer.AsSpan(0, 8), buffer.AsSpan(4, 8)));
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer.Step(buffer.AsSpan(0, 8), buffer.AsSpan(0, 8)));
        Assert.Equal(copy, buffer);
    }

    [Fact]
    public void ZeroLengthOptimizersStep()
    {
        var empty = new Adam(0);
        empty.Step(Span<float>.Empty, ReadOnlySpan<float>.Empty);
        Assert.Equal(1, empty.StepCount);
        var grouped = new Adam(new ParameterLayout([0, 0], [3]));
        float[] shared = new float[4];
        Memory<float>[] p = [shared.AsMemory(0, 0), shared.AsMemory(0, 0), shared.AsMemory(0, 3)];
        ReadOnlyMemory<float>[] g = [shared.AsMemory(1, 0), shared.AsMemory(2, 0), new float[] { 1, 2, 3 }];
        grouped.Step(p, g); // empty tensors share no element with anything, wherever they point
        Assert.Equal(1, grouped.StepCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(-1));
    }

    [Fact]
    public void EmptyOrBadLayoutsAreRefused()
    {
        Assert.ThrowsAny<ArgumentException>(() => new ParameterLayout());
        Assert.ThrowsAny<ArgumentException>(() => new ParameterLayout([-1]));
        Assert.ThrowsAny<ArgumentException>(() => new ParameterLayout(null!));
        Assert.ThrowsAny<ArgumentException>(() => new ParameterLayout([1], null!));
        Assert.ThrowsAny<ArgumentException>(() => new ParameterLayout([int.MaxValue, int.MaxValue]));
    }

    [Fact]
    public void WrongTensorCountsAreRefused()
    {
        var optimizer = Trained(new Adam(new ParameterLayout([2, 3])));
        float[][] p = [new float[2], new float[3]];
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer.Step(TrainingTestData.AsMemory(p[..1]), TrainingTestData.AsReadOnly(p[..1])));
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer.Step(TrainingTestData.AsMemory([new float[2], new float[4]]), TrainingTestData.AsReadOnly([new float[2], new float[4]])));
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer.Step(TrainingTestData.AsMemory(p), TrainingTestData.AsReadOnly([new float[2], new float[3], new float[1]])));
    }

    [Fact]
    public void UnknownNamesAreRefused()
    {
        Adam optimizer = Trained(new Adam(4));
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer["Nope"] = 1);
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer.SetSchedule("Nope", Schedule.Constant(1)));
        AssertRefusedAndUnchanged<ArgumentException>(optimizer, () => optimizer.GetState("Nope"));
        AssertRefusedAndUnchanged<ArgumentOutOfRangeException>(optimizer, () => optimizer.GetState("FirstMoment", 1));
        AssertRefusedAndUnchanged<ArgumentOutOfRangeException>(optimizer, () => optimizer.ChangeStatePrecision((StatePrecision)7));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(1e300)]
    [InlineData(-1.0)]
    public void BadHyperparametersAreRefusedEverywhere(double value)
    {
        Adam optimizer = Trained(new Adam(new ParameterLayout([3], [2])));
        AssertRefusedAndUnchanged<ArgumentOutOfRangeException>(optimizer, () => optimizer.LearningRate = value);
        AssertRefusedAndUnchanged<ArgumentOutOfRangeException>(optimizer, () => optimizer["Beta2"] = value);
        AssertRefusedAndUnchanged<ArgumentOutOfRangeException>(optimizer, () => optimizer.Groups[1]["Epsilon"] = value);
    }

    /// <summary>A schedule written by a user that throws at one step.</summary>
    private sealed class Failing(long at) : Schedule
    {
        public override double ValueAt(long step) => step == at ? throw new InvalidOperationException("bad step") : 0.01;
    }

    [Fact]
    public void AScheduleThatThrowsLeavesTheStepUntaken()
    {
        Adam optimizer = Trained(new Adam(new ParameterLayout([3], [5])), steps: 0);
        optimizer.SetSchedule("LearningRate", new Failing(2));
        float[][] p = [new float[3], new float[5]];
        float[][] g = [[1, 2, 3], [1, 2, 3, 4, 5]];
        optimizer.Step(TrainingTestData.AsMemory(p), TrainingTestData.AsReadOnly(g));
        optimizer.Step(TrainingTestData.AsMemory(p), TrainingTestData.AsReadOnly(g));
        float[][] before = TrainingTestData.Clone(p);
        AssertRefusedAndUnchanged<InvalidOperationException>(optimizer, () => optimizer.Step(TrainingTestData.AsMemory(p), TrainingTestData.AsReadOnly(g)));
        Assert.Equal(before, p);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(1e300)]
    [InlineData(-0.5)]
    public void ScheduleValuesOutOfRangeAreRefusedAtTheStep(double value)
    {
        // The schedule, not an argument, is at fault: InvalidOperationException (as Float32RangeTests). A schedule of
        // the user's own: the factories refuse NaN where it is given.
        Adam optimizer = Trained(new Adam(6));
        optimizer.SetSchedule("Beta1", new FixedSchedule(value));
        float[] p = new float[6];
        AssertRefusedAndUnchanged<InvalidOperationException>(optimizer, () => optimizer.Step(p, new float[6]));
        Assert.All(p, v => Assert.Equal(0f, v));
    }

    /// <summary>A user's schedule that gives the same value at every step, whatever it is.</summary>
    private sealed class FixedSchedule(double value) : Schedule
    {
        public override double ValueAt(long step) => value;
    }

    [Fact]
    public void StepOptionsRefuseEdgeValues()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions { MaxDegreeOfParallelism = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions { MaxDegreeOfParallelism = -2 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions { MaxGradientNorm = double.NaN });
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions { MaxGradientNorm = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions { GradientScale = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions { GradientScale = double.NaN });
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions { GradientScale = 1e-50 });
    }

    [Fact]
    public void HugeDegreeOfParallelismStillSteps()
    {
        Adam a = new(1000), b = new(1000);
        float[] p1 = TrainingTestData.Random(new Random(5), 1000), p2 = (float[])p1.Clone();
        float[] g = TrainingTestData.Random(new Random(6), 1000);
        a.Step(p1, g, new StepOptions { MaxDegreeOfParallelism = int.MaxValue });
        b.Step(p2, g);
        Assert.Equal(p2, p1);
    }

    // ---- Schedules ----

    [Fact]
    public void ScheduleFactoriesRefuseBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Cosine(0.1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Linear(0.1, 0, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Step(0.1, 0, 0.5));
        Assert.Throws<ArgumentException>(() => Schedule.MultiStep(0.1, [5, 5], 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.InverseTime(0.1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.OneCycle(0.1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.OneCycle(0.1, 100, warmupFraction: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Constant(1).WithWarmup(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Constant(1).Then(-1, Schedule.Constant(2)));
        Assert.Throws<ArgumentNullException>(() => Schedule.Constant(1).Then(1, null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Constant(1).ValueAt(-1));
    }

    [Fact]
    public void OneCycleRefusesAnUndefinedAnnealStrategy()
    {
        // (AnnealStrategy)9 used to anneal linearly without a word.
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.OneCycle(0.1, 100, anneal: (AnnealStrategy)9));
        Assert.Equal("anneal", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.OneCycleThrough(0.01, 0.1, 0.001, 100, 0.3, (AnnealStrategy)(-1)));
    }
}

/// <summary>
/// Per-step scalars (computed in double on the host from valid hyperparameters, then rounded to float32) that float32
/// cannot hold. Issue 15 asks the step engine (wt/engine) to refuse them before anything is written.
/// </summary>
public sealed class OutsideReviewPerStepScalarTests
{

    private static void AssertRefusedBeforeWriting(Optimizer optimizer, int length)
    {
        float[] p = [.. Enumerable.Range(1, length).Select(i => (float)i)];
        float[] g = [.. Enumerable.Range(1, length).Select(i => 0.5f * i)];
        float[] before = (float[])p.Clone();
        Exception e = Assert.ThrowsAny<Exception>(() => optimizer.Step(p, g));
        Assert.True(e is ArgumentOutOfRangeException or InvalidOperationException, e.ToString());
        Assert.Equal(before, p);
        Assert.Equal(0, optimizer.StepCount);
    }

    [Fact]
    public void DecoupledDecayFactorThatOverflowsIsRefused() =>
        // 1 − η·λ = 1 − 3e38·3e38 is finite in double, −∞ in float32: p·(1 − ηλ) made every parameter −∞.
        AssertRefusedBeforeWriting(new AdamW(8) { LearningRate = 3e38, WeightDecay = 3e38 }, 8);

    [Fact]
    public void ExpressionStepScalarThatIsInfiniteAtTheFirstStepIsRefused() =>
        // k = t − 1 is 0 at t = 1, so the hoisted 1/k is ∞.
        AssertRefusedBeforeWriting(new DivideByStepMinusOne(8), 8);
}

[Optimizer]
[StepScalar("k", "t - 1")]
[Update("p = p - g / k")]
public sealed partial class DivideByStepMinusOne;

[Optimizer]
[Hyperparameter("Lr", 0.1)]
[State("m")]
[Update("m = 0.5 * m + g")]
[Update("p = p - Lr * m")]
public sealed partial class SameRuleFirst;

[Optimizer]
[Hyperparameter("Lr", 0.1)]
[State("m")]
[Update("m = (0.5 * m) + g")]
[Update("p = p - (Lr * m)")]
public sealed partial class SameRuleSecond;
