using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using OptGen.Kernels;
using Xunit;
using Xunit.Abstractions;
using OptGen.Testing;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// 8-bit and 4-bit blockwise state: the code maps and rounding against their definitions, the fused kernel against a
/// float64 reference of the quantized algorithm, accuracy against float32 state, conversion, checkpoints, signedness.
/// </summary>
public sealed class BlockwiseStateTests(ITestOutputHelper output)
{
    [Fact]
    public void CodeMapsAreTheDefinitionsDynamicAndLinearMaps()
    {
        // bitsandbytes' create_dynamic_map, written here from its definition (PyTorch float32 linspace and midpoints).
        Assert.Equal(ReferenceMaps.Dynamic(signed: true, 7, 8), BlockwiseCodebook.Int8Signed.Values);
        Assert.Equal(ReferenceMaps.Dynamic(signed: false, 7, 8), BlockwiseCodebook.Int8Unsigned.Values);
        Assert.Equal(ReferenceMaps.Dynamic(signed: true, 3, 4), BlockwiseCodebook.Int4Signed.Values);
        Assert.Equal(Enumerable.Range(1, 16).Select(k => k / 16f), BlockwiseCodebook.Int4Unsigned.Values);

        // Known values: 4-bit signed is ±{0.0055, 0.0325, 0.0775, 0.2125, 0.4375, 0.6625, 0.8875}, 0 and 1.
        double[] positive = [0.0055, 0.0325, 0.0775, 0.2125, 0.4375, 0.6625, 0.8875, 1];
        double[] expected = [.. positive.Take(7).Reverse().Select(x => -x), 0, .. positive];
        Assert.Equal(expected, BlockwiseCodebook.Int4Signed.Values.Select(v => Math.Round(v, 6)));
        Assert.Equal(0f, BlockwiseCodebook.Int8Signed.Values[127]);
        Assert.Equal(1f, BlockwiseCodebook.Int8Signed.Values[255]);
        Assert.Equal(0f, BlockwiseCodebook.Int8Unsigned.Values[0]);
        Assert.Equal(0.325e-6, BlockwiseCodebook.Int8Unsigned.Values[1], 1e-12);
    }

    [Theory]
    [InlineData(8, true)]
    [InlineData(8, false)]
    [InlineData(4, true)]
    [InlineData(4, false)]
    public void QuantizeIsTheNearestCodeTiesUp(int bits, bool signed)
    {
        // The nearest code in double (argmin of |map − x|, ties to the larger code), and for 8-bit signed the
        // bitsandbytes sign fix. torchao decides in float32 (x − map[d] ≥ (map[d+1] − map[d])·0.5), which may differ
        // from the double argmin within a float32 rounding of a midpoint: then by one code only, and rarely.
        BlockwiseCodebook book = BlockwiseCodebook.For(bits, signed);
        var random = new Random(bits * 10 + (signed ? 1 : 0));
        int differ = 0, total = 0;
        foreach (float x in Samples(random, signed))
        {
            int expected = ReferenceMaps.Nearest(book.Values, x, keepSign: bits == 8 && signed);
            int actual = book.Quantize(x);
            Assert.Equal(book.QuantizeByDefinition(x), actual);
            Assert.True(Math.Abs(expected - actual) <= 1, $"{x:R}: {actual} vs {expected}");
            differ += expected != actual ? 1 : 0;
            total++;
        }

        Assert.True(differ <= total / 10_000, $"{differ} of {total} codes differ from the double argmin");

        // Every midpoint and its neighbours, where the rounding is decided.
        for (int c = 1; c < book.Values.Count; c++)
        {
            float mid = (book.Values[c - 1] + book.Values[c]) / 2;
            foreach (float x in new[] { mid, MathF.BitDecrement(mid), MathF.BitIncrement(mid), book.Values[c], book.Values[c - 1] })
            {
                Assert.Equal(book.QuantizeByDefinition(x), book.Quantize(x));
            }
        }

        static IEnumerable<float> Samples(Random random, bool signed)
        {
            for (int i = 0; i < 60_000; i++)
            {
                // Uniform, and log-uniform down to 1e-9, of either sign.
                double x = i % 2 == 0 ? random.NextDouble() : Math.Pow(10, -9 * random.NextDouble());
                yield return (float)(signed && random.Next(2) == 0 ? -x : x);
            }

            yield return 0f;
            yield return -0f;
            yield return 1f;
            yield return -1f;
        }
    }

