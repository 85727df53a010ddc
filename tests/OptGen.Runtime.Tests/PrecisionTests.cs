using System;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using OptGen.Kernels;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Half and bfloat16 storage: the codecs against System.Half and a float64 round-to-nearest-even reference, every
/// SIMD width against the scalar path, and optimizer steps with 16-bit parameters against the float64 reference.
/// </summary>
public sealed class PrecisionTests
{
    /// <summary>Round-to-nearest-even to bfloat16, from the definition: pick the nearer neighbour in float64, ties to the even one.</summary>
    private static ushort ReferenceBFloat16(float value)
    {
        if (float.IsNaN(value))
        {
            return 0x7FC0;
        }

        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsInfinity(value))
        {
            return (ushort)(bits >> 16);
        }

        // Truncation gives the neighbour towards zero; the other is one unit further (2^128 when that overflows).
        uint low = bits & 0xFFFF0000u;
        uint high = low + 0x10000u;
        double magnitude = Math.Abs((double)value);
        double distanceLow = magnitude - Math.Abs((double)BitConverter.UInt32BitsToSingle(low));
        double distanceHigh = ((high & 0x7F800000u) == 0x7F800000u ? Math.Pow(2, 128) : Math.Abs((double)BitConverter.UInt32BitsToSingle(high))) - magnitude;
        return (ushort)((distanceLow < distanceHigh || (distanceLow == distanceHigh && (low & 0x10000u) == 0) ? low : high) >> 16);
    }

    private static float[] InterestingFloats(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (i % 4) switch
            {
                0 => BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32)), // any bits
                1 => (float)(NumericalTests.Gaussian(random) * Math.Pow(2, random.Next(-30, 20))),
                2 => BitConverter.UInt32BitsToSingle(((uint)random.Next(0, 1 << 16) << 16) | 0x8000u | (random.Next(2) == 0 ? 0u : 1u)), // bfloat16 ties and near-ties
                _ => HalfMidpoint((ushort)random.Next(0, 0x7BFF), random.Next(2) == 0), // exact half ties, both signs
            };
        }

        float[] special = [0f, -0f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue, float.PositiveInfinity, float.NegativeInfinity, float.NaN,
            65504f, 65519.99f, 65520f, 65536f, 6.1035156e-05f, 6.097555e-05f, 5.9604645e-08f, 2.9802322e-08f, 2.9802326e-08f, 1e-10f];
        special.CopyTo(values, 0);
        return values;
    }

    /// <summary>The float exactly halfway between half <paramref name="bits"/> and the next half up (a tie).</summary>
    private static float HalfMidpoint(ushort bits, bool negative)
    {
        float midpoint = ((float)BitConverter.UInt16BitsToHalf(bits) + (float)BitConverter.UInt16BitsToHalf((ushort)(bits + 1))) / 2;
        return negative ? -midpoint : midpoint;
    }

    /// <summary>Stores <paramref name="values"/> through the codec at one width, then loads them back at the same width.</summary>
    private static (ushort[] Stored, float[] Loaded) RoundTrip<TCodec>(float[] values, int width)
        where TCodec : struct, IElementCodec
    {
        var stored = new ushort[values.Length];
        var loaded = new float[values.Length];
        ref byte s = ref Unsafe.As<ushort, byte>(ref MemoryMarshal.GetArrayDataReference(stored));
        int i = 0;
        for (; i + width <= values.Length; i += width)
        {
            switch (width)
            {
                case 16:
                    TCodec.Store512(ref s, (nuint)i, Vector512.Create(values.AsSpan(i, 16)));
                    TCodec.Load512(ref s, (nuint)i).CopyTo(loaded.AsSpan(i));
                    break;
                case 8:
                    TCodec.Store256(ref s, (nuint)i, Vector256.Create(values.AsSpan(i, 8)));
                    TCodec.Load256(ref s, (nuint)i).CopyTo(loaded.AsSpan(i));
                    break;
                case 4:
                    TCodec.Store128(ref s, (nuint)i, Vector128.Create(values.AsSpan(i, 4)));
                    TCodec.Load128(ref s, (nuint)i).CopyTo(loaded.AsSpan(i));
                    break;
                default:
                    TCodec.Store(ref s, (nuint)i, values[i]);
                    loaded[i] = TCodec.Load(ref s, (nuint)i);
                    break;
            }
        }

        return (stored, loaded);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(16)]
    public void HalfCodecMatchesSystemHalfAtEveryWidth(int width)
    {
        // Every half bit pattern widens exactly.
        float[] all = [.. Enumerable.Range(0, 65536).Select(b => (float)BitConverter.UInt16BitsToHalf((ushort)b))];
        (ushort[] stored, float[] loaded) = RoundTrip<HalfCodec>(all, width);
        for (int b = 0; b < 65536; b++)
        {
            if (float.IsNaN(all[b]))
            {
                Assert.True(float.IsNaN(loaded[b]), $"half 0x{b:X4}");
                continue;
            }

            Assert.Equal((ushort)b, stored[b]);
            Assert.Equal(BitConverter.SingleToInt32Bits(all[b]), BitConverter.SingleToInt32Bits(loaded[b]));
        }

        // Floats narrow as System.Half rounds them (to nearest, ties to even).
        float[] values = InterestingFloats(1 << 18, width);
        (stored, _) = RoundTrip<HalfCodec>(values, width);
        for (int i = 0; i < values.Length; i++)
        {
            Half expected = (Half)values[i];
            if (Half.IsNaN(expected))
            {
                Assert.True(Half.IsNaN(BitConverter.UInt16BitsToHalf(stored[i])));
                continue;
            }

            Assert.True(BitConverter.HalfToUInt16Bits(expected) == stored[i], $"{values[i]:R}: 0x{stored[i]:X4}, System.Half 0x{BitConverter.HalfToUInt16Bits(expected):X4}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(16)]
    public void BFloat16CodecRoundsToNearestEvenAtEveryWidth(int width)
    {
        float[] values = InterestingFloats(1 << 18, 100 + width);
        (ushort[] stored, float[] loaded) = RoundTrip<BFloat16Codec>(values, width);
        for (int i = 0; i < values.Length; i++)
        {
            ushort expected = ReferenceBFloat16(values[i]);
            if (float.IsNaN(values[i]))
            {
                Assert.True(float.IsNaN(loaded[i]));
                continue;
            }

            Assert.True(expected == stored[i], $"{values[i]:R} (0x{BitConverter.SingleToUInt32Bits(values[i]):X8}): 0x{stored[i]:X4}, reference 0x{expected:X4}");
            Assert.Equal(BitConverter.UInt32BitsToSingle((uint)stored[i] << 16), loaded[i]);
            Assert.Equal(stored[i], ((BFloat16)values[i]).RawValue);
        }
    }

    [Fact]
    public void StochasticRoundingPicksANeighbourAndIsUnbiased()
    {
        const int n = 1 << 16;
        float x = 1 + (0.3f / 128); // 30% of the way from 1 to the next bfloat16 (1 + 1/128)
        float[] values = [.. Enumerable.Repeat(x, n)];
        var stored = new ushort[n];
        StochasticRounding.SetSeed(7, 1, 0);
        ref byte s = ref Unsafe.As<ushort, byte>(ref MemoryMarshal.GetArrayDataReference(stored));
        for (int i = 0; i < n; i += 16)
        {
            StochasticBFloat16Codec.Store512(ref s, (nuint)i, Vector512.Create(values.AsSpan(i, 16)));
        }

        Assert.All(stored, b => Assert.True(b is 0x3F80 or 0x3F81));
        double mean = stored.Average(b => (double)BitConverter.UInt32BitsToSingle((uint)b << 16));
        // The standard error of the mean is (1/128)·√(0.3·0.7/n) ≈ 1.4e-5; allow 5 of them.
        Assert.True(Math.Abs(mean - x) < 7e-5, $"mean {mean:R} vs {x:R}");

        // The scalar path gives the same bits as the vector path.
        for (int i = 0; i < 64; i++)
        {
            Assert.Equal(stored[i], StochasticBFloat16Codec.Narrow(x, (nuint)i));
        }
    }

    /// <summary>Adam over 16-bit parameters against a float64 reference that stores p in the same 16-bit format after every step.</summary>
    [Theory]
    [InlineData("half", 2.0)]
    [InlineData("bfloat16", 2.0)]
    public void AdamOverSixteenBitParametersMatchesTheReferenceWithinTwoUnits(string format, double units)
    {
        int[] lengths = [33, 1025, 7];
        var optimizer = new Adam(new ParameterLayout(lengths)) { LearningRate = 1e-2 };
        int n = lengths.Sum();
        var random = new Random(13);
        Func<double, double> round = format == "half" ? x => (double)(Half)x : x => (float)(BFloat16)(float)x;
        double unit = format == "half" ? Math.Pow(2, -10) : Math.Pow(2, -7); // relative spacing
        float[] p0 = Random(random, n);
        Half[] ph = [.. p0.Select(x => (Half)x)];
        BFloat16[] pb = [.. p0.Select(x => (BFloat16)x)];
        float[] expected = [.. p0.Select(x => (float)round(x))];
        var reference = new AdamReference(n, 1e-2, 0.9, 0.999, 1e-8);
        for (int t = 1; t <= 20; t++)
        {
            float[] g = Random(random, n);
            if (format == "half")
            {
                Half[] gh = [.. g.Select(x => (Half)x)];
                optimizer.Step(ph, gh);
                g = [.. gh.Select(x => (float)x)];
            }
            else
            {
                BFloat16[] gb = [.. g.Select(x => (BFloat16)x)];
                optimizer.Step(pb, gb);
                g = [.. gb.Select(x => (float)x)];
            }

            reference.Step(expected, g, t);
            for (int i = 0; i < n; i++)
            {
                expected[i] = (float)round(expected[i]);
                double actual = format == "half" ? (double)ph[i] : (float)pb[i];
                double tolerance = units * unit * Math.Max(Math.Abs(expected[i]), 1e-2);
                Assert.True(Math.Abs(actual - expected[i]) <= tolerance, $"{format}, step {t}, element {i}: {actual:R} vs {expected[i]:R}");
            }
        }
    }

    [Fact]
    public void SixteenBitGradientsWithFloatParametersAreExactWidening()
    {
        // float32 master weights with half/bfloat16 gradients give the same bits as widening the gradients first.
        int n = 1000;
        var random = new Random(19);
        float[] p = Random(random, n), q = (float[])p.Clone(), r = (float[])p.Clone(), s = (float[])p.Clone();
        var a = new AdamW(n);
        var b = new AdamW(n);
        var c = new AdamW(n);
        var d = new AdamW(n);
        var options = new StepOptions { GradientScale = 1.0 / 256, MaxGradientNorm = 0.5 };
        for (int t = 0; t < 10; t++)
        {
            float[] g = Random(random, n, 256);
            Half[] gh = [.. g.Select(x => (Half)x)];
            BFloat16[] gb = [.. g.Select(x => (BFloat16)x)];
            StepResult ra = a.Step(p, gh, options);
            StepResult rb = b.Step(q, [.. gh.Select(x => (float)x)], options);
            Assert.Equal(rb.GradientNorm, ra.GradientNorm);
            c.Step(r, gb, options);
            d.Step(s, [.. gb.Select(x => (float)x)], options);
        }

        AssertBitwiseEqual(q, p, "half gradients");
        AssertBitwiseEqual(s, r, "bfloat16 gradients");
    }

    [Fact]
    public void StochasticRoundingKeepsSmallUpdatesAndDoesNotDependOnThreads()
    {
        // SGD steps of 1e-4 on parameters near 1: each is 1/78 of a bfloat16 unit (2⁻⁷), so rounding to nearest loses
        // every one of them, while stochastic rounding moves the mean by the full 100·1e-4 = 0.01 (within 4 standard errors).
        int[] lengths = [40_000, 30_000, 16];
        int n = lengths.Sum();
        BFloat16[] Run(bool stochastic, int threads)
        {
            var sgd = new Sgd(new ParameterLayout(lengths)) { LearningRate = 1e-4 };
            BFloat16[] p = [.. Enumerable.Repeat((BFloat16)1f, n)];
            BFloat16[] g = [.. Enumerable.Repeat((BFloat16)1f, n)];
            var options = new StepOptions { StochasticRounding = stochastic, RoundingSeed = 99, MaxDegreeOfParallelism = threads };
            for (int t = 0; t < 100; t++)
            {
                sgd.Step(p, g, options);
            }

            return p;
        }

        BFloat16[] nearest = Run(false, 1);
        Assert.All(nearest, x => Assert.Equal(1f, (float)x));
        BFloat16[] one = Run(true, 1);
        double mean = one.Average(x => (double)(float)x);
        Assert.True(Math.Abs(mean - (1 - 0.01)) < 2e-4, $"mean {mean:R}");
        BFloat16[] many = Run(true, 4);
        Assert.Equal(one.Select(x => x.RawValue), many.Select(x => x.RawValue));
    }

    [Fact]
    public void StochasticRoundingDrawsByArenaPositionNotByTensorPieceOrThread()
    {
        // The same 70,016-element arena as one tensor, as three, and cut so that no tensor or 16,384-element piece
        // starts where another split's does, on 1 and 4 threads: SGD's update of an element does not depend on the
        // layout, and its random bits depend only on its arena position, so every run gives the same bits.
        var random = new Random(71);
        float[] p0 = [.. Enumerable.Range(0, 70_016).Select(_ => 1 + (float)random.NextDouble())];
        float[] g0 = [.. Enumerable.Range(0, 70_016).Select(_ => (float)(random.NextDouble() - 0.5))];
        ushort[] Run(ParameterLayout layout, int threads, bool stochastic)
        {
            var sgd = new Sgd(layout) { LearningRate = 1e-3 };
            BFloat16[] p = [.. p0.Select(x => (BFloat16)x)];
            BFloat16[] g = [.. g0.Select(x => (BFloat16)x)];
            var options = new StepOptions { StochasticRounding = stochastic, RoundingSeed = 99, MaxDegreeOfParallelism = threads };
            for (int t = 0; t < 10; t++)
            {
                sgd.Step(p, g, options);
            }

            return [.. p.Select(x => x.RawValue)];
        }

        ushort[] one = Run(new ParameterLayout(new[] { 70_016 }), 1, true);
        Assert.Equal(one, Run(new ParameterLayout(new[] { 40_000, 30_000, 16 }), 4, true));
        Assert.Equal(one, Run(new ParameterLayout(new[] { 17 }, new[] { 20_000, 49_999 }), 1, true));
        Assert.Equal(one, Run(new ParameterLayout(new[] { 70_016 }), 4, true));
        Assert.NotEqual(Run(new ParameterLayout(new[] { 70_016 }), 1, false), one); // the noise did round some elements up
    }

    [Fact]
    public void PerTensorSixteenBitBuffersMatchTheArena()
    {
        int[] lengths = [33, 17, 1000];
        var layout = new ParameterLayout(lengths[..1], lengths[1..]);
        var random = new Random(59);
        float[] p0 = Random(random, layout.TotalLength);
        Half[] halfArena = [.. p0.Select(x => (Half)x)];
        BFloat16[] bfArena = [.. p0.Select(x => (BFloat16)x)];
        Half[][] halfTensors = [.. Enumerable.Range(0, 3).Select(j => halfArena.AsSpan(layout.ArenaOffsetOf(j), lengths[j]).ToArray())];
        BFloat16[][] bfTensors = [.. Enumerable.Range(0, 3).Select(j => bfArena.AsSpan(layout.ArenaOffsetOf(j), lengths[j]).ToArray())];
        Adam a = new(layout), b = new(layout), c = new(layout), d = new(layout);
        var options = new StepOptions { StochasticRounding = true, RoundingSeed = 5 };
        for (int t = 0; t < 5; t++)
        {
            float[] g = Random(random, layout.TotalLength);
            Half[] gh = [.. g.Select(x => (Half)x)];
            BFloat16[] gb = [.. g.Select(x => (BFloat16)x)];
            a.Step(halfArena, gh);
            b.Step([.. halfTensors.Select(x => new Memory<Half>(x))], [.. Enumerable.Range(0, 3).Select(j => new ReadOnlyMemory<Half>(gh, layout.ArenaOffsetOf(j), lengths[j]))]);
            c.Step(bfArena, gb, options);
            d.Step([.. bfTensors.Select(x => new Memory<BFloat16>(x))], [.. Enumerable.Range(0, 3).Select(j => new ReadOnlyMemory<BFloat16>(gb, layout.ArenaOffsetOf(j), lengths[j]))], options);
        }

        Assert.Equal(halfArena, halfTensors.SelectMany(x => x));
        Assert.Equal(bfArena, bfTensors.SelectMany(x => x));
    }

    [Fact]
    public void SixteenBitStepsCheckTheirArguments()
    {
        var adam = new Adam(8);
        Half[] p = new Half[8];
        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => adam.Step(p, new Half[7])).ParamName);
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => adam.Step(new BFloat16[9], new BFloat16[8])).ParamName);
        float[] shared = new float[8];
        Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => adam.Step(shared, MemoryMarshal.Cast<float, Half>(shared.AsSpan()).Slice(0, 8))).ParamName);
        Assert.Equal(0, adam.StepCount);
    }
}
