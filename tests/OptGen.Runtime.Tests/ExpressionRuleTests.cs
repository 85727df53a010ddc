using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>
/// The expression-rule catalog (Lion, AdaBelief, Signum, Adan, Adam) against float64 references written from the
/// papers, at lengths 0..256 and 1025 so every SIMD width and the scalar tail run, 100 steps, with the same
/// relative tolerance as <see cref="NumericalTests"/> (Adan: 1e-5, see below); and the expression Adam bit-identical to the building-block Adam.
/// </summary>
public sealed class ExpressionRuleTests
{
    private const int Steps = 100;

    // As NumericalTests: |p − p_ref| ≤ rtol · max(1, max |p_ref|) at every step. Adan rounds p twice per step in
    // float32 (p − η·u, then ÷ (1 + ηλ)), so its accumulated rounding over 100 steps is up to twice that of the
    // single-rounding rules: it gets 1e-5 (5.25e-6 was the largest error seen).
    private const double RelativeTolerance = 5e-6;
    private const double AdanTolerance = 1e-5;

    public static TheoryData<string> Cases => new(Factories.Keys.Order());

    private static readonly Dictionary<string, (Func<int, Optimizer> Create, Func<int, Reference> Reference)> Factories = new()
    {
        ["Lion"] = (n => new Lion(n) { LearningRate = 1e-3, WeightDecay = 0.1 }, n => new LionReference(n, 1e-3, 0.9, 0.99, 0.1)),
        ["Lion (β changed)"] = (n => new Lion(n) { LearningRate = 1e-3, Beta1 = 0.8, Beta2 = 0.9 }, n => new LionReference(n, 1e-3, 0.8, 0.9, 0)),
        ["AdaBelief"] = (n => new AdaBelief(n) { LearningRate = 1e-2, Epsilon = 1e-8 }, n => new AdaBeliefReference(n, 1e-2, 0.9, 0.999, 1e-8)),
        ["Signum"] = (n => new Signum(n) { LearningRate = 1e-3, Momentum = 0.8 }, n => new SignumReference(n, 1e-3, 0.8)),
        ["Adan"] = (n => new Adan(n) { LearningRate = 1e-2, WeightDecay = 0.02 }, n => new AdanReference(n, 1e-2, 0.98, 0.92, 0.99, 1e-8, 0.02)),
        ["Adam (expression)"] = (n => new AdamExpression(n) { LearningRate = 1e-2, WeightDecay = 0.05 }, n => new AdamReference(n, 1e-2, 0.9, 0.999, 1e-8, wd: 0.05)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesFloat64ReferenceAtEveryLength(string name)
    {
        (Func<int, Optimizer> create, Func<int, Reference> reference) = Factories[name];
        foreach (int n in NumericalTests.Lengths)
        {
            var random = new Random(2000 + n);
            float[] p = Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
            float[] expected = (float[])p.Clone();
            Optimizer optimizer = create(n);
            Reference model = reference(n);
            var g = new float[n];
            for (int t = 1; t <= Steps; t++)
            {
                for (int i = 0; i < n; i++)
                {
                    g[i] = i % 7 == 3 ? 0f : (float)(NumericalTests.Gaussian(random) + (0.3 * Math.Sin(i + t)));
                }

                optimizer.Step(p, g);
                model.Step(expected, g, t);
                AssertClose(name, n, t, expected, p, name == "Adan" ? AdanTolerance : RelativeTolerance);
            }
        }
    }

    private static void AssertClose(string name, int n, int t, float[] expected, float[] actual, double tolerance)
    {
        double scale = 1;
        foreach (float e in expected)
        {
            scale = Math.Max(scale, Math.Abs(e));
        }

        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs((double)actual[i] - expected[i]);
            if (!(error <= tolerance * scale))
            {
                Assert.Fail($"{name}: length {n}, step {t}, element {i}: got {actual[i]:R}, reference {expected[i]:R} (error {error:E2} > {tolerance * scale:E2}).");
            }
        }
    }

    [Fact]
    public void ExpressionAdamIsBitIdenticalToTheBuildingBlockAdam()
    {
        foreach (int n in new[] { 1, 3, 4, 7, 8, 15, 16, 31, 33, 64, 100, 1025 })
        {
            var random = new Random(n);
            float[] p1 = Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
            float[] p2 = (float[])p1.Clone();
            var built = new Adam(n) { LearningRate = 3e-2, WeightDecay = 0.01, Beta1 = 0.8, Beta2 = 0.95, Epsilon = 1e-6 };
            var expression = new AdamExpression(n) { LearningRate = 3e-2, WeightDecay = 0.01, Beta1 = 0.8, Beta2 = 0.95, Epsilon = 1e-6 };
            var g = new float[n];
            for (int t = 1; t <= 50; t++)
            {
                for (int i = 0; i < n; i++)
                {
                    g[i] = (float)NumericalTests.Gaussian(random);
                }

                built.Step(p1, g);
                expression.Step(p2, g);
                for (int i = 0; i < n; i++)
                {
                    Assert.True(BitConverter.SingleToInt32Bits(p1[i]) == BitConverter.SingleToInt32Bits(p2[i]), $"length {n}, step {t}, element {i}: {p1[i]:R} vs {p2[i]:R}");
                    Assert.True(BitConverter.SingleToInt32Bits(built.FirstMoment[i]) == BitConverter.SingleToInt32Bits(expression.FirstMoment[i]));
                    Assert.True(BitConverter.SingleToInt32Bits(built.SecondMoment[i]) == BitConverter.SingleToInt32Bits(expression.SecondMoment[i]));
                }
            }
        }
    }

    [Fact]
    public void HyperparametersAreValidatedAndNamed()
    {
        var lion = new Lion(4);
        Assert.Equal(1e-4, lion.LearningRate);
        Assert.Equal(0.9, lion.Beta1);
        Assert.Throws<ArgumentOutOfRangeException>(() => lion.Beta1 = 1.0);
        Assert.Throws<ArgumentOutOfRangeException>(() => lion.LearningRate = double.NaN);
        Assert.Equal(0.9, lion.Beta1);
        lion["Beta2"] = 0.5;
        Assert.Equal(0.5, lion.Beta2);
        Assert.Equal("Lion", lion.Descriptor.Name);
        Assert.Equal(new[] { "LearningRate", "Beta1", "Beta2", "WeightDecay" }, lion.Descriptor.Hyperparameters.Select(h => h.Name));
    }

    [Fact]
    public void TrafficCountsTheBuffersTheRuleReadsAndWrites()
    {
        // Adan: p, g, m, v, n, g_prev read; p, m, v, n, g_prev written.
        Assert.Equal(24, new Adan(1).Descriptor.BytesReadPerElement);
        Assert.Equal(20, new Adan(1).Descriptor.BytesWrittenPerElement);

        // m read and written, last only written, zero only read: reads p, g, m, zero; writes p, m, last.
        var traffic = new PartialTraffic(37);
        Assert.Equal(16, traffic.Descriptor.BytesReadPerElement);
        Assert.Equal(12, traffic.Descriptor.BytesWrittenPerElement);

        float[] p = Enumerable.Range(0, 37).Select(i => (float)i).ToArray();
        float[] g = Enumerable.Range(0, 37).Select(i => (float)(i % 5) - 2).ToArray();
        traffic.Step(p, g);
        traffic.Step(p, g);
        for (int i = 0; i < 37; i++)
        {
            // m₁ = g/2, m₂ = 3g/4 (exact in float32); last = 0.1·m + 0 from the unwritten zero state.
            Assert.Equal(0.75f * g[i], traffic.Average[i]);
            Assert.Equal((float)0.1 * traffic.Average[i], traffic.LastUpdate[i]);
            Assert.Equal(0f, traffic.Zero[i]);
            Assert.Equal(i - ((float)0.1 * (0.5f * g[i])) - traffic.LastUpdate[i], p[i]);
        }
    }
}
