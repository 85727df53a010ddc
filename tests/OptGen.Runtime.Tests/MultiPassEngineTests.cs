using System;
using System.Linq;
using Half = System.Half;
using OptGen.Kernels;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// The multi-pass engine under the catalog's rules with reductions (MultiPassOptimizer): results independent of
/// the thread count, no allocation after warm-up, misuse refused with nothing written, schedule-free's exact
/// Eval/Train swap, and the rules the GPU backend does not run refused there. (Each rule against its float64
/// reference: tests/OptGen.Runtime.Tests/Reductions and the conformance cases.)
/// </summary>
[Collection(nameof(AllocationCollection))]
public sealed class MultiPassEngineTests
{
    // Two groups, a matrix, a vector, a stack of matrices and a short tail: 280 578 elements, so ThreadsFor gives
    // 2 threads at limit 2, and every tensor spans several work units.
    private static readonly int[][] Group0 = [[400, 500], [70_001]];
    private static readonly int[][] Group1 = [[4, 33, 80], [17]];

    public static TheoryData<string> Rules() => new() { "lamb", "lars", "adam_mini", "adam_mini_block", "adafactor", "adamw_schedulefree" };

    private static ParameterLayout Layout() => ParameterLayout.FromShapes(Group0, Group1);

    private static MultiPassOptimizer Create(string rule, ParameterLayout layout) => rule switch
    {
        "lamb" => new Lamb(layout) { WeightDecay = 0.01 },
        "lars" => new Lars(layout) { WeightDecay = 1e-4 },
        "adam_mini" => new AdamMini(layout) { WeightDecay = 0.1 },
        "adam_mini_block" => new AdamMini(layout) { BlockSize = 1000 },
        "adafactor" => new Adafactor(layout) { WeightDecay = 0.01 },
        "adamw_schedulefree" => new AdamWScheduleFree(layout) { WarmupSteps = 2, WeightDecay = 0.01 },
        _ => throw new ArgumentException(rule, nameof(rule)),
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void ResultsAreBitIdenticalForEveryThreadCount(string rule)
    {
        ParameterLayout layout = Layout();
        Assert.Equal(2, ParallelUpdate.ThreadsFor((nuint)layout.TotalLength, 2));
        var random = new Random(11);
        float[] p0 = Random(random, layout.TotalLength);
        float[][] grads = Enumerable.Range(0, 3).Select(_ => Random(random, layout.TotalLength, 0.1)).ToArray();
        float[]? expected = null;
        float[][]? expectedState = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            MultiPassOptimizer optimizer = Create(rule, layout);
            optimizer.MaxDegreeOfParallelism = threads;
            float[] p = (float[])p0.Clone();
            foreach (float[] g in grads)
            {
                optimizer.Step(p, g);
            }

            Assert.DoesNotContain(p, x => !float.IsFinite(x));
            Assert.NotEqual(p0, p);
            if (expected is null)
            {
                expected = p;
                expectedState = StateOf(optimizer);
                continue;
            }

            AssertBitwiseEqual(expected, p, $"{rule} parameters at {threads} threads");
            float[][] state = StateOf(optimizer);
            for (int k = 0; k < state.Length; k++)
            {
                AssertBitwiseEqual(expectedState![k], state[k], $"{rule} state {k} at {threads} threads");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void WarmedUpStepAllocatesNothing(string rule)
    {
        ParameterLayout layout = Layout();
        var random = new Random(3);
        float[] p = Random(random, layout.TotalLength);
        float[] g = Random(random, layout.TotalLength, 1e-3);
        foreach (int threads in new[] { 1, 2 })
        {
            MultiPassOptimizer optimizer = Create(rule, layout);
            optimizer.MaxDegreeOfParallelism = threads;
            for (int s = 0; s < 6; s++)
            {
                optimizer.Step(p, g);
            }

            long leastHere = long.MaxValue, leastAll = long.MaxValue;
            for (int attempt = 0; attempt < 25 && (leastHere | leastAll) != 0; attempt++)
            {
                long here = GC.GetAllocatedBytesForCurrentThread();
                long all = GC.GetTotalAllocatedBytes(precise: true);
                optimizer.Step(p, g);
                leastAll = Math.Min(leastAll, GC.GetTotalAllocatedBytes(precise: true) - all);
                leastHere = Math.Min(leastHere, GC.GetAllocatedBytesForCurrentThread() - here);
            }

            Assert.Equal(0, leastHere);
            Assert.Equal(0, leastAll);
        }
    }

    [Fact]
    public void AStepThatFailsValidationWritesNothing()
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[6, 5], [7]]);
        var adafactor = new Adafactor(layout);
        float[] p = Random(new Random(1), layout.TotalLength);
        float[] g = Random(new Random(2), layout.TotalLength);
        adafactor.Step(p, g);
        float[] before = (float[])p.Clone();
        float[][] stateBefore = StateOf(adafactor);

        // ε₁ = 1e30 is in range, but ε₁² is not finite in float32: the step refuses it before writing.
        adafactor.Epsilon1 = 1e30;
        ArgumentOutOfRangeException error = Assert.Throws<ArgumentOutOfRangeException>(() => adafactor.Step(p, g));
        Assert.Equal("Epsilon1Squared", error.ParamName);
        AssertBitwiseEqual(before, p, "parameters");
        Assert.Equal(1, adafactor.StepCount);
        float[][] stateAfter = StateOf(adafactor);
        for (int k = 0; k < stateAfter.Length; k++)
        {
            AssertBitwiseEqual(stateBefore[k], stateAfter[k], $"state {k}");
        }

        // A block of 2.5 elements is refused when it is set (HyperparameterRange.Count), on the property, the
        // indexer and a group alike, and the old value stays.
        var mini = new AdamMini(layout);
        Assert.Equal("BlockSize", Assert.Throws<ArgumentOutOfRangeException>(() => mini.BlockSize = 2.5).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => mini["BlockSize"] = 2.5);
        Assert.Throws<ArgumentOutOfRangeException>(() => mini.Groups[0]["BlockSize"] = 2.5);
        Assert.Equal(0, mini.BlockSize);
        mini.Step(p, g);
        Assert.Equal(1, mini.StepCount);
    }

