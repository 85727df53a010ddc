using System;
using System.IO;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Hyperparameters in per-example units against float64 references written from the lecture's formulas: at batch
/// size B a rule declared per example is exactly the rule declared per step with η = B·η′ (or √B·η′) and
/// N = max(1, N′/B), β = 1 − 1/N, for several B and for a batch size that changes between steps.
/// </summary>
public sealed class BatchSizeTests
{
    private static readonly int[] Lengths = { 1, 33, 1025 };

    // Constant batch sizes, one larger than every length (N = 1, β = 0), and a batch size that changes every step.
    public static TheoryData<string> Schedules => new() { "1", "4", "16", "64", "5000", "changing" };

    private static int BatchAt(string schedule, int t) => schedule == "changing" ? new[] { 1, 8, 3, 64, 2, 5000, 16, 1 }[t % 8] : int.Parse(schedule, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The per-step value of a length N′ in examples: N = max(1, N′/B), β = 1 − 1/N, from the lecture's slide.</summary>
    internal static double StepDecay(double lengthInExamples, int batch) => 1 - (1 / Math.Max(1, lengthInExamples / batch));

    [Theory]
    [MemberData(nameof(Schedules))]
    public void PerExampleAdamIsAdamWithScaledRateAndLengths(string schedule)
    {
        foreach (int n in Lengths)
        {
            var perExample = new PerExampleAdam(n);
            var perStep = new PerStepAdam(n);
            float[] p = Data.Vector(n, 1), q = (float[])p.Clone(), r = (float[])p.Clone();
            var reference = new double[2][] { new double[n], new double[n] };
            for (int t = 1; t <= 60; t++)
            {
                int batch = BatchAt(schedule, t);
                float[] g = Data.Vector(n, 100 + t);
                perExample.BatchSize = batch;
                perExample.Step(p, g);

                perStep.LearningRate = batch * 1e-4;
                perStep.Beta1 = StepDecay(100, batch);
                perStep.Beta2 = StepDecay(1000, batch);
                perStep.Step(q, g);

                AdamStep(r, g, t, batch * 1e-4, StepDecay(100, batch), StepDecay(1000, batch), 1e-8, reference[0], reference[1]);
                NumericalTests.AssertClose($"per-example Adam vs float64, B schedule {schedule}", n, t, r, p);
                NumericalTests.AssertClose($"per-example Adam vs per-step Adam, B schedule {schedule}", n, t, q, p);
            }

            Assert.Equal(60, perExample.StepCount);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(64)]
    public void SquareRootScalingIsAdamAtRootBTimesTheRate(int batch)
    {
        const int n = 257;
        var optimizer = new SquareRootAdam(n) { BatchSize = batch };
        float[] p = Data.Vector(n, 2), r = (float[])p.Clone();
        double[] m = new double[n], v = new double[n];
        for (int t = 1; t <= 40; t++)
        {
            float[] g = Data.Vector(n, 200 + t);
            optimizer.Step(p, g);
            AdamStep(r, g, t, Math.Sqrt(batch) * 1e-3, 0.9, 0.999, 1e-8, m, v);
            NumericalTests.AssertClose($"√B Adam, B = {batch}", n, t, r, p);
        }
    }

    /// <summary>
    /// The lecture's "Putting It Together" at a fixed B: EMA momentum with η = B·η′ and N_g = max(1, N′_g/B) is the
    /// classic form v ← (1 − 1/N_g)·v + (B·η′/N_g)·g, p ← p − v (the reference is written in that form).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(16)]
    [InlineData(64)]
    [InlineData(100)]
    public void PerExampleEmaMomentumIsTheLecturesClassicMomentum(int batch)
    {
        foreach (int n in Lengths)
        {
            var attributes = new PerExampleEmaMomentum(n) { BatchSize = batch };
            var expression = new PerExampleEmaExpression(n) { BatchSize = batch };
            float[] p = Data.Vector(n, 3), q = (float[])p.Clone(), r = (float[])p.Clone();
            double ng = Math.Max(1, 64.0 / batch), eta = batch * 0.01 / ng;
            double[] velocity = new double[n];
            for (int t = 1; t <= 50; t++)
            {
                float[] g = Data.Vector(n, 300 + t);
                attributes.Step(p, g);
                expression.Step(q, g);
                for (int i = 0; i < n; i++)
                {
                    velocity[i] = ((1 - (1 / ng)) * velocity[i]) + (eta * g[i]);
                    r[i] = (float)(r[i] - velocity[i]);
                }

                NumericalTests.AssertClose($"per-example EMA momentum (attributes), B = {batch}", n, t, r, p);
                NumericalTests.AssertClose($"per-example EMA momentum (expression), B = {batch}", n, t, r, q);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Schedules))]
    public void PerExampleHeavyBallScalesItsCoefficientAndRate(string schedule)
    {
        const int n = 129;
        var optimizer = new PerExampleSgdMomentum(n);
        float[] p = Data.Vector(n, 4), r = (float[])p.Clone();
        double[] buffer = new double[n];
        for (int t = 1; t <= 40; t++)
        {
            int batch = BatchAt(schedule, t);
            float[] g = Data.Vector(n, 400 + t);
            optimizer.Step(p, g, new StepOptions { BatchSize = batch });
            double lr = batch * 0.01, mu = StepDecay(32, batch);
            for (int i = 0; i < n; i++)
            {
                double grad = g[i] + (0.01 * r[i]);
                buffer[i] = t == 1 ? grad : (mu * buffer[i]) + grad;
                r[i] = (float)(r[i] - (lr * buffer[i]));
            }

            NumericalTests.AssertClose($"per-example heavy ball, B schedule {schedule}", n, t, r, p);
        }

        Assert.Equal(1, optimizer.BatchSize); // StepOptions.BatchSize is for its step only
    }

    [Fact]
    public void StepOptionsBatchSizeIsThePropertyForOneStep()
    {
        const int n = 100;
        var byProperty = new PerExampleAdam(n);
        var byOptions = new PerExampleAdam(n) { BatchSize = 3 };
        float[] p = Data.Vector(n, 5), q = (float[])p.Clone();
        for (int t = 1; t <= 10; t++)
        {
            float[] g = Data.Vector(n, 500 + t);
            byProperty.BatchSize = 10 + t;
            byProperty.Step(p, g);
            byOptions.Step(q, g, new StepOptions { BatchSize = 10 + t });
            Assert.Equal(p, q);
        }

        Assert.Equal(3, byOptions.BatchSize);
    }

    [Fact]
    public void RulesWithoutPerExampleUnitsIgnoreTheBatchSize()
    {
        const int n = 65;
        var plain = new PerStepAdam(n);
        var batched = new PerStepAdam(n) { BatchSize = 64 };
        float[] p = Data.Vector(n, 6), q = (float[])p.Clone();
        for (int t = 1; t <= 5; t++)
        {
            float[] g = Data.Vector(n, 600 + t);
            plain.Step(p, g);
            batched.Step(q, g);
        }

        Assert.Equal(p, q);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void AnInvalidBatchSizeIsRefusedByName(int value)
    {
        var optimizer = new PerExampleAdam(4) { BatchSize = 5 };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.BatchSize = value);
        Assert.Equal("BatchSize", error.ParamName);
        Assert.Equal(5, optimizer.BatchSize);
        if (value != 0)
        {
            Assert.Equal("BatchSize", Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions { BatchSize = value }).ParamName);
        }
    }

    [Fact]
    public void ABatchSizeThatOverflowsAPerStepScalarWritesNothing()
    {
        const int n = 40;
        var optimizer = new PerExampleAdam(n) { LearningRate = 1e30 };
        float[] p = Data.Vector(n, 7), g = Data.Vector(n, 8);
        optimizer.BatchSize = 2;
        optimizer.Step(p, g);
        float[] before = (float[])p.Clone();
        float[] state = optimizer.FirstMoment.ToArray();

        // η = B·η′ = 1e39 is not finite in float32: refused before any element is written.
        optimizer.BatchSize = 1_000_000_000;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.Step(p, g));
        Assert.Contains("StepSize", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, p);
        Assert.Equal(state, optimizer.FirstMoment.ToArray());
        Assert.Equal(1, optimizer.StepCount);
    }