    [Theory]
    [InlineData(8, true)]
    [InlineData(8, false)]
    [InlineData(4, true)]
    [InlineData(4, false)]
    public void BlockCodecGivesTheScalarCodesInEveryWidth(int bits, bool signed)
    {
        // BlockwiseBlock's SIMD path (8 at a time) and its scalar tail against the codebook's scalar Quantize, code
        // for code, on blocks of every length up to the block (odd ones leave a tail; 4-bit packs two per byte).
        BlockwiseCodebook book = BlockwiseCodebook.For(bits, signed);
        var random = new Random(bits + (signed ? 100 : 0));
        for (int length = 1; length <= book.BlockLength; length += length < 20 ? 1 : 37)
        {
            float[] values = [.. Enumerable.Range(0, length).Select(i => i % 7 == 3 ? (i % 2 == 0 ? 0f : -0f) : (float)((signed ? random.NextDouble() - 0.5 : random.NextDouble()) * Math.Pow(10, -6 * random.NextDouble())))];
            float absmax = BlockwiseBlock.Absmax(values);
            Assert.Equal(values.Max(Math.Abs), absmax);
            byte[] codes = new byte[BlockwiseBlock.CodeBytes(length, bits)];
            BlockwiseBlock.Quantize(book, values, absmax, ref codes[0]);
            int[] unpacked = QuantizedReference.Unpack(codes, length, bits);
            float scale = 1f / absmax;
            for (int i = 0; i < length; i++)
            {
                Assert.Equal(book.Quantize(values[i] * scale), unpacked[i]);
            }

            float[] back = new float[length];
            BlockwiseBlock.Dequantize(book, ref codes[0], absmax, back);
            Assert.Equal(unpacked.Select(c => book.Values[c] * absmax), back);
        }

        Assert.True(float.IsNaN(BlockwiseBlock.Absmax([1f, float.NaN, 2f, 3f, 4f, 5f, 6f, 7f, 8f, float.PositiveInfinity])));
    }

    [Theory]
    [InlineData(8, true)]
    [InlineData(8, false)]
    [InlineData(4, true)]
    [InlineData(4, false)]
    public void BlockCodecDecidesEveryMidpointAsTheDefinition(int bits, bool signed)
    {
        // The SIMD block quantizer (a search over the decision thresholds) at every decision point of the map: each
        // midpoint of neighbouring codes in float32 and its float neighbours, each code value, ±0, and values outside
        // [−1, 1] (±∞, NaN of both signs, ±3, which the scalar path clamps), in full blocks whose absmax is 1, so the
        // block sees exactly these normalized values. Finite values in [−1, 1] must get the definition's code
        // (torchao's rounding, the sign fix), every value the scalar path's code.
        BlockwiseCodebook book = BlockwiseCodebook.For(bits, signed);
        var points = new List<float>();
        for (int c = 1; c < book.Values.Count; c++)
        {
            float mid = (book.Values[c - 1] + book.Values[c]) / 2;
            points.AddRange([mid, MathF.BitDecrement(mid), MathF.BitIncrement(mid), MathF.BitDecrement(MathF.BitDecrement(mid)), MathF.BitIncrement(MathF.BitIncrement(mid)), book.Values[c], book.Values[c - 1]]);
        }

        points.AddRange([0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, -float.NaN, 3f, -3f, float.Epsilon, -float.Epsilon]);
        int n = book.BlockLength;
        for (int start = 0; start < points.Count; start += n - 1)
        {
            float[] block = new float[n];
            block[0] = 1f; // the absmax
            int count = Math.Min(n - 1, points.Count - start);
            points.CopyTo(start, block, 1, count);
            byte[] codes = new byte[BlockwiseBlock.CodeBytes(n, bits)];
            BlockwiseBlock.Quantize(book, block, 1f, ref codes[0]);
            int[] unpacked = QuantizedReference.Unpack(codes, n, bits);
            for (int i = 1; i <= count; i++)
            {
                float x = block[i];
                Assert.True(book.Quantize(x) == unpacked[i], $"{x:R} ({BitConverter.SingleToUInt32Bits(x):X8}): block {unpacked[i]}, scalar {book.Quantize(x)}");
                if (Math.Abs(x) <= 1f)
                {
                    Assert.Equal(book.QuantizeByDefinition(x), unpacked[i]);
                }
            }
        }
    }