    [Fact]
    public void ScheduleFreeEvalAndTrainSwapExactlyAndEvalModeRefusesSteps()
    {
        var layout = new ParameterLayout([40, 33], [17]);
        var optimizer = new AdamWScheduleFree(layout) { WarmupSteps = 2 };
        optimizer.Groups[1]["Beta1"] = 0.8;
        var random = new Random(5);
        float[] p = Random(random, layout.TotalLength);
        float[] g = Random(random, layout.TotalLength);

        // Before the first step x = y: nothing to swap.
        float[] initial = (float[])p.Clone();
        optimizer.Eval(p);
        AssertBitwiseEqual(initial, p, "eval before any step");
        Assert.True(optimizer.IsEvalMode);
        optimizer.Train(p);
        Assert.False(optimizer.IsEvalMode);

        for (int s = 0; s < 3; s++)
        {
            optimizer.Step(p, g);
        }

        float[] y = (float[])p.Clone();
        optimizer.Eval(p);
        float[] z = optimizer.Z.ToArray();
        for (int j = 0; j < layout.TensorCount; j++)
        {
            double beta1 = layout.GroupOf(j) == 0 ? 0.9 : 0.8;
            for (int i = 0; i < layout.LengthOf(j); i++)
            {
                int a = layout.ArenaOffsetOf(j) + i;
                double x = y[a] + ((1 - (1 / beta1)) * (z[(j == 0 ? 0 : j == 1 ? 48 : 96) + i] - y[a]));
                Assert.True(Math.Abs(p[a] - x) <= 1e-6 * Math.Max(1, Math.Abs(x)), $"x at {a}: {p[a]} vs {x}");
            }
        }

        // A step in eval mode is refused before anything is written.
        float[] x0 = (float[])p.Clone();
        Assert.Throws<InvalidOperationException>(() => optimizer.Step(p, g));
        AssertBitwiseEqual(x0, p, "parameters after the refused step");
        Assert.Equal(3, optimizer.StepCount);
        optimizer.Eval(p);
        AssertBitwiseEqual(x0, p, "a second Eval changes nothing");

        optimizer.Train(p);
        AssertBitwiseEqual(y, p, "Train restores y bit for bit");
        Assert.Throws<ArgumentException>(() => optimizer.Eval(new float[3]));
    }

