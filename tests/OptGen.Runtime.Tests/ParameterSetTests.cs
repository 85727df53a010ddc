using System;
using System.Linq;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>One optimizer over many tensors in groups: against the float64 reference, thread counts, bad input.</summary>
public sealed class ParameterSetTests
{
    private static readonly int[] Group0 = [33, 1025, 0, 16];
    private static readonly int[] Group1 = [7, 300, 1];

    private static AdamW TwoGroupAdamW()
    {
        var optimizer = new AdamW(new ParameterLayout(Group0, Group1)) { LearningRate = 1e-2, WeightDecay = 0.1 };
        optimizer.Groups[1]["LearningRate"] = 3e-3;
        optimizer.Groups[1]["WeightDecay"] = 0;
        optimizer.Groups[1]["Beta2"] = 0.99;
        return optimizer;
    }

    [Fact]
    public void GroupsUseTheirOwnHyperparametersAgainstTheFloat64Reference()
    {
        AdamW optimizer = TwoGroupAdamW();
        int[] lengths = [.. Group0, .. Group1];
        var random = new Random(7);
        float[][] p = Tensors(random, lengths);
        float[][] expected = Clone(p);
        Reference[] references = lengths.Select((n, j) => j < Group0.Length
            ? (Reference)new AdamReference(n, 1e-2, 0.9, 0.999, 1e-8, wd: 0.1, decoupled: true)
            : new AdamReference(n, 3e-3, 0.9, 0.99, 1e-8, wd: 0, decoupled: true)).ToArray();

        for (int t = 1; t <= 30; t++)
        {
            float[][] g = Tensors(random, lengths);
            StepResult result = optimizer.Step(AsMemory(p), AsReadOnly(g));
            Assert.False(result.Skipped);
            Assert.Equal(t, result.StepCount);
            for (int j = 0; j < lengths.Length; j++)
            {
                references[j].Step(expected[j], g[j], t);
                NumericalTests.AssertClose($"tensor {j}", lengths[j], t, expected[j], p[j]);
            }
        }

        Assert.Equal(1e-2, optimizer.LearningRate);
        Assert.Equal(3e-3, optimizer.Groups[1]["LearningRate"]);
    }

    [Fact]
    public void ManyTensorsAreBitIdenticalToOneOptimizerPerTensor()
    {
        int[] lengths = [1, 15, 16, 17, 100, 1025, 3];
        var set = new Adam(new ParameterLayout(lengths)) { LearningRate = 1e-2, WeightDecay = 0.01 };
        Adam[] singles = lengths.Select(n => new Adam(n) { LearningRate = 1e-2, WeightDecay = 0.01 }).ToArray();
        var random = new Random(3);
        float[][] p = Tensors(random, lengths);
        float[][] q = Clone(p);
        for (int t = 0; t < 10; t++)
        {
            float[][] g = Tensors(random, lengths);
            set.Step(AsMemory(p), AsReadOnly(g));
            for (int j = 0; j < lengths.Length; j++)
            {
                singles[j].Step(q[j], g[j]);
            }
        }

        for (int j = 0; j < lengths.Length; j++)
        {
            AssertBitwiseEqual(q[j], p[j], $"parameters of tensor {j}");
            AssertBitwiseEqual(singles[j].FirstMoment, set.GetState("FirstMoment", j), $"m of tensor {j}");
            AssertBitwiseEqual(singles[j].SecondMoment, set.GetState("SecondMoment", j), $"v of tensor {j}");
        }
    }

    [Fact]
    public void ArenaAndPerTensorBuffersGiveTheSameBits()
    {
        var layout = new ParameterLayout(Group0, Group1);
        AdamW a = TwoGroupAdamW(), b = TwoGroupAdamW();
        var random = new Random(11);
        float[] arena = Random(random, layout.TotalLength);
        float[][] tensors = Enumerable.Range(0, layout.TensorCount)
            .Select(j => arena.AsSpan(layout.ArenaOffsetOf(j), layout.LengthOf(j)).ToArray()).ToArray();
        for (int t = 0; t < 5; t++)
        {
            float[] gradientArena = Random(random, layout.TotalLength);
            float[][] gradients = Enumerable.Range(0, layout.TensorCount)
                .Select(j => gradientArena.AsSpan(layout.ArenaOffsetOf(j), layout.LengthOf(j)).ToArray()).ToArray();
            a.Step(arena, gradientArena);
            b.Step(AsMemory(tensors), AsReadOnly(gradients));
        }

        for (int j = 0; j < layout.TensorCount; j++)
        {
            AssertBitwiseEqual(tensors[j], arena.AsSpan(layout.ArenaOffsetOf(j), layout.LengthOf(j)), $"tensor {j}");
        }
    }