    [Theory]
    [InlineData(StatePrecision.Int8Blockwise, 1)]
    [InlineData(StatePrecision.Int8Blockwise, 2)]
    [InlineData(StatePrecision.Int4Blockwise, 1)]
    public void KernelMatchesTheFloat64ReferenceOfTheQuantizedAlgorithm(StatePrecision precision, int threads)
    {
        // bitsandbytes' test problem (p ~ N(0, 0.1²), g ~ N(0, 0.01²), Adam defaults) on 1024 × 32 elements plus an
        // odd tail (a partial last block), 100 steps. The reference runs Adam in double per block: dequantize
        // (map[code]·absmax), update, absmax = max |value|, code = the nearest code of value/absmax (ties up; 8-bit
        // signed keeps the sign).
        // Step by step: before each step the reference takes the kernel's codes, absmax and parameters, so every
        // step is checked on its own: ≥ 99.9 % of the codes identical, the rest one code apart (a value within
        // float32 rounding of a midpoint). Free-running: the two runs stay apart only where such a tie went the
        // other way; after 100 steps ≥ 99.9 % of the codes are still identical and every value is within two code
        // gaps (a tie followed by cancellation, m ≈ 0, can land many codes apart in a dynamic map's fine region
        // near zero while the values stay a fraction of a gap apart).
        int n = (1024 * 32) + 77;
        int bits = precision == StatePrecision.Int8Blockwise ? 8 : 4;
        var adam = new Adam(n) { MaxDegreeOfParallelism = threads };
        adam.ChangeStatePrecision(precision);
        var random = new Random(5);
        float[] p = Random(random, n, 0.1);
        float[] expected = (float[])p.Clone();
        var free = QuantizedReference.Adam(n, bits);
        var stepwise = QuantizedReference.Adam(n, bits);
        int worstStep = n;
        for (int t = 1; t <= 100; t++)
        {
            float[] g = Random(random, n, 0.01);
            (byte[][] before, float[][] absmaxBefore) = ReadBlockwiseState(adam, bits);
            stepwise.Load(before, absmaxBefore);
            float[] single = (float[])p.Clone();
            adam.Step(p, g);
            free.Step(expected, g, t);
            stepwise.Step(single, g, t);
            (byte[][] after, _) = ReadBlockwiseState(adam, bits);
            for (int plane = 0; plane < 2; plane++)
            {
                int[] actual = QuantizedReference.Unpack(after[plane], n, bits);
                int same = 0;
                for (int i = 0; i < n; i++)
                {
                    Assert.True(Math.Abs(actual[i] - stepwise.Codes[plane][i]) <= 1, $"step {t}, plane {plane}, element {i}: code {actual[i]} vs {stepwise.Codes[plane][i]}");
                    same += actual[i] == stepwise.Codes[plane][i] ? 1 : 0;
                }

                worstStep = Math.Min(worstStep, same);
            }
        }

        output.WriteLine($"{precision}: step by step, at least {worstStep} of {n} codes identical ({100.0 * worstStep / n:F4} %)");
        Assert.True(worstStep >= 0.999 * n, $"only {worstStep} of {n} codes identical in some step");

        (byte[][] codes, float[][] absmax) = ReadBlockwiseState(adam, bits);
        IReadOnlyList<float>[] maps = bits == 8
            ? [BlockwiseCodebook.Int8Signed.Values, BlockwiseCodebook.Int8Unsigned.Values]
            : [BlockwiseCodebook.Int4Signed.Values, BlockwiseCodebook.Int4Unsigned.Values];
        for (int plane = 0; plane < 2; plane++)
        {
            int[] actual = QuantizedReference.Unpack(codes[plane], n, bits);
            double gap = maps[plane].Zip(maps[plane].Skip(1), (a, b) => (double)b - a).Max();
            int same = 0;
            for (int i = 0; i < n; i++)
            {
                double value = maps[plane][actual[i]] * (double)absmax[plane][i / (bits == 8 ? 256 : 128)];
                Assert.True(Math.Abs(value - free.Value(plane, i)) <= 2 * gap * Math.Max(absmax[plane][i / (bits == 8 ? 256 : 128)], free.Absmax[plane][i / (bits == 8 ? 256 : 128)]), $"plane {plane}, element {i}");
                same += actual[i] == free.Codes[plane][i] ? 1 : 0;
            }

            output.WriteLine($"{precision}, plane {plane}, free-running: {same} of {n} codes identical after 100 steps ({100.0 * same / n:F4} %)");
            Assert.True(same >= 0.999 * n, $"plane {plane}: only {same} of {n} codes identical");
        }

        double worst = 0;
        for (int i = 0; i < n; i++)
        {
            worst = Math.Max(worst, Math.Abs(p[i] - expected[i]));
        }

        // Where a tie went the other way the two runs take slightly different steps from then on: never more than
        // one learning rate (1e-3) in all, and a few elements only.
        output.WriteLine($"largest |p − p_ref| after 100 steps: {worst:E2}");
        Assert.True(worst < 1e-3, $"parameters differ by up to {worst}");
    }