    [Fact]
    public void TheBatchSizeIsCheckpointedAndOneKeepsTheOldFormat()
    {
        const int n = 50;
        var saved = new PerExampleAdam(n) { BatchSize = 7 };
        float[] p = Data.Vector(n, 9);
        saved.Step(p, Data.Vector(n, 10));
        var stream = new MemoryStream();
        saved.SaveCheckpoint(stream);

        var loaded = new PerExampleAdam(n);
        stream.Position = 0;
        loaded.LoadCheckpoint(stream);
        Assert.Equal(7, loaded.BatchSize);

        // B = 1 writes no batch-size field: the file is byte for byte what a build without BatchSize wrote.
        var one = new PerExampleAdam(n);
        var oneStream = new MemoryStream();
        one.SaveCheckpoint(oneStream);
        loaded.BatchSize = 1;
        var again = new MemoryStream();
        loaded.SaveCheckpoint(again);
        Assert.Equal(stream.Length - 4, again.Length);
        var back = new PerExampleAdam(n) { BatchSize = 9 };
        oneStream.Position = 0;
        back.LoadCheckpoint(oneStream);
        Assert.Equal(1, back.BatchSize);
    }

    [Fact]
    public void ACorruptBatchSizeIsRefusedAndChangesNothing()
    {
        const int n = 20;
        var saved = new PerExampleAdam(n) { BatchSize = 7 };
        var stream = new MemoryStream();
        saved.SaveCheckpoint(stream);
        byte[] bytes = stream.ToArray();

        // magic, version, flags, size, name, rule id, step count, then the batch size.
        int offset = 8 + 4 + 4 + 8;
        offset += 4 + BitConverter.ToInt32(bytes, offset);
        offset += 4 + BitConverter.ToInt32(bytes, offset);
        offset += 8;
        Assert.Equal(7u, BitConverter.ToUInt32(bytes, offset));
        BitConverter.GetBytes(1u).CopyTo(bytes, offset);
        CheckpointImage.Reseal(bytes);

        var target = new PerExampleAdam(n) { BatchSize = 3 };
        var error = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new MemoryStream(bytes)));
        Assert.Equal("batchSize", error.Field);
        Assert.Equal(3, target.BatchSize);
    }

    /// <summary>One float64 Adam step (PyTorch's form, ε after the correction) with this step's η, β₁, β₂.</summary>
    internal static void AdamStep(float[] p, float[] g, int t, double lr, double b1, double b2, double eps, double[] m, double[] v, float[]? squares = null)
    {
        double bc1 = 1 - Math.Pow(b1, t), bc2 = 1 - Math.Pow(b2, t);
        for (int i = 0; i < p.Length; i++)
        {
            double square = squares is null ? (double)g[i] * g[i] : squares[i];
            m[i] = (b1 * m[i]) + ((1 - b1) * g[i]);
            v[i] = (b2 * v[i]) + ((1 - b2) * square);
            p[i] = (float)(p[i] - (lr * (m[i] / bc1) / (Math.Sqrt(v[i] / bc2) + eps)));
        }
    }

    /// <summary>Deterministic test vectors.</summary>
    internal static class Data
    {
        public static float[] Vector(int n, int seed)
        {
            var random = new Random(seed);
            var values = new float[n];
            for (int i = 0; i < n; i++)
            {
                values[i] = (float)((random.NextDouble() * 2) - 1);
            }

            return values;
        }
    }
}