    [Fact]
    public void AdafactorReportsFactoredStateSize()
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[300, 200], [64], [2, 3, 5]]);
        Assert.Equal(300 + 200 + 64 + (2 * (3 + 5)), Adafactor.StateFloats(layout));
        Assert.Equal((1, 300, 200), layout.MatrixShapeOf(0));
        Assert.Equal((2, 3, 5), layout.MatrixShapeOf(2));
        Assert.Equal(1, layout.RankOf(1));
        Assert.Equal([2, 3, 5], layout.ShapeOf(2));
        Assert.Throws<ArgumentException>(() => ParameterLayout.FromShapes([[3, -1]]));
        Assert.Throws<ArgumentException>(() => ParameterLayout.FromShapes([[]]));
        Assert.Throws<ArgumentException>(() => ParameterLayout.FromShapes([[65536, 65536]]));
    }
}

/// <summary>The reduction rules through checkpoints and 16-bit storage, against their own float32 path.</summary>
public sealed class MultiPassStorageTests
{
    public static TheoryData<string> Rules() => new() { "lamb", "lars", "adam_mini", "adafactor", "adamw_schedulefree" };

    private static MultiPassOptimizer Create(string rule, ParameterLayout layout) => rule switch
    {
        "lamb" => new Lamb(layout),
        "lars" => new Lars(layout) { WeightDecay = 1e-3 },
        "adam_mini" => new AdamMini(layout) { WeightDecay = 0.1 },
        "adafactor" => new Adafactor(layout) { WeightDecay = 0.01 },
        "adamw_schedulefree" => new AdamWScheduleFree(layout) { WarmupSteps = 2 },
        _ => throw new ArgumentException(rule, nameof(rule)),
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void ACheckpointResumesBitForBit(string rule)
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[24, 40], [33]], [[3, 7, 5]]);
        var random = new Random(9);
        float[] p = Random(random, layout.TotalLength);
        float[][] grads = Enumerable.Range(0, 5).Select(_ => Random(random, layout.TotalLength, 0.1)).ToArray();
        MultiPassOptimizer original = Create(rule, layout);
        original.Step(p, grads[0]);
        original.Step(p, grads[1]);
        using var checkpoint = new System.IO.MemoryStream();
        original.SaveCheckpoint(checkpoint);
        float[] resumedP = (float[])p.Clone();
        for (int t = 2; t < 5; t++)
        {
            original.Step(p, grads[t]);
        }

        MultiPassOptimizer resumed = Create(rule, layout);
        checkpoint.Position = 0;
        resumed.LoadCheckpoint(checkpoint);
        for (int t = 2; t < 5; t++)
        {
            resumed.Step(resumedP, grads[t]);
        }

        AssertBitwiseEqual(p, resumedP, $"{rule} after resuming");
        Assert.Equal(original.StepCount, resumed.StepCount);
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void SixteenBitParametersAndStateFollowTheFloat32Path(string rule)
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[24, 40], [33]]);
        var random = new Random(4);
        float[] p0 = Random(random, layout.TotalLength);
        float[] g = Random(random, layout.TotalLength, 0.1);
        float[] reference = (float[])p0.Clone();
        MultiPassOptimizer f32 = Create(rule, layout);
        Half[] half = p0.Select(x => (Half)x).ToArray();
        Half[] halfGradients = g.Select(x => (Half)x).ToArray();
        MultiPassOptimizer f16 = Create(rule, layout);
        float[] bf16StateP = (float[])p0.Clone();
        MultiPassOptimizer bf16State = Create(rule, layout);
        bf16State.ChangeStatePrecision(StatePrecision.BFloat16);
        for (int t = 0; t < 3; t++)
        {
            f32.Step(reference, g);
            f16.Step(half, halfGradients);
            bf16State.Step(bf16StateP, g);
        }

        double scale = reference.Max(x => Math.Abs(x));
        for (int i = 0; i < reference.Length; i++)
        {
            Assert.True(Math.Abs((float)half[i] - reference[i]) <= 2e-3 * scale, $"{rule} Half parameters at {i}: {(float)half[i]} vs {reference[i]}");
            Assert.True(Math.Abs(bf16StateP[i] - reference[i]) <= 1e-2 * scale, $"{rule} bfloat16 state at {i}: {bf16StateP[i]} vs {reference[i]}");
        }

        Assert.NotEqual(p0, reference);
    }

}