    [Theory]
    [InlineData(StatePrecision.Int8Blockwise, 3e-4, 6e-2)]
    [InlineData(StatePrecision.Int4Blockwise, 4e-3, 0.8)]
    public void AccuracyAgainstFloat32StateWithTheBitsandbytesTolerances(StatePrecision precision, double freeAbsolute, double freeRelative)
    {
        // bitsandbytes' test_optimizer8bit problem: 1024 × 1024 parameters (4-bit: 1024 × 256) ~ N(0, 0.1²), gradients ~ N(0, 0.01²),
        // Adam defaults. bitsandbytes' protocol: after every step the float32 run takes the quantized run's
        // parameters and (dequantized) state, and the mean absolute and relative differences of one step must be
        // < 6e-5 and < 6e-4 (asserted here for every one of 100 steps, 8-bit and 4-bit). Free-running (never
        // re-synchronised) for 100 steps the runs drift apart by the quantization of m and v; the bounds asserted
        // for that are about 1.5× what this machine measures (printed), a guard against regressions, not a peer's
        // tolerance.
        int n = 1024 * (precision == StatePrecision.Int8Blockwise ? 1024 : 256);
        var quantized = new Adam(n);
        quantized.ChangeStatePrecision(precision);
        var full = new Adam(n);
        var random = new Random(11);
        float[] p = Random(random, n, 0.1);
        float[] q = (float[])p.Clone();
        float[] g = new float[n];
        float[] m = new float[n], v = new float[n];
        double worstAbsolute = 0, worstRelative = 0;
        for (int t = 1; t <= 100; t++)
        {
            for (int i = 0; i < n; i++)
            {
                g[i] = (float)(NumericalTests.Gaussian(random) * 0.01);
            }

            // One float32-rule step from the quantized run's parameters and dequantized state, in double.
            quantized.CopyState("FirstMoment", 0, m);
            quantized.CopyState("SecondMoment", 0, v);
            double bc1 = 1 - Math.Pow(0.9, t), bc2 = 1 - Math.Pow(0.999, t);
            double error = 0, relativeError = 0;
            float[] before = (float[])q.Clone();
            full.Step(p, g);
            quantized.Step(q, g);
            for (int i = 0; i < n; i++)
            {
                double mi = (0.9 * m[i]) + (0.1 * g[i]);
                double vi = (0.999 * v[i]) + (0.001 * g[i] * (double)g[i]);
                double pi = before[i] - (1e-3 * (mi / bc1) / (Math.Sqrt(vi / bc2) + 1e-8));
                double e = Math.Abs(pi - q[i]);
                error += e;
                relativeError += e / (Math.Abs(pi) + 1e-9);
            }

            worstAbsolute = Math.Max(worstAbsolute, error / n);
            worstRelative = Math.Max(worstRelative, relativeError / n);
        }

        Assert.True(worstAbsolute < 6e-5, $"per-step mean absolute error {worstAbsolute:E3}");
        Assert.True(worstRelative < 6e-4, $"per-step mean relative error {worstRelative:E3}");

        (double drift, double relativeDrift) = MeanDifference(p, q);
        output.WriteLine($"{precision}: bitsandbytes protocol, worst step: mean |Δp| = {worstAbsolute:E3}, mean |Δp|/|p| = {worstRelative:E3}");
        output.WriteLine($"{precision}: free-running vs float32 state after 100 steps: mean |Δp| = {drift:E3}, mean |Δp|/|p| = {relativeDrift:E3}");
        Assert.True(drift < freeAbsolute, $"free-running mean absolute difference {drift:E3}");
        Assert.True(relativeDrift < freeRelative, $"free-running mean relative difference {relativeDrift:E3}");
    }