    [Fact]
    public void ResultsDoNotDependOnTheThreadCount()
    {
        // Several pieces per tensor (16384 elements each) and enough elements to go parallel.
        int[] lengths = [40_000, 17, 100_003, 33, 16_384, 70_001];
        var layout = new ParameterLayout(lengths[..3], lengths[3..]);
        float[][] reference = [];
        float[][] referenceState = [];
        double[] referenceNorms = [];
        foreach (int threads in new[] { 1, 2, 3, 8 })
        {
            var optimizer = new Adam(layout) { LearningRate = 1e-2 };
            optimizer.Groups[1]["WeightDecay"] = 0.1;
            var options = new StepOptions { MaxDegreeOfParallelism = threads, MaxGradientNorm = 300, GradientScale = 0.5 };
            var random = new Random(5);
            float[][] p = Tensors(random, lengths);
            double[] norms = new double[4];
            for (int t = 0; t < norms.Length; t++)
            {
                float[][] g = Tensors(random, lengths, scale: 2);
                norms[t] = optimizer.Step(AsMemory(p), AsReadOnly(g), options).GradientNorm;
            }

            if (threads == 1)
            {
                (reference, referenceState, referenceNorms) = (p, StateOf(optimizer), norms);
                Assert.True(norms.All(n => n > 300), "the test should clip");
                continue;
            }

            Assert.Equal(referenceNorms, norms);
            for (int j = 0; j < lengths.Length; j++)
            {
                AssertBitwiseEqual(reference[j], p[j], $"{threads} threads, tensor {j}");
            }

            float[][] state = StateOf(optimizer);
            for (int s = 0; s < state.Length; s++)
            {
                AssertBitwiseEqual(referenceState[s], state[s], $"{threads} threads, state {s}");
            }
        }
    }

    [Fact]
    public void SingleTensorApiStillWorksAndLayoutIsSingle()
    {
        var adam = new Adam(10);
        Assert.Equal(1, adam.Layout.TensorCount);
        Assert.Single(adam.Groups);
        Assert.Equal(10, adam.FirstMoment.Length);
        adam.Groups[0]["LearningRate"] = 0.5;
        Assert.Equal(0.5, adam.LearningRate);
    }

    [Fact]
    public void OptimizerLevelSetterWritesEveryGroup()
    {
        AdamW optimizer = TwoGroupAdamW();
        optimizer.LearningRate = 0.25;
        Assert.All(optimizer.Groups, g => Assert.Equal(0.25, g["LearningRate"]));
        Assert.Equal(0.1, optimizer.Groups[0]["WeightDecay"]);
        Assert.Equal(0.0, optimizer.Groups[1]["WeightDecay"]);
    }

    [Fact]
    public void GroupInitialValuesFillOnlyTheirTensors()
    {
        var layout = new ParameterLayout([5], [3]);
        var adagrad = new MyAdagrad(layout);
        Assert.All(adagrad.GetState("SecondMoment", 0).ToArray(), v => Assert.Equal(0.1f, v));
        Assert.All(adagrad.GetState("SecondMoment", 1).ToArray(), v => Assert.Equal(0.1f, v));
    }

    [Fact]
    public void LayoutRejectsNullEmptyAndNegative()
    {
        Assert.Equal("groups", Assert.Throws<ArgumentNullException>(() => new ParameterLayout(null!)).ParamName);
        Assert.Equal("groups", Assert.Throws<ArgumentNullException>(() => new ParameterLayout([1], null!)).ParamName);
        Assert.Equal("groups", Assert.Throws<ArgumentException>(() => new ParameterLayout()).ParamName);
        Assert.Equal("groups", Assert.Throws<ArgumentException>(() => new ParameterLayout([1], [])).ParamName);
        Assert.Equal("groups", Assert.Throws<ArgumentException>(() => new ParameterLayout([1, -2])).ParamName);
        Assert.Equal("length", Assert.Throws<ArgumentOutOfRangeException>(() => ParameterLayout.Single(-1)).ParamName);
    }

