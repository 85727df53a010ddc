using System;
using System.Linq;
using OptGen.Kernels;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>Two randn() draws and a rand() per element, stored: p holds draw 0, the state w draw 1 and u draw 2 (uniform).</summary>
[Optimizer]
[Hyperparameter("Seed", 5.0, Range = HyperparameterRange.NonNegative)]
[State("w")]
[State("u")]
[Update("p = randn()")]
[Update("w = randn()")]
[Update("u = rand()")]
public sealed partial class NormalDraws;

/// <summary>
/// randn(): a counter-based standard normal, a pure function of (Seed, t, the element's global index, the draw's
/// ordinal). The same numbers on the scalar path and every SIMD width, for any thread count and any split of the
/// step into tensors and pieces; and their law is N(0, 1), checked against the normal distribution's moments.
/// </summary>
public sealed class RandomNormalTests
{
    private static bool SameBits(float a, float b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b);

    [Fact]
    public void EverySimdWidthDrawsTheScalarNumbers()
    {
        const int N = 64;
        const ulong Offset = 1000;
        var kernel = NormalDraws.CreateKernel(new[] { 5.0 }, 3, 1.0, Offset);
        ulong key = CounterRandom.Key(5, 3);
        foreach (int width in new[] { 1, 4, 8, 16 })
        {
            float[] p = new float[N], g = new float[N], s = new float[2 * N];
            for (nuint i = 0; i < N; i += (nuint)width)
            {
                ref byte pb = ref System.Runtime.CompilerServices.Unsafe.As<float, byte>(ref p[0]);
                ref byte gb = ref System.Runtime.CompilerServices.Unsafe.As<float, byte>(ref g[0]);
                ref byte sb = ref System.Runtime.CompilerServices.Unsafe.As<float, byte>(ref s[0]);
                switch (width)
                {
                    case 1: kernel.Step<Float32Codec, Float32Codec, Float32Codec>(ref pb, ref gb, ref sb, N, i); break;
                    case 4: kernel.Step128<Float32Codec, Float32Codec, Float32Codec>(ref pb, ref gb, ref sb, N, i); break;
                    case 8: kernel.Step256<Float32Codec, Float32Codec, Float32Codec>(ref pb, ref gb, ref sb, N, i); break;
                    default: kernel.Step512<Float32Codec, Float32Codec, Float32Codec>(ref pb, ref gb, ref sb, N, i); break;
                }
            }

            for (int i = 0; i < N; i++)
            {
                Assert.True(SameBits(CounterRandom.Normal(key, Offset + (ulong)i, 0), p[i]), $"width {width}, element {i}, draw 0");
                Assert.True(SameBits(CounterRandom.Normal(key, Offset + (ulong)i, 1), s[i]), $"width {width}, element {i}, draw 1");
                Assert.True(SameBits(CounterRandom.Uniform(key, Offset + (ulong)i, 2), s[N + i]), $"width {width}, element {i}, draw 2");
            }
        }
    }

    [Fact]
    public void DrawsDoNotDependOnTheThreadCount()
    {
        int length = (2 * ParallelUpdate.MinimumElementsPerThread) + 37;
        Assert.Equal(2, ParallelUpdate.ThreadsFor((nuint)length, 2));
        var one = new NormalDraws(length) { MaxDegreeOfParallelism = 1 };
        var two = new NormalDraws(length) { MaxDegreeOfParallelism = 2 };
        float[] p1 = new float[length], p2 = new float[length], g = new float[length];
        for (int step = 1; step <= 2; step++)
        {
            one.Step(p1, g);
            two.Step(p2, g);
        }

        ulong key = CounterRandom.Key(5, 2);
        for (int i = 0; i < length; i++)
        {
            Assert.True(SameBits(p1[i], p2[i]), $"element {i}");
            Assert.True(SameBits(CounterRandom.Normal(key, (ulong)i, 0), p1[i]), $"element {i}");
        }

        Assert.True(one.W.SequenceEqual(two.W));
    }

    [Fact]
    public void TensorsDrawByGlobalIndexWhateverTheSplit()
    {
        // Tensor k's element i has global index (its state offset: earlier lengths rounded up to 16) + i.
        int[] lengths = [37, 300_000];
        var optimizer = new NormalDraws(new ParameterLayout(lengths)) { Seed = 9 };
        Memory<float>[] p = lengths.Select(n => new Memory<float>(new float[n])).ToArray();
        ReadOnlyMemory<float>[] g = lengths.Select(n => new ReadOnlyMemory<float>(new float[n])).ToArray();
        optimizer.Step(p, g, new StepOptions { MaxDegreeOfParallelism = 2 });
        ulong key = CounterRandom.Key(9, 1);
        for (int i = 0; i < lengths[0]; i++)
        {
            Assert.True(SameBits(CounterRandom.Normal(key, (ulong)i, 0), p[0].Span[i]), $"tensor 0, element {i}");
        }

        for (int i = 0; i < lengths[1]; i++)
        {
            Assert.True(SameBits(CounterRandom.Normal(key, 48 + (ulong)i, 0), p[1].Span[i]), $"tensor 1, element {i}");
        }
    }