    [Fact]
    public void BytesOfStatePerParameter()
    {
        int n = 64 * 1024 * 1024 / 64; // 1M
        var adam = new Adam(n);
        Assert.Equal(8.0, adam.StateBytesPerParameter, 3);
        adam.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        Assert.Equal(2.03125, adam.StateBytesPerParameter, 6);
        adam.ChangeStatePrecision(StatePrecision.Int4Blockwise);
        Assert.Equal(1.0625, adam.StateBytesPerParameter, 6);
        adam.ChangeStatePrecision(StatePrecision.BFloat16);
        Assert.Equal(4.0, adam.StateBytesPerParameter, 3);

        // Below the threshold a tensor keeps float32 state: 4095 elements cost 8 bytes each, 4096 are quantized.
        var small = new Adam(new ParameterLayout([4095], [4096]));
        small.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        Assert.Equal(((4095 * 8) + (4096 * 2) + (16 * 8)) / 8191.0, small.StateBytesPerParameter, 9);
    }

    [Fact]
    public void TrafficAccountingKnowsTheStoredBytes()
    {
        // Adam reads p, g, m, v and writes p, m, v: 4+4+1+1 read and 4+1+1 written with 8-bit codes, plus a float32
        // absmax per 256 values of each buffer read and written.
        OptimizerDescriptor adam = new Adam(1).Descriptor;
        Assert.Equal(16, adam.BytesReadPerElementWith(StatePrecision.Float32));
        Assert.Equal(12, adam.BytesWrittenPerElementWith(StatePrecision.Float32));
        Assert.Equal(12, adam.BytesReadPerElementWith(StatePrecision.BFloat16));
        Assert.Equal(8 + 2 + (8.0 / 256), adam.BytesReadPerElementWith(StatePrecision.Int8Blockwise));
        Assert.Equal(4 + 2 + (8.0 / 256), adam.BytesWrittenPerElementWith(StatePrecision.Int8Blockwise));
        Assert.Equal(8 + 1 + (8.0 / 128), adam.BytesReadPerElementWith(StatePrecision.Int4Blockwise));
        Assert.Equal(4 + 1 + (8.0 / 128), adam.BytesWrittenPerElementWith(StatePrecision.Int4Blockwise));
        OptimizerDescriptor rmsprop = new RmsProp(1).Descriptor;
        Assert.Equal(8 + 1 + (4.0 / 256), rmsprop.BytesReadPerElementWith(StatePrecision.Int8Blockwise));

        // The per-example squares beside g are read as float32 whatever the state's precision: they are an input,
        // not a state buffer.
        OptimizerDescriptor squares = new PerExampleSquaresAdam(1).Descriptor;
        Assert.Equal(20, squares.BytesReadPerElementWith(StatePrecision.Float32));
        Assert.Equal(8 + 4 + 2 + (8.0 / 256), squares.BytesReadPerElementWith(StatePrecision.Int8Blockwise));
        Assert.Equal(4 + 2 + (8.0 / 256), squares.BytesWrittenPerElementWith(StatePrecision.Int8Blockwise));
    }