    [Fact]
    public void MismatchedCountsAndLengthsWriteNothing()
    {
        AdamW optimizer = TwoGroupAdamW();
        int[] lengths = [.. Group0, .. Group1];
        var random = new Random(1);
        float[][] p = Tensors(random, lengths);
        float[][] g = Tensors(random, lengths);
        optimizer.Step(AsMemory(p), AsReadOnly(g));
        var before = Snapshot.Of(optimizer);
        float[][] pBefore = Clone(p);

        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => optimizer.Step(AsMemory(p[1..]), AsReadOnly(g))).ParamName);
        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => optimizer.Step(AsMemory(p), AsReadOnly(g[1..]))).ParamName);
        float[][] shortGradient = Clone(g);
        shortGradient[4] = new float[6];
        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => optimizer.Step(AsMemory(p), AsReadOnly(shortGradient))).ParamName);
        float[][] longParameter = Clone(p);
        longParameter[0] = new float[34];
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => optimizer.Step(AsMemory(longParameter), AsReadOnly(g))).ParamName);
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => optimizer.Step(new float[optimizer.Length - 1], new float[optimizer.Length], null)).ParamName);
        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => optimizer.Step(new float[optimizer.Length], new float[optimizer.Length + 1], null)).ParamName);

        AssertUnchanged(before, optimizer);
        for (int j = 0; j < p.Length; j++)
        {
            AssertBitwiseEqual(pBefore[j], p[j], $"tensor {j}");
        }
    }

    [Fact]
    public void OverlappingBuffersAreRejectedBeforeWriting()
    {
        var optimizer = new Sgd(new ParameterLayout([8, 8])) { LearningRate = 0.1 };
        float[] shared = Enumerable.Range(0, 20).Select(i => (float)i).ToArray();
        float[] copy = (float[])shared.Clone();
        float[] g0 = new float[8], g1 = new float[8];
        Array.Fill(g0, 1f);
        Array.Fill(g1, 1f);

        // Two parameter tensors sharing elements 4..7.
        var e1 = Assert.Throws<ArgumentException>(() => optimizer.Step([shared.AsMemory(0, 8), shared.AsMemory(4, 8)], [g0, g1]));
        Assert.Equal("parameters", e1.ParamName);

        // A gradient inside another tensor's parameters.
        var e2 = Assert.Throws<ArgumentException>(() => optimizer.Step([shared.AsMemory(0, 8), shared.AsMemory(8, 8)], [g0, shared.AsMemory(4, 8)]));
        Assert.Equal("gradients", e2.ParamName);

        // The same gradients for two tensors are fine (read-only).
        optimizer.Step([new float[8], new float[8]], [g0, g0]);

        Assert.Equal(copy, shared);
        Assert.Equal(1, optimizer.StepCount);

        // Arena overlap.
        float[] arena = new float[24];
        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => optimizer.Step(arena.AsSpan(0, 16), arena.AsSpan(8, 16), null)).ParamName);
    }

    [Fact]
    public void NegativeLearningRateInAGroupIsRejected()
    {
        AdamW optimizer = TwoGroupAdamW();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.Groups[1]["LearningRate"] = -1e-3);
        Assert.Equal("LearningRate", e.ParamName);
        Assert.Equal(3e-3, optimizer.Groups[1]["LearningRate"]);
        Assert.Equal("hyperparameter", Assert.Throws<ArgumentException>(() => optimizer.Groups[0]["Nope"] = 1).ParamName);
    }

    [Fact]
    public void BadStepOptionsNameTheirProperty()
    {
        Assert.Equal("GradientScale", Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions { GradientScale = 0 }).ParamName);
        Assert.Equal("GradientScale", Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions { GradientScale = double.NaN }).ParamName);
        Assert.Equal("MaxGradientNorm", Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions { MaxGradientNorm = -1 }).ParamName);
        Assert.Equal("MaxDegreeOfParallelism", Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions { MaxDegreeOfParallelism = 0 }).ParamName);
    }
}
