using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using OptGen.Kernels;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>
/// The CPU paths of the blockwise codec (AVX-512 with the 8-bit code lines, AVX-512 search, AVX2 gathers, scalar;
/// each forced through the internal path switch, a narrower one where the CPU lacks a wider) give the same codes and
/// values bit for bit, and those codes are the exact decision rule (<c>QuantizeByRank</c>, checked against torchao's
/// definition in <see cref="BlockwiseStateTests"/>) for every value: ties, denormals, zeros, ±absmax, NaN and ±∞.
/// </summary>
public sealed class BlockwisePathTests
{
    // BlockwisePath: Best, Avx512, Avx2, Scalar (internal, reached by reflection like the rest of the hooks below).
    private static readonly int[] Paths = [0, 1, 2, 3];
    private static readonly Type PathType = typeof(BlockwiseBlock).Assembly.GetType("OptGen.Kernels.BlockwisePath", throwOnError: true)!;

    public static TheoryData<int, bool> Books => new() { { 8, true }, { 8, false }, { 4, true }, { 4, false } };

    [Theory]
    [MemberData(nameof(Books))]
    public void EveryPathGivesTheExactCodesAndTheSameValues(int bits, bool signed)
    {
        BlockwiseCodebook book = BlockwiseCodebook.For(bits, signed);
        var random = new Random(17 + bits + (signed ? 1 : 0));
        foreach (float[] block in Blocks(book, random))
        {
            float absmax = BlockwiseBlock.Absmax(block);
            // A block whose absmax is NaN stores codes 0 (its NaNs' signs are not portable to the GPU); others the rule's.
            bool nan = float.IsNaN(absmax);
            float scale = absmax == 0f ? 0f : 1f / absmax;
            byte[]? expected = null;
            foreach (int path in Paths)
            {
                byte[] codes = QuantizeOn(book, block, absmax, path);
                if (expected is null)
                {
                    int[] unpacked = Unpack(codes, block.Length, bits);
                    for (int i = 0; i < block.Length; i++)
                    {
                        float x = block[i] * scale;
                        int rule = nan ? 0 : Rank(book, x);
                        Assert.True(rule == unpacked[i], $"path {path}: {x:R} ({BitConverter.SingleToUInt32Bits(x):X8}) got {unpacked[i]}, the rule {rule}");
                    }

                    expected = codes;
                }
                else
                {
                    Assert.True(expected.AsSpan().SequenceEqual(codes), $"path {path} codes differ from the best path's");
                }
            }

            float[]? values = null;
            foreach (int path in Paths)
            {
                float[] back = DequantizeOn(book, expected!, block.Length, absmax, path);
                values ??= back;
                Assert.Equal(values.Select(BitConverter.SingleToUInt32Bits), back.Select(BitConverter.SingleToUInt32Bits));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Books))]
    public void ChunkDequantizationGivesEachBlocksValues(int bits, bool signed)
    {
        // The driver dequantizes a chunk of whole blocks in one call (8-bit with VBMI: one loop, each block's absmax
        // per group of 64): every block's values must be the per-block dequantization's, bit for bit, for every code
        // and for absmax of every kind (0, denormal, ±∞, NaN, a block's ordinary value), 1 to 8 blocks per chunk.
        BlockwiseCodebook book = BlockwiseCodebook.For(bits, signed);
        int n = book.BlockLength;
        var random = new Random(41 + bits + (signed ? 1 : 0));
        float[] kinds = [0f, 1e-40f, float.PositiveInfinity, float.NaN, 1f, 3.5e-3f, 123.25f];
        foreach (int blocks in (ReadOnlySpan<int>)[1, 2, 3, 4, 8])
        {
            byte[] codes = new byte[blocks * (int)BlockwiseBlock.CodeBytes(n, bits)];
            random.NextBytes(codes);
            codes[0] = (byte)(bits == 8 ? 0 : 0x0F);
            codes[^1] = 0xFF;
            float[] absmax = [.. Enumerable.Range(0, blocks).Select(b => b < kinds.Length && blocks > 2 ? kinds[(b + blocks) % kinds.Length] : (float)random.NextDouble())];
            float[] chunk = (float[])typeof(BlockwiseBlock).GetMethod("DequantizeBlocksOn", BindingFlags.NonPublic | BindingFlags.Static)!.Invoke(null, [book, codes, absmax])!;
            for (int b = 0; b < blocks; b++)
            {
                byte[] block = codes.AsSpan(b * (int)BlockwiseBlock.CodeBytes(n, bits), (int)BlockwiseBlock.CodeBytes(n, bits)).ToArray();
                float[] expected = DequantizeOn(book, block, n, absmax[b], 0);
                Assert.Equal(expected.Select(BitConverter.SingleToUInt32Bits), chunk.AsSpan(b * n, n).ToArray().Select(BitConverter.SingleToUInt32Bits));
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CodeLinesGiveTheExactCodeOrDeclareAmbiguity(bool signed)
    {
        // The 8-bit lines against the exact rule on values the construction-time proof reasons about only through
        // monotonicity: every threshold and code value with its float neighbours (±4 ulps), and random float bit
        // patterns of every exponent. Ambiguity must be rare on log-uniform magnitudes (else the fast path is moot).
        BlockwiseCodebook book = BlockwiseCodebook.For(8, signed);
        Assert.True((bool)typeof(BlockwiseCodebook).GetProperty("HasLines", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(book)!);
        Func<float, int> lines = typeof(BlockwiseCodebook).GetMethod("QuantizeByLines", BindingFlags.NonPublic | BindingFlags.Instance)!.CreateDelegate<Func<float, int>>(book);
        var points = new List<float>();
        for (int c = 0; c < 256; c++)
        {
            foreach (float center in (ReadOnlySpan<float>)[book.Values[c], c > 0 ? SmallestRoundingUp(book, c) : 0f])
            {
                float x = center;
                for (int k = 0; k < 4; k++)
                {
                    x = MathF.BitDecrement(x);
                }

                for (int k = 0; k < 9; k++, x = MathF.BitIncrement(x))
                {
                    points.Add(x);
                    points.Add(-x);
                }
            }
        }

        var random = new Random(signed ? 5 : 6);
        for (int k = 0; k < 200_000; k++)
        {
            points.Add(BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32)));
        }

        foreach (float x in points)
        {
            int line = lines(x);
            Assert.True(line == -1 || line == Rank(book, x), $"{x:R} ({BitConverter.SingleToUInt32Bits(x):X8}): lines {line}, the rule {Rank(book, x)}");
        }

        int ambiguous = 0, count = 100_000;
        for (int k = 0; k < count; k++)
        {
            float y = (float)Math.Pow(10, -7 * random.NextDouble()) * (signed && k % 2 == 1 ? -1 : 1);
            ambiguous += lines(y) == -1 ? 1 : 0;
        }

        Assert.InRange(ambiguous, 0, count / 1000);
    }

    [Fact]
    public void LinearRuleGivesTheExactCode()
    {
        // The 4-bit unsigned map's multiply-add rule against the exact rule on the points its construction-time proof
        // reasons about only through monotonicity: every threshold and code value with their float neighbours (±4
        // ulps, both signs), and random float bit patterns of every exponent (NaNs and infinities included).
        BlockwiseCodebook book = BlockwiseCodebook.For(4, signed: false);
        Assert.True((bool)typeof(BlockwiseCodebook).GetProperty("HasLinearRule", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(book)!);
        Assert.False((bool)typeof(BlockwiseCodebook).GetProperty("HasLinearRule", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(BlockwiseCodebook.For(4, signed: true))!);
        Func<float, int> linear = typeof(BlockwiseCodebook).GetMethod("QuantizeByLinearRule", BindingFlags.NonPublic | BindingFlags.Instance)!.CreateDelegate<Func<float, int>>(book);
        var points = new List<float>();
        for (int c = 0; c < book.Values.Count; c++)
        {
            foreach (float center in (ReadOnlySpan<float>)[book.Values[c], c > 0 ? SmallestRoundingUp(book, c) : 0f])
            {
                for (int k = -4; k <= 4; k++)
                {
                    float x = center;
                    for (int j = 0; j < Math.Abs(k); j++)
                    {
                        x = k < 0 ? MathF.BitDecrement(x) : MathF.BitIncrement(x);
                    }

                    points.Add(x);
                    points.Add(-x);
                }
            }
        }

        var random = new Random(7);
        for (int k = 0; k < 200_000; k++)
        {
            points.Add(BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32)));
        }

        foreach (float x in points)
        {
            Assert.True(linear(x) == Rank(book, x), $"{x:R} ({BitConverter.SingleToUInt32Bits(x):X8}): linear {linear(x)}, the rule {Rank(book, x)}");
        }
    }

    /// <summary>
    /// <c>BlockwiseBlock.Quantize</c> against an absmax that is not the block's: values far above it (so above the
    /// clamp once scaled), ±∞, NaNs of both signs, ±0, denormals; an absmax so small that its inverse is ∞ (values
    /// become ±∞ or NaN), 0 (every value becomes ±0) and NaN (codes 0). Every path gives the exact rule's code of
    /// value · (1/absmax), each path's own sign and clamp handling included.
    /// </summary>
    [Theory]
    [MemberData(nameof(Books))]
    public void ValuesOutsideTheAbsmaxGetTheExactCodes(int bits, bool signed)
    {
        BlockwiseCodebook book = BlockwiseCodebook.For(bits, signed);
        float positiveNaN = BitConverter.UInt32BitsToSingle(0x7FC0_0000), negativeNaN = BitConverter.UInt32BitsToSingle(0xFFC0_0001);
        float[] special = [float.PositiveInfinity, float.NegativeInfinity, positiveNaN, negativeNaN, 0f, -0f, float.Epsilon, -float.Epsilon, float.MaxValue, -float.MaxValue, 3e38f, -1e-30f];
        var random = new Random(41 + bits + (signed ? 1 : 0));
        float[] values = new float[book.BlockLength];
        foreach (float absmax in (ReadOnlySpan<float>)[1e-3f, 0.7f, 1e-40f, float.Epsilon, 0f, 3f, float.NaN, 1e30f])
        {
            for (int round = 0; round < 4; round++)
            {
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = i % 5 == 0
                        ? special[random.Next(special.Length)]
                        : (random.Next(2) == 0 ? -1f : 1f) * (float)Math.Pow(10, (12 * random.NextDouble()) - 9);
                }

                float scale = absmax == 0f ? 0f : 1f / absmax;
                foreach (int path in Paths)
                {
                    int[] unpacked = Unpack(QuantizeOn(book, values, absmax, path), values.Length, bits);
                    for (int i = 0; i < values.Length; i++)
                    {
                        int rule = float.IsNaN(absmax) ? 0 : Rank(book, values[i] * scale);
                        Assert.True(rule == unpacked[i], $"path {path}, absmax {absmax:R}: {values[i]:R} · {scale:R} got {unpacked[i]}, the rule {rule}");
                    }
                }
            }
        }
    }

    /// <summary>
    /// The public <c>BlockwiseBlock.Quantize</c> takes any length: a span of 10 000 values (longer than the 4096 values
    /// one code-lines call tracks) with values on decision thresholds throughout gets the exact rule's code everywhere.
    /// </summary>
    [Fact]
    public void LongSpansGetTheExactCodes()
    {
        BlockwiseCodebook book = BlockwiseCodebook.For(8, signed: true);
        var random = new Random(29);
        float[] values = [.. Enumerable.Range(0, 10_000).Select(i => (i % 2 == 0 ? -1f : 1f) * (float)Math.Pow(10, -6 * random.NextDouble()))];
        values[0] = 1f;
        for (int i = 1; i < values.Length; i += 37)
        {
            // A value exactly on a decision threshold: the code lines call it ambiguous and redo its group.
            values[i] = SmallestRoundingUp(book, 1 + (i % (book.Values.Count - 1)));
        }

        byte[] codes = new byte[values.Length];
        BlockwiseBlock.Quantize(book, values, BlockwiseBlock.Absmax(values), ref codes[0]);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.True(Rank(book, values[i]) == codes[i], $"value {i}: {values[i]:R} got {codes[i]}, the rule {Rank(book, values[i])}");
        }
    }