    [Fact]
    public void SignednessComesFromTheRule()
    {
        Assert.Equal([false, true], new Adam(1).Descriptor.States.Select(s => s.IsNonNegative));
        Assert.Equal([true], new Adagrad(1).Descriptor.States.Select(s => s.IsNonNegative));
        Assert.Equal([true], new RmsProp(1).Descriptor.States.Select(s => s.IsNonNegative));
        Assert.Equal([false], new Lion(1).Descriptor.States.Select(s => s.IsNonNegative));
        Assert.Equal([false, true, true], new AmsGradAdam(1).Descriptor.States.Select(s => s.IsNonNegative));
    }

    [Theory]
    [InlineData(StatePrecision.Int8Blockwise)]
    [InlineData(StatePrecision.Int4Blockwise)]
    public void CheckpointResumesBitIdentically(StatePrecision precision)
    {
        var layout = new ParameterLayout([10_000, 33], [5_000]);
        var random = new Random(17);
        float[] p = Random(random, layout.TotalLength, 0.1);
        var first = new Adam(layout) { LearningRate = 1e-2 };
        first.ChangeStatePrecision(precision);
        for (int t = 0; t < 5; t++)
        {
            first.Step(p, Random(random, layout.TotalLength, 0.01));
        }

        var stream = new MemoryStream();
        first.SaveCheckpoint(stream);
        var second = new Adam(layout);
        Assert.Throws<CheckpointException>(() => second.LoadCheckpoint(new MemoryStream(stream.ToArray())));
        Assert.Equal(StatePrecision.Float32, second.StatePrecision);
        second.ChangeStatePrecision(precision);
        second.LoadCheckpoint(new MemoryStream(stream.ToArray()));
        float[] q = (float[])p.Clone();
        for (int t = 0; t < 5; t++)
        {
            float[] g = Random(random, layout.TotalLength, 0.01);
            first.Step(p, g);
            second.Step(q, g);
        }

        Assert.Equal(p, q);
        var a = new MemoryStream();
        var b = new MemoryStream();
        first.SaveCheckpoint(a);
        second.SaveCheckpoint(b);
        Assert.Equal(a.ToArray(), b.ToArray());
    }

