using System;
using System.IO;
using System.Linq;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>bfloat16 optimizer state: accuracy against the float64 reference, conversion, threads, checkpoints.</summary>
public sealed class StatePrecisionTests
{
    private static readonly int[] Lengths = [33, 1025, 7, 40_000, 30_000];

    [Fact]
    public void AdamWithBFloat16StateStaysWithinOnePercentOfTheLearningRatePerStep()
    {
        // m and v are rounded to bfloat16 (relative spacing 2⁻⁷) after every step; Adam's step m̂/(√v̂ + ε) then
        // differs from the float64 reference by about 2⁻⁸ relative, so after t steps p may differ by ~ t·η·2⁻⁸.
        // The stated tolerance is |p − p_ref| ≤ 0.01·η·t; the worst measured here is 0.0053·η·t.
        var adam = new Adam(new ParameterLayout(Lengths[..3])) { LearningRate = 1e-2 };
        adam.ChangeStatePrecision(StatePrecision.BFloat16);
        Assert.Equal(StatePrecision.BFloat16, adam.StatePrecision);
        int n = Lengths[..3].Sum();
        var random = new Random(41);
        float[] p = Random(random, n);
        float[] expected = (float[])p.Clone();
        var reference = new AdamReference(n, 1e-2, 0.9, 0.999, 1e-8);
        double worst = 0;
        for (int t = 1; t <= 50; t++)
        {
            float[] g = [.. Random(random, n).Select((x, i) => x + (float)Math.Sin(i))];
            adam.Step(p, g);
            reference.Step(expected, g, t);
            for (int i = 0; i < n; i++)
            {
                double error = Math.Abs(p[i] - expected[i]);
                worst = Math.Max(worst, error / (1e-2 * t));
                Assert.True(error <= 0.01 * 1e-2 * t, $"step {t}, element {i}: {p[i]:R} vs {expected[i]:R}");
            }
        }

        Assert.True(worst > 0, "bfloat16 state should differ from float64 somewhere");
    }

    [Fact]
    public void ConversionRoundsToNearestEvenAndWidensExactly()
    {
        var adam = new Adam(new ParameterLayout([100], [17]));
        var random = new Random(43);
        adam.Step(Random(random, 117), Random(random, 117));
        float[][] before = StateOf(adam);
        adam.ChangeStatePrecision(StatePrecision.BFloat16);
        Assert.Throws<InvalidOperationException>(() => adam.FirstMoment.ToArray());
        float[][] narrowed = StateOf(adam);
        for (int s = 0; s < before.Length; s++)
        {
            Assert.Equal(before[s].Select(x => (float)(BFloat16)x), narrowed[s]);
        }

        adam.ChangeStatePrecision(StatePrecision.Float32);
        float[][] widened = StateOf(adam);
        for (int s = 0; s < before.Length; s++)
        {
            AssertBitwiseEqual(narrowed[s], widened[s], $"state {s}");
        }

        Assert.Equal("precision", Assert.Throws<ArgumentOutOfRangeException>(() => adam.ChangeStatePrecision((StatePrecision)7)).ParamName);
    }

    [Fact]
    public void BFloat16StateDoesNotDependOnThreadsAndResumesFromACheckpoint()
    {
        var layout = new ParameterLayout(Lengths[..2], Lengths[2..]);
        float[][] reference = [];
        foreach (int threads in new[] { 1, 3 })
        {
            var adam = new AdamW(layout);
            adam.ChangeStatePrecision(StatePrecision.BFloat16);
            var random = new Random(47);
            float[][] p = Tensors(random, Lengths);
            var options = new StepOptions { MaxDegreeOfParallelism = threads };
            for (int t = 0; t < 3; t++)
            {
                adam.Step(AsMemory(p), AsReadOnly(Tensors(random, Lengths)), options);
            }

            if (threads == 1)
            {
                reference = p;
                continue;
            }

            for (int j = 0; j < p.Length; j++)
            {
                AssertBitwiseEqual(reference[j], p[j], $"tensor {j}");
            }
        }

        // Checkpoint round trip in bfloat16, and a precision mismatch is rejected.
        var saved = new AdamW(layout);
        saved.ChangeStatePrecision(StatePrecision.BFloat16);
        var data = new Random(53);
        float[][] q = Tensors(data, Lengths);
        saved.Step(AsMemory(q), AsReadOnly(Tensors(data, Lengths)));
        using var stream = new MemoryStream();
        saved.SaveCheckpoint(stream);
        var loaded = new AdamW(layout);
        Assert.Equal(CheckpointError.WrongShape, Assert.Throws<CheckpointException>(() => loaded.LoadCheckpoint(new MemoryStream(stream.ToArray()))).Error);
        Assert.Equal(0, loaded.StepCount);
        loaded.ChangeStatePrecision(StatePrecision.BFloat16);
        loaded.LoadCheckpoint(new MemoryStream(stream.ToArray()));
        float[][] a = StateOf(saved), b = StateOf(loaded);
        for (int s = 0; s < a.Length; s++)
        {
            AssertBitwiseEqual(a[s], b[s], $"state {s}");
        }

        float[][] q2 = Clone(q);
        float[][] g = Tensors(data, Lengths);
        saved.Step(AsMemory(q), AsReadOnly(g));
        loaded.Step(AsMemory(q2), AsReadOnly(g));
        for (int j = 0; j < q.Length; j++)
        {
            AssertBitwiseEqual(q[j], q2[j], $"resumed tensor {j}");
        }
    }
}