    /// <summary>Blocks of every awkward kind, each the codebook's block length or shorter (tails).</summary>
    private static IEnumerable<float[]> Blocks(BlockwiseCodebook book, Random random)
    {
        int n = book.BlockLength;
        bool signed = book.IsSigned;
        float Sign(int i) => signed && i % 3 == 1 ? -1f : 1f;

        // Log-uniform magnitudes over seven decades, with ±0, ±absmax and a denormal.
        for (int r = 0; r < 40; r++)
        {
            float[] b = [.. Enumerable.Range(0, n).Select(i => Sign(i) * (float)Math.Pow(10, -7 * random.NextDouble()))];
            b[3] = 0f;
            b[4] = -0f;
            b[5] = -b[0];
            b[6] = 1e-40f * Sign(6);
            yield return b;
        }

        // Every decision threshold and its neighbours, in blocks whose absmax is 1 (ties: the rule's exact points).
        var points = new List<float>();
        for (int c = 1; c < book.Values.Count; c++)
        {
            float t = SmallestRoundingUp(book, c);
            points.AddRange([t, MathF.BitDecrement(t), MathF.BitIncrement(t), -t, -MathF.BitDecrement(t), -MathF.BitIncrement(t), book.Values[c], -book.Values[c]]);
        }

        for (int start = 0; start < points.Count; start += n - 1)
        {
            float[] b = new float[n];
            b[0] = 1f;
            points.Skip(start).Take(n - 1).ToArray().CopyTo(b, 1);
            yield return b;
        }

        // Non-finite values (as the step keeps them: NaN absmax, or ∞ with NaN codes), all zeros, denormals only.
        yield return [.. Enumerable.Range(0, n).Select(i => i == 7 ? float.NaN : i == 9 ? -float.NaN : Sign(i) * i)];
        yield return [.. Enumerable.Range(0, n).Select(i => i == 2 ? float.PositiveInfinity : i == 3 ? float.NegativeInfinity : Sign(i) * i)];
        yield return new float[n];
        yield return [.. Enumerable.Range(0, n).Select(i => Sign(i) * BitConverter.UInt32BitsToSingle((uint)(i + 1)))];

        // Tails: shorter blocks (the SIMD loops leave a scalar tail).
        foreach (int length in new[] { 1, 15, 17, 63, 65, n - 1 })
        {
            yield return [.. Enumerable.Range(0, length).Select(i => Sign(i) * (float)random.NextDouble())];
        }
    }