    [Fact]
    public void ConversionWorksInEveryDirection()
    {
        var layout = new ParameterLayout([9_000, 100], [4_096]);
        var random = new Random(23);
        var adam = new Adam(layout);
        adam.Step(Random(random, layout.TotalLength), Random(random, layout.TotalLength));
        float[] m = CopyPlane(adam, "FirstMoment");
        StatePrecision[] all = [StatePrecision.Float32, StatePrecision.BFloat16, StatePrecision.Int8Blockwise, StatePrecision.Int4Blockwise];
        foreach (StatePrecision from in all)
        {
            foreach (StatePrecision to in all)
            {
                var converted = new Adam(layout);
                converted.Step(Random(new Random(23), layout.TotalLength), Random(new Random(23), layout.TotalLength));
                converted.ChangeStatePrecision(from);
                float[] before = CopyPlane(converted, "FirstMoment");
                converted.ChangeStatePrecision(to);
                Assert.Equal(to, converted.StatePrecision);
                float[] after = CopyPlane(converted, "FirstMoment");

                // Widening to float32 is exact; the small tensor (100 elements) keeps float32 values in blockwise state.
                if (to == StatePrecision.Float32)
                {
                    Assert.Equal(before, after);
                }

                // Every value within the target precision's error of the original float32 value.
                double tolerance = to switch
                {
                    StatePrecision.Float32 => 0,
                    StatePrecision.BFloat16 => 1.0 / 128,
                    StatePrecision.Int8Blockwise => 0.02,
                    _ => 0.25,
                };
                double worst = 0;
                float scale = m.Max(Math.Abs);
                for (int i = 0; i < m.Length; i++)
                {
                    worst = Math.Max(worst, Math.Abs(after[i] - before[i]) / scale);
                }

                Assert.True(worst <= tolerance + (from == StatePrecision.Float32 ? 0 : 0.25), $"{from} → {to}: {worst}");
                Assert.Equal(after[9_000..9_100], before[9_000..9_100].Select(x => to == StatePrecision.BFloat16 ? (float)(BFloat16)x : x));
            }
        }

        // Converting to what it already is changes nothing; an undefined value is refused before anything changes.
        adam.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        float[] quantized = CopyPlane(adam, "FirstMoment");
        Assert.Throws<ArgumentOutOfRangeException>(() => adam.ChangeStatePrecision((StatePrecision)9));
        Assert.Equal(quantized, CopyPlane(adam, "FirstMoment"));
        Assert.Throws<InvalidOperationException>(() => adam.GetState("FirstMoment").ToArray());
    }

    [Fact]
    public void RulesWithoutStateAndOtherParameterTypesStepTheSame()
    {
        // Plain SGD has no state: blockwise "state" changes nothing. Half parameters with 8-bit state take the
        // same steps as float32 parameters rounded to half after each step would not (different inputs), so the
        // check is against the same optimizer with float32 state on Half parameters: codes only change m and v.
        var random = new Random(31);
        float[] p = Random(random, 10_000), g = Random(random, 10_000);
        float[] q = (float[])p.Clone();
        var plain = new Sgd(10_000);
        var quantized = new Sgd(10_000);
        quantized.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        Assert.Equal(0, quantized.StateBytesPerParameter);
        plain.Step(p, g);
        quantized.Step(q, g);
        Assert.Equal(p, q);

        Half[] h = [.. p.Select(x => (Half)x)];
        var adam = new Adam(10_000);
        adam.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        adam.Step(h, [.. g.Select(x => (Half)x)]);
        float[] m = CopyPlane(adam, "FirstMoment");
        Assert.All(Enumerable.Range(0, m.Length), i => Assert.True(Math.Abs(m[i] - (0.1 * (float)(Half)g[i])) <= 0.02 * g.Max(Math.Abs)));
    }

    [Fact]
    public void ResetRestoresInitialValuesInBlockwiseState()
    {
        var adagrad = new Adagrad(10_000) { InitialAccumulatorValue = 0.25 };
        adagrad.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        var random = new Random(3);
        adagrad.Step(Random(random, 10_000), Random(random, 10_000));
        adagrad.Reset();
        Assert.Equal(StatePrecision.Int8Blockwise, adagrad.StatePrecision);
        Assert.All(CopyPlane(adagrad, adagrad.Descriptor.States[0].Name), x => Assert.Equal(0.25f, x));
    }