    [Fact]
    public void SeedStepIndexAndOrdinalEachChangeTheDraw()
    {
        float z = CounterRandom.Normal(CounterRandom.Key(1, 1), 0, 0);
        Assert.Equal(z, CounterRandom.Normal(CounterRandom.Key(1, 1), 0, 0));
        Assert.NotEqual(z, CounterRandom.Normal(CounterRandom.Key(2, 1), 0, 0));
        Assert.NotEqual(z, CounterRandom.Normal(CounterRandom.Key(1, 2), 0, 0));
        Assert.NotEqual(z, CounterRandom.Normal(CounterRandom.Key(1, 1), 1, 0));
        Assert.NotEqual(z, CounterRandom.Normal(CounterRandom.Key(1, 1), 0, 1));

        // The optimizer's Seed hyperparameter is the key's seed.
        var a = new NormalDraws(8) { Seed = 1 };
        var p = new float[8];
        a.Step(p, new float[8]);
        Assert.Equal(z, p[0]);
    }

    [Fact]
    public void AResumedRunDrawsWhatTheUninterruptedRunDraws()
    {
        var straight = new NormalDraws(40) { Seed = 12 };
        var first = new NormalDraws(40) { Seed = 12 };
        float[] p1 = new float[40], p2 = new float[40], g = new float[40];
        for (int step = 0; step < 3; step++)
        {
            straight.Step(p1, g);
            first.Step(p2, g);
        }

        using var checkpoint = new System.IO.MemoryStream();
        first.SaveCheckpoint(checkpoint);
        checkpoint.Position = 0;
        var resumed = new NormalDraws(40);
        resumed.LoadCheckpoint(checkpoint);
        straight.Step(p1, g);
        resumed.Step(p2, g);
        Assert.Equal(12, resumed.Seed);
        Assert.Equal(p1, p2);
        Assert.True(straight.W.SequenceEqual(resumed.W));
    }

    [Fact]
    public void DrawsHaveTheStandardNormalMoments()
    {
        // 10⁶ draws over elements and steps; each moment against N(0, 1) within 5 standard errors:
        // SE(mean) = 1/√n, SE(mean of z²) = √(2/n), SE(mean of z⁴) = √(96/n), SE(P(z < −1.96)) = √(p(1 − p)/n).
        const int Elements = 100_000;
        const int Steps = 10;
        const double N = (double)Elements * Steps;
        double s1 = 0, s2 = 0, s4 = 0, tail = 0, lag = 0, cross = 0;
        for (int t = 1; t <= Steps; t++)
        {
            ulong key = CounterRandom.Key(3, t);
            ulong next = CounterRandom.Key(3, t + 1);
            for (int i = 0; i < Elements; i++)
            {
                double z = CounterRandom.Normal(key, (ulong)i, 0);
                s1 += z;
                s2 += z * z;
                s4 += z * z * z * z;
                tail += z < -1.959963984540054 ? 1 : 0;
                lag += z * CounterRandom.Normal(next, (ulong)i, 0);       // the same element one step later
                cross += z * CounterRandom.Normal(key, (ulong)i + 1, 0);  // the next element, same step
            }
        }

        Assert.InRange(s1 / N, -5 / Math.Sqrt(N), 5 / Math.Sqrt(N));
        Assert.InRange(s2 / N, 1 - (5 * Math.Sqrt(2 / N)), 1 + (5 * Math.Sqrt(2 / N)));
        Assert.InRange(s4 / N, 3 - (5 * Math.Sqrt(96 / N)), 3 + (5 * Math.Sqrt(96 / N)));
        double se = Math.Sqrt(0.025 * 0.975 / N);
        Assert.InRange(tail / N, 0.025 - (5 * se), 0.025 + (5 * se));
        Assert.InRange(lag / N, -5 / Math.Sqrt(N), 5 / Math.Sqrt(N));
        Assert.InRange(cross / N, -5 / Math.Sqrt(N), 5 / Math.Sqrt(N));
    }

    [Fact]
    public void UniformDrawsHaveTheUniformMoments()
    {
        // rand() on [0, 1): mean 1/2 (SE √(1/12n)), E u² = 1/3 (SE √(4/45n)), P(u < 0.1) = 0.1; never 1.
        const int N = 1_000_000;
        ulong key = CounterRandom.Key(4, 1);
        double s1 = 0, s2 = 0, low = 0;
        for (int i = 0; i < N; i++)
        {
            double u = CounterRandom.Uniform(key, (ulong)i, 0);
            Assert.True(u is >= 0 and < 1);
            s1 += u;
            s2 += u * u;
            low += u < 0.1 ? 1 : 0;
        }

        Assert.InRange(s1 / N, 0.5 - (5 * Math.Sqrt(1.0 / 12 / N)), 0.5 + (5 * Math.Sqrt(1.0 / 12 / N)));
        Assert.InRange(s2 / N, (1.0 / 3) - (5 * Math.Sqrt(4.0 / 45 / N)), (1.0 / 3) + (5 * Math.Sqrt(4.0 / 45 / N)));
        Assert.InRange(low / N, 0.1 - (5 * Math.Sqrt(0.09 / N)), 0.1 + (5 * Math.Sqrt(0.09 / N)));
    }
}