    /// <summary>The smallest float that rounds up to code c: the rule's own definition, from the map (torchao: x − map[c−1] ≥ (map[c] − map[c−1]) · 0.5).</summary>
    private static float SmallestRoundingUp(BlockwiseCodebook book, int c)
    {
        float low = book.Values[c - 1], high = book.Values[c];
        float half = (high - low) * 0.5f;
        float x = low + half;
        while (x - low >= half && x > low)
        {
            x = MathF.BitDecrement(x);
        }

        while (!(x - low >= half))
        {
            x = MathF.BitIncrement(x);
        }

        return x;
    }

    /// <summary>The exact rule, <c>BlockwiseCodebook.QuantizeByRank</c> (the count of decision thresholds ≤ x, clamp and sign fix).</summary>
    private static int Rank(BlockwiseCodebook book, float x) =>
        typeof(BlockwiseCodebook).GetMethod("QuantizeByRank", BindingFlags.NonPublic | BindingFlags.Instance)!.CreateDelegate<Func<float, int>>(book)(x);

    private static byte[] QuantizeOn(BlockwiseCodebook book, float[] values, float absmax, int path) =>
        (byte[])typeof(BlockwiseBlock).GetMethod("QuantizeOn", BindingFlags.NonPublic | BindingFlags.Static)!.Invoke(null, [book, values, absmax, Enum.ToObject(PathType, path)])!;

    private static float[] DequantizeOn(BlockwiseCodebook book, byte[] codes, int length, float absmax, int path) =>
        (float[])typeof(BlockwiseBlock).GetMethod("DequantizeOn", BindingFlags.NonPublic | BindingFlags.Static)!.Invoke(null, [book, codes, length, absmax, Enum.ToObject(PathType, path)])!;

    private static int[] Unpack(byte[] codes, int n, int bits) =>
        [.. Enumerable.Range(0, n).Select(i => bits == 8 ? codes[i] : (i % 2 == 0 ? codes[i / 2] >> 4 : codes[i / 2] & 0xF))];
}