    [Fact]
    public void ThreadCountDoesNotChangeTheResult()
    {
        var layout = new ParameterLayout([100_000, 70_001], [33, 20_000]);
        float[] Run(int threads)
        {
            var random = new Random(29);
            float[] p = Random(random, layout.TotalLength);
            var adam = new Adam(layout) { MaxDegreeOfParallelism = threads };
            adam.ChangeStatePrecision(StatePrecision.Int8Blockwise);
            for (int t = 0; t < 3; t++)
            {
                adam.Step(p, Random(random, layout.TotalLength));
            }

            return p;
        }

        Assert.Equal(Run(1), Run(2));
    }

    [Theory]
    [InlineData(StatePrecision.Int8Blockwise, false)]
    [InlineData(StatePrecision.Int8Blockwise, true)]
    [InlineData(StatePrecision.Int4Blockwise, false)]
    [InlineData(StatePrecision.Int4Blockwise, true)]
    public void HalfAndBFloat16ParametersStepAsFloat32ParametersHoldingTheSameValues(StatePrecision precision, bool bfloat16)
    {
        // 16-bit parameters and gradients with blockwise state: the fused kernel widens them to float32, updates,
        // and rounds the parameter back once (to nearest even). So the same rule on float32 parameters holding the
        // widened values, rounded the same way after each step, must take exactly the same steps; and the state
        // (codes and absmax), which for Adam without weight decay depends only on the gradients, must be the same
        // bits. Several blocks and a partial last one, several steps.
        int n = (3 * 4096) + 200;
        int bits = precision == StatePrecision.Int8Blockwise ? 8 : 4;
        var random = new Random(bits + (bfloat16 ? 1 : 0));
        Func<float, float> round = bfloat16 ? x => (float)(BFloat16)x : x => (float)(Half)x;
        var narrow = new Adam(n) { LearningRate = 1e-2 };
        var wide = new Adam(n) { LearningRate = 1e-2 };
        narrow.ChangeStatePrecision(precision);
        wide.ChangeStatePrecision(precision);
        float[] f = [.. Random(random, n).Select(round)];
        Half[] h = [.. f.Select(x => (Half)x)];
        BFloat16[] b = [.. f.Select(x => (BFloat16)x)];
        for (int t = 1; t <= 4; t++)
        {
            float[] g = [.. Random(random, n, 0.01).Select(round)];
            if (bfloat16)
            {
                narrow.Step(b, [.. g.Select(x => (BFloat16)x)]);
            }
            else
            {
                narrow.Step(h, [.. g.Select(x => (Half)x)]);
            }

            wide.Step(f, g);
            f = [.. f.Select(round)];
            float[] got = bfloat16 ? [.. b.Select(x => (float)x)] : [.. h.Select(x => (float)x)];
            Assert.Equal(f, got);
            Assert.NotEqual(got, [.. Random(new Random(bits + (bfloat16 ? 1 : 0)), n).Select(round)]); // the parameters moved
        }

        (byte[][] codes, float[][] absmax) = ReadBlockwiseState(narrow, bits);
        (byte[][] expectedCodes, float[][] expectedAbsmax) = ReadBlockwiseState(wide, bits);
        Assert.Equal(expectedCodes, codes);
        Assert.Equal(expectedAbsmax, absmax);
    }

    private static float[] CopyPlane(Optimizer optimizer, string name)
    {
        var all = new List<float>();
        for (int j = 0; j < optimizer.Layout.TensorCount; j++)
        {
            float[] part = new float[optimizer.Layout.LengthOf(j)];
            optimizer.CopyState(name, j, part);
            all.AddRange(part);
        }

        return [.. all];
    }

    /// <summary>The codes and absmax of a single-tensor, two-buffer optimizer (<see cref="BlockwiseStateReader"/>), per buffer.</summary>
    private static (byte[][] Codes, float[][] Absmax) ReadBlockwiseState(Optimizer optimizer, int bits)
    {
        (byte[][][] codes, float[][][] absmax) = BlockwiseStateReader.Read(optimizer, _ => bits);
        return ([.. codes.Select(plane => plane[0])], [.. absmax.Select(plane => plane[0])]);
    }
}
