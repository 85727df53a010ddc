using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ILGPU;
using ILGPU.Runtime.CPU;
using OptGen.Gpu;
using OptGen.Runtime.Tests.Reductions;
using OptGen.Testing;
using Xunit;
using Xunit.Abstractions;
using static OptGen.Runtime.Tests.BlockwiseStateChecks;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Momentum normalized by its own tensor norm, declared with 8-bit state: the reduction reads a state the first pass
/// has just updated (‖m‖ of the new m), so the last pass's replay of the first pass is what the update sees.
/// </summary>
[Optimizer(Name = "Declared normalized momentum")]
[Hyperparameter("Lr", 0.01)]
[Hyperparameter("Beta", 0.9)]
[State("m")]
[Update("m = Beta * m + g")]
[Update("let n = norm(m)")]
[Update("p = p - Lr * m / (n + 1e-3)")]
[DefaultStatePrecision(StatePrecision.Int8Blockwise)]
public sealed partial class DeclaredNormalizedMomentum;

/// <summary>
/// 8-bit and 4-bit blockwise state, and a state precision per parameter group, for rules that update in several passes
/// with reductions between them (LAMB, LARS, schedule-free AdamW, declared tensor-scope rules): the float64 reference
/// of the quantized algorithm, thread-count independence, checkpoints, per-group precisions, refusals.
/// </summary>
public sealed class BlockwiseMultiPassTests(ITestOutputHelper output)
{
    private const int Threshold = 4096;

    /// <summary>One tensor's update in double, with its whole-tensor reductions: <paramref name="p"/> and the dequantized <paramref name="state"/> (per plane) in place.</summary>
    private delegate void TensorRule(double[] p, double[] g, double[][] state, int t);

    public static TheoryData<string, StatePrecision> ReferenceCases() => new()
    {
        { "lamb", StatePrecision.Int8Blockwise },
        { "lamb", StatePrecision.Int4Blockwise },
        { "lars", StatePrecision.Int8Blockwise },
        { "lars", StatePrecision.Int4Blockwise },
        { "declared-lamb", StatePrecision.Int8Blockwise },
        { "declared-lamb", StatePrecision.Int4Blockwise },
        { "declared-normalized-momentum", StatePrecision.Int8Blockwise },
        { "declared-normalized-momentum", StatePrecision.Int4Blockwise },
        { "adamw-schedulefree", StatePrecision.Int8Blockwise },
        { "adamw-schedulefree", StatePrecision.Int4Blockwise },
    };

    [Theory]
    [MemberData(nameof(ReferenceCases))]
    public void KernelMatchesTheFloat64ReferenceOfTheQuantizedAlgorithm(string rule, StatePrecision precision)
    {
        // bitsandbytes' test problem (p ~ N(0, 0.1²), g ~ N(0, 0.01²)) on three tensors in two groups: one of two
        // work units with a partial last block, one of 9000 elements, one below the threshold (float32 state).
        // The reference is written from the definition (docs/training.md): per tensor, dequantize every plane
        // (map[code]·absmax), run the rule in double with its norms over the new values, requantize each block to the
        // nearest code once. Step by step (the reference takes the kernel's codes, absmax, float32 state and
        // parameters before each step): ≥ 99.9 % identical codes, the rest one code apart, parameters within float32
        // rounding. Free-running for 100 steps: ≥ 99.9 % identical codes, and ≥ 99.9 % of the values within two code
        // gaps (where a tie went the other way the runs part; in the signed map's fine region near zero a later
        // cancellation can land a few codes apart).
        var layout = new ParameterLayout([20_077, 100], [9_000]);
        int bits = precision == StatePrecision.Int8Blockwise ? 8 : 4;
        MultiPassOptimizer optimizer = Create(rule, layout);
        optimizer.ChangeStatePrecision(precision);
        (TensorRule update, _) = Reference(rule);

        // The map of each plane as the rule declares it: LAMB's v ≥ 0 takes the unsigned map (as bitsandbytes' state2;
        // the declared rule says so with [NonNegativeState("v")], its β₂ being any finite number).
        bool[] signed = [.. optimizer.Descriptor.States.Select(s => !s.IsNonNegative)];
        Assert.Equal(rule switch { "lars" or "declared-normalized-momentum" => [true], "adamw-schedulefree" => [true, false, true], _ => [true, false] }, signed);

        // Schedule-free's third buffer (y, kept for Eval) is not touched by a step: its codes are not compared.
        int compared = rule == "adamw-schedulefree" ? 2 : signed.Length;
        var free = new LayoutReference(layout, bits, signed, update, compared);
        var stepwise = new LayoutReference(layout, bits, signed, update, compared);
        var random = new Random(5);
        float[] p = Random(random, layout.TotalLength, 0.1);
        float[] expected = (float[])p.Clone();
        int n = layout.TotalLength;
        int quantizedElements = Enumerable.Range(0, layout.TensorCount).Where(j => layout.LengthOf(j) >= Threshold).Sum(layout.LengthOf) * compared;
        int worstStep = int.MaxValue;
        double worstParameter = 0;
        for (int t = 1; t <= 100; t++)
        {
            float[] g = Random(random, n, 0.01);
            stepwise.Load(optimizer);
            float[] single = (float[])p.Clone();
            optimizer.Step(p, g);
            free.Step(expected, g, t);
            stepwise.Step(single, g, t);
            worstStep = Math.Min(worstStep, stepwise.CompareCodes(optimizer, (plane, tensor, i, actual, reference) =>
                Assert.True(Math.Abs(actual - reference) <= 1, $"step {t}, plane {plane}, tensor {tensor}, element {i}: code {actual} vs {reference}")));
            for (int i = 0; i < n; i++)
            {
                worstParameter = Math.Max(worstParameter, Math.Abs(p[i] - single[i]));
            }
        }

        output.WriteLine($"{rule} {precision}: step by step, at least {worstStep} of {quantizedElements} codes identical ({100.0 * worstStep / quantizedElements:F4} %); largest one-step |p − p_ref| {worstParameter:E2}");
        Assert.True(worstStep >= 0.999 * quantizedElements, $"only {worstStep} of {quantizedElements} codes identical in some step");
        Assert.True(worstParameter <= 2e-6, $"one step's parameters differ by {worstParameter:E2}");

        int same = free.CompareCodes(optimizer, (plane, tensor, i, actual, reference) => { });
        int beyond = free.BeyondTwoGaps(optimizer);
        double drift = p.Zip(expected, (a, b) => Math.Abs(a - (double)b)).Max();
        output.WriteLine($"{rule} {precision}: free-running, {same} of {quantizedElements} codes identical after 100 steps ({100.0 * same / quantizedElements:F4} %), {beyond} values more than two code gaps apart; largest |p − p_ref| {drift:E2}");
        Assert.True(same >= 0.999 * quantizedElements, $"only {same} of {quantizedElements} codes identical after 100 steps");
        Assert.True(beyond <= 0.001 * quantizedElements, $"{beyond} values more than two code gaps apart");

        // Where a tie went the other way the two runs take slightly different steps from then on, on a few elements:
        // a step of a normalized rule is at most about η (schedule-free: η = 2.5·10⁻³, and z keeps the difference).
        double bound = rule == "adamw-schedulefree" ? 2 * 2.5e-3 : 1e-3;
        Assert.True(drift < bound, $"parameters drifted by {drift:E2}");
    }

    [Fact]
    public void ADeclaredTensorReductionRuleStartsWithItsDeclaredBlockwisePrecision()
    {
        var layout = new ParameterLayout([10_000, 100]);
        var rule = new DeclaredNormalizedMomentum(layout);
        Assert.Equal(StatePrecision.Int8Blockwise, rule.StatePrecision);

        // 10,000 elements: one code byte each and an absmax per 256; 100 below the threshold: float32.
        Assert.Equal((10_000 + (4 * 40) + (4 * 100)) / 10_100.0, rule.StateBytesPerParameter, 9);
    }

    [Theory]
    [InlineData("lamb")]
    [InlineData("lars")]
    [InlineData("adamw-schedulefree")]
    [InlineData("declared-lamb")]
    public void EveryThreadCountGivesTheSameBits(string rule)
    {
        // 425,105 elements: three threads take part (ParallelUpdate.ThreadsFor); work units are fixed by the layout.
        var layout = new ParameterLayout([300_000, 5_000, 100], [120_005]);
        BlockwiseStateChecks.AssertEveryThreadCountGivesTheSameBits(rule, l => Create(rule, l), layout, Precisions());
    }

    [Theory]
    [InlineData("lamb")]
    [InlineData("lars")]
    [InlineData("adamw-schedulefree")]
    [InlineData("declared-lamb")]
    public void ResumingFromACheckpointIsBitIdentical(string rule)
    {
        var layout = new ParameterLayout([20_077, 100], [9_000]);
        foreach (Action<Optimizer> precision in Precisions())
        {
            BlockwiseStateChecks.AssertResumingIsBitIdentical(rule, l => Create(rule, l), layout, precision);
        }
    }

    [Theory]
    [InlineData("lamb")]
    [InlineData("lars")]
    [InlineData("adamw-schedulefree")]
    [InlineData("declared-lamb")]
    public void GroupsOfTheirOwnPrecisionMatchSeparateOptimizers(string rule)
    {
        // Four groups, float32, bfloat16, 8-bit and 4-bit, in one optimizer; each against an optimizer of its tensors
        // alone with that precision for every group: the same bits (the reductions are per tensor).
        int[][] groups = [[20_000, 50], [9_000], [17_003], [5_000, 33]];
        StatePrecision[] precisions = [StatePrecision.Float32, StatePrecision.BFloat16, StatePrecision.Int8Blockwise, StatePrecision.Int4Blockwise];
        var layout = new ParameterLayout([.. groups.Select(g => (IReadOnlyList<int>)g)]);
        MultiPassOptimizer mixed = Create(rule, layout);
        mixed.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        for (int k = 0; k < groups.Length; k++)
        {
            mixed.Groups[k].StatePrecision = precisions[k];
        }

        MultiPassOptimizer[] separate = [.. groups.Select((lengths, k) => Create(rule, new ParameterLayout(lengths)))];
        for (int k = 0; k < groups.Length; k++)
        {
            separate[k].ChangeStatePrecision(precisions[k]);
        }

        var random = new Random(9);
        float[] p = Random(random, layout.TotalLength, 0.1);
        float[][] parts = [.. groups.Select((_, k) => p.AsSpan(GroupStart(layout, k), groups[k].Sum()).ToArray())];
        BlockwiseStateChecks.StepWholeAndParts(
            mixed, p, separate, parts, [.. groups.Select((_, k) => GroupStart(layout, k))], [.. groups.Select(lengths => lengths.Sum())], random, steps: 12);

        for (int k = 0; k < groups.Length; k++)
        {
            AssertBitwiseEqual(parts[k], p.AsSpan(GroupStart(layout, k), groups[k].Sum()), $"{rule}: group {k} ({precisions[k]}) parameters");
            Assert.Equal(precisions[k], mixed.StatePrecisionOf(k));
            for (int j = 0; j < groups[k].Length; j++)
            {
                int tensor = FirstTensor(layout, k) + j;
                foreach (StateDescriptor state in mixed.Descriptor.States)
                {
                    AssertBitwiseEqual(State(separate[k], state.Name, j), State(mixed, state.Name, tensor), $"{rule}: group {k}, tensor {j}, {state.Name}");
                }
            }
        }
    }

    [Fact]
    public void ConversionsInEveryDirectionChangeOnlyTheConvertedGroup()
    {
        StatePrecision[] all = [StatePrecision.Float32, StatePrecision.BFloat16, StatePrecision.Int8Blockwise, StatePrecision.Int4Blockwise];
        var layout = new ParameterLayout([20_000], [9_000, 40]);
        foreach (StatePrecision from in all)
        {
            foreach (StatePrecision to in all)
            {
                var lamb = new Lamb(layout);
                lamb.Groups[1].StatePrecision = from;
                var random = new Random(2);
                float[] p = Random(random, layout.TotalLength, 0.1);
                for (int t = 0; t < 3; t++)
                {
                    lamb.Step(p, Random(random, layout.TotalLength, 0.01));
                }

                float[][] before = [.. Enumerable.Range(0, layout.TensorCount).SelectMany(j => new[] { State(lamb, "FirstMoment", j), State(lamb, "SecondMoment", j) })];
                lamb.Groups[1].StatePrecision = to;
                Assert.Equal(to, lamb.StatePrecisionOf(1));
                float[][] after = [.. Enumerable.Range(0, layout.TensorCount).SelectMany(j => new[] { State(lamb, "FirstMoment", j), State(lamb, "SecondMoment", j) })];

                // Group 0 (tensor 0) bit for bit; group 1 exactly when widening to float32, else within its precision.
                AssertBitwiseEqual(before[0], after[0], $"{from} → {to}: group 0, m");
                AssertBitwiseEqual(before[1], after[1], $"{from} → {to}: group 0, v");
                for (int k = 2; k < before.Length; k++)
                {
                    if (to == StatePrecision.Float32 || to == from)
                    {
                        AssertBitwiseEqual(before[k], after[k], $"{from} → {to}: plane {k}");
                        continue;
                    }

                    double scale = before[k].Max(x => Math.Abs(x));
                    double tolerance = to switch { StatePrecision.BFloat16 => 4e-3, StatePrecision.Int8Blockwise => 0.02, _ => 0.25 } * scale;
                    for (int i = 0; i < before[k].Length; i++)
                    {
                        Assert.True(Math.Abs(before[k][i] - after[k][i]) <= tolerance, $"{from} → {to}: plane {k}, element {i}: {before[k][i]} vs {after[k][i]}");
                    }
                }

                // It still steps.
                lamb.Step(p, Random(random, layout.TotalLength, 0.01));
                Assert.All(p, x => Assert.True(float.IsFinite(x)));
            }
        }
    }

    [Fact]
    public void NonFiniteGradientsFollowTheRulesHandling()
    {
        // With SkipNonFinite the step is skipped: parameters, codes and absmax stay bit for bit. Without it LAMB's
        // norms become NaN (as with float32 state): the NaN element's blocks get absmax NaN and codes 0 (one
        // definition with the single-pass driver), the other blocks of m stay finite.
        var layout = new ParameterLayout([8192]);
        var lamb = new Lamb(layout);
        lamb.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        var random = new Random(12);
        float[] p = Random(random, layout.TotalLength, 0.1);
        lamb.Step(p, Random(random, layout.TotalLength, 0.01));
        float[] g = Random(random, layout.TotalLength, 0.01);
        g[300] = float.NaN;
        float[] before = (float[])p.Clone();
        byte[] state = Checkpoint(lamb);
        StepResult skipped = lamb.Step(p, g, new StepOptions { SkipNonFinite = true });
        Assert.True(skipped.Skipped);
        AssertBitwiseEqual(before, p, "parameters after a skipped step");
        Assert.Equal(state, Checkpoint(lamb));

        lamb.Step(p, g);
        (byte[][][] codes, float[][][] absmax) = BlockwiseStateReader.Read(lamb, _ => 8);
        for (int k = 0; k < 2; k++)
        {
            Assert.True(float.IsNaN(absmax[k][0][1]), $"plane {k}: the NaN element's block");
            Assert.All(codes[k][0][256..512], c => Assert.Equal(0, c));
        }

        float[] m = State(lamb, "FirstMoment", 0);
        Assert.All(m[512..], x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void ScheduleFreeEvalAndTrainRefuseStateThatIsNotFloat32AndNothingChanges()
    {
        // Eval keeps y in the third state buffer to restore it exactly; quantized (or bfloat16) it would come back
        // rounded, so Eval and Train refuse; the step itself runs with any precision.
        var layout = new ParameterLayout([10_000]);
        var schedulefree = new AdamWScheduleFree(layout);
        schedulefree.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        var random = new Random(8);
        float[] p = Random(random, layout.TotalLength, 0.1);
        schedulefree.Step(p, Random(random, layout.TotalLength, 0.01));
        float[] before = (float[])p.Clone();
        byte[] state = Checkpoint(schedulefree);
        var ex = Assert.Throws<InvalidOperationException>(() => schedulefree.Eval(p));
        Assert.Contains("float32 state", ex.Message, StringComparison.Ordinal);
        AssertBitwiseEqual(before, p, "parameters");
        Assert.Equal(state, Checkpoint(schedulefree));

        // Back to float32: Eval and Train restore y exactly.
        schedulefree.ChangeStatePrecision(StatePrecision.Float32);
        schedulefree.Eval(p);
        schedulefree.Train(p);
        AssertBitwiseEqual(before, p, "parameters after Eval, Train");
    }

    [Fact]
    public void TheGpuOptimizerRefusesBlockwiseStateOfAMultiPassRule()
    {
        using Context context = Context.Create(builder => builder.DefaultCPU());
        using CPUAccelerator accelerator = context.CreateCPUAccelerator(0);
        var lamb = new Lamb(new ParameterLayout([8192]));
        lamb.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        var ex = Assert.Throws<NotSupportedException>(() => new GpuOptimizer(lamb, accelerator));
        Assert.Contains("Int8Blockwise", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, lamb.StepCount);
    }

    [Theory]
    [InlineData("lamb", StatePrecision.Int8Blockwise)]
    [InlineData("lamb", StatePrecision.Int4Blockwise)]
    [InlineData("lars", StatePrecision.Int8Blockwise)]
    [InlineData("lars", StatePrecision.Int4Blockwise)]
    public void AccuracyAgainstFloat32State(string rule, StatePrecision precision)
    {
        // bitsandbytes' protocol (test_optimizer8bit): after every step the float32 rule (in double, from the formula)
        // takes the quantized run's parameters and dequantized state; one step's mean absolute and relative
        // differences must be < 6e-5 and < 6e-4 (asserted for each of 100 steps). Free-running for 100 steps against
        // the float32-state optimizer: printed, and bounded loosely (regression guard).
        int n = 256 * 1024;
        var layout = new ParameterLayout([n]);
        MultiPassOptimizer quantized = Create(rule, layout);
        quantized.ChangeStatePrecision(precision);
        MultiPassOptimizer full = Create(rule, layout);
        (TensorRule update, _) = Reference(rule);
        (double worstAbsolute, double worstRelative, double drift, double relativeDrift) = BlockwiseStateChecks.BitsandbytesProtocol(quantized, full, (expected, g, t) =>
        {
            double[][] state = [.. quantized.Descriptor.States.Select(s => State(quantized, s.Name, 0).Select(x => (double)x).ToArray())];
            update(expected, g, state, t);
        });
        output.WriteLine($"{rule} {precision}: bitsandbytes protocol, worst step: mean |Δp| = {worstAbsolute:E3}, mean |Δp|/|p| = {worstRelative:E3}");
        output.WriteLine($"{rule} {precision}: free-running vs float32 state after 100 steps: mean |Δp| = {drift:E3}, mean |Δp|/|p| = {relativeDrift:E3}");
        Assert.True(worstAbsolute < 6e-5, $"per-step mean absolute error {worstAbsolute:E3}");
        Assert.True(worstRelative < 6e-4, $"per-step mean relative error {worstRelative:E3}");
        Assert.True(drift < (precision == StatePrecision.Int8Blockwise ? 1e-3 : 5e-3), $"free-running mean absolute difference {drift:E3}");
    }

    /// <summary>The rules under test, with their defaults (LARS with a weight decay so λ‖p‖ takes part).</summary>
    private static MultiPassOptimizer Create(string rule, ParameterLayout layout) => rule switch
    {
        "lamb" => new Lamb(layout),
        "lars" => new Lars(layout) { WeightDecay = 1e-4 },
        "adamw-schedulefree" => new AdamWScheduleFree(layout) { WeightDecay = 0.01 },
        "declared-lamb" => new DeclaredLamb(layout),
        "declared-normalized-momentum" => new DeclaredNormalizedMomentum(layout),
        _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, null),
    };

    /// <summary>The rule in double, written from its definition, and which planes are signed.</summary>
    private static (TensorRule Update, bool[] Signed) Reference(string rule) => rule switch
    {
        // LAMB (both the catalog's and the declared rule): m, v, r = m̂/(√v̂ + ε) + λp, trust = ‖p‖/‖r‖ (1 when either is 0).
        "lamb" or "declared-lamb" => ((p, g, s, t) =>
        {
            const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-6, wd = 0.01;
            double bc1 = 1 - Math.Pow(b1, t), bc2 = 1 - Math.Pow(b2, t);
            double[] r = new double[p.Length];
            double pn = 0, rn = 0;
            for (int i = 0; i < p.Length; i++)
            {
                s[0][i] = (b1 * s[0][i]) + ((1 - b1) * g[i]);
                s[1][i] = (b2 * s[1][i]) + ((1 - b2) * g[i] * g[i]);
                r[i] = ((s[0][i] / bc1) / (Math.Sqrt(s[1][i] / bc2) + eps)) + (wd * p[i]);
                pn += p[i] * p[i];
                rn += r[i] * r[i];
            }

            double trust = pn > 0 && rn > 0 ? Math.Sqrt(pn) / Math.Sqrt(rn) : 1;
            for (int i = 0; i < p.Length; i++)
            {
                p[i] -= lr * trust * r[i];
            }
        }, [true, false]),

        // LARS: local = tc‖p‖/(‖g‖ + λ‖p‖) (1 when either norm is 0), b ← μb + η·local·(g + λp), p ← p − b.
        "lars" => ((p, g, s, t) =>
        {
            const double lr = 0.1, mu = 0.9, wd = 1e-4, tc = 0.001;
            double pn = Math.Sqrt(p.Sum(x => x * x)), gn = Math.Sqrt(g.Sum(x => x * x));
            double local = pn > 0 && gn > 0 ? tc * pn / (gn + (wd * pn)) : 1;
            for (int i = 0; i < p.Length; i++)
            {
                s[0][i] = (mu * s[0][i]) + (lr * local * (g[i] + (wd * p[i])));
                p[i] -= s[0][i];
            }
        }, [true]),

        // Schedule-free AdamW (Defazio et al. 2024) with the defaults (no warmup, r = 0, weight power 2): c = w/W = 1/t,
        // y = p; z₁ = y; v ← β₂v + (1 − β₂)g²; d = g/(√(v/(1 − β₂ᵗ)) + ε) + λy; p ← lerp(y, z, c) + η(β₁(1 − c) − 1)d;
        // z ← z − ηd. The third buffer (y kept for Eval) is not touched.
        "adamw-schedulefree" => ((p, g, s, t) =>
        {
            const double lr = 0.0025, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
            double c = 1.0 / t, bc2 = 1 - Math.Pow(b2, t), yStep = lr * ((b1 * (1 - c)) - 1);
            for (int i = 0; i < p.Length; i++)
            {
                double y = p[i], z = t == 1 ? y : s[0][i];
                s[1][i] = (b2 * s[1][i]) + ((1 - b2) * g[i] * g[i]);
                double d = (g[i] / (Math.Sqrt(s[1][i] / bc2) + eps)) + (wd * y);
                p[i] = y + (c * (z - y)) + (d * yStep);
                s[0][i] = z - (lr * d);
            }
        }, [true, false, true]),

        // m ← βm + g, p ← p − η·m/(‖m‖ + 10⁻³), the norm of the new m.
        "declared-normalized-momentum" => ((p, g, s, t) =>
        {
            const double lr = 0.01, beta = 0.9;
            double norm = 0;
            for (int i = 0; i < p.Length; i++)
            {
                s[0][i] = (beta * s[0][i]) + g[i];
                norm += s[0][i] * s[0][i];
            }

            norm = Math.Sqrt(norm);
            for (int i = 0; i < p.Length; i++)
            {
                p[i] -= lr * s[0][i] / (norm + 1e-3);
            }
        }, [true]),
        _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, null),
    };

    /// <summary>The precisions each rule is checked with: 8-bit, 4-bit, and groups of their own precisions.</summary>
    private static IEnumerable<Action<Optimizer>> Precisions()
    {
        yield return o => o.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        yield return o => o.ChangeStatePrecision(StatePrecision.Int4Blockwise);
        yield return o =>
        {
            o.ChangeStatePrecision(StatePrecision.Int8Blockwise);
            o.Groups[1].StatePrecision = StatePrecision.BFloat16;
        };
        yield return o =>
        {
            o.ChangeStatePrecision(StatePrecision.BFloat16);
            o.Groups[1].StatePrecision = StatePrecision.Int4Blockwise;
            o.Groups[0].StatePrecision = StatePrecision.Float32;
        };
    }

    private static float[] State(Optimizer optimizer, string name, int tensor)
    {
        float[] values = new float[optimizer.Layout.LengthOf(tensor)];
        optimizer.CopyState(name, tensor, values);
        return values;
    }

    private static int FirstTensor(ParameterLayout layout, int group) => Enumerable.Range(0, layout.TensorCount).First(j => layout.GroupOf(j) == group);

    private static int GroupStart(ParameterLayout layout, int group) => layout.ArenaOffsetOf(FirstTensor(layout, group));

    /// <summary>
    /// The quantized algorithm in double over a layout: a tensor at or above the threshold keeps its planes as codes
    /// and absmax (<see cref="QuantizedReference"/>), a shorter one in float32, as the optimizer stores them.
    /// </summary>
    private sealed class LayoutReference
    {
        private readonly ParameterLayout _layout;
        private readonly int _bits;
        private readonly TensorRule _rule;
        private readonly QuantizedReference?[] _quantized;
        private readonly double[][][] _plain;
        private readonly bool[] _signed;
        private readonly int _compared;

        public LayoutReference(ParameterLayout layout, int bits, bool[] signed, TensorRule rule, int compared)
        {
            _compared = compared;
            _layout = layout;
            _bits = bits;
            _rule = rule;
            _signed = signed;
            _quantized = [.. Enumerable.Range(0, layout.TensorCount).Select(j => layout.LengthOf(j) >= Threshold
                ? new QuantizedReference(layout.LengthOf(j), bits, signed, static (ref double p, double g, double[] s, int t) => { })
                : null)];
            _plain = [.. Enumerable.Range(0, layout.TensorCount).Select(j => signed.Select(_ => new double[layout.LengthOf(j)]).ToArray())];
        }

        private int BitsOf(int tensor) => _quantized[tensor] is null ? 0 : _bits;

        /// <summary>Takes the optimizer's stored state (codes, absmax, float32 values) as this reference's.</summary>
        public void Load(Optimizer optimizer)
        {
            (byte[][][] codes, float[][][] absmax) = BlockwiseStateReader.Read(optimizer, BitsOf);
            for (int j = 0; j < _layout.TensorCount; j++)
            {
                if (_quantized[j] is { } q)
                {
                    q.Load([.. codes.Select(plane => plane[j])], [.. absmax.Select(plane => plane[j])]);
                    continue;
                }

                for (int k = 0; k < _signed.Length; k++)
                {
                    _plain[j][k] = [.. State(optimizer, optimizer.Descriptor.States[k].Name, j).Select(x => (double)x)];
                }
            }
        }

        public void Step(float[] p, float[] g, int t)
        {
            for (int j = 0; j < _layout.TensorCount; j++)
            {
                int start = _layout.ArenaOffsetOf(j), n = _layout.LengthOf(j);
                double[] pj = [.. p.AsSpan(start, n).ToArray().Select(x => (double)x)];
                double[] gj = [.. g.AsSpan(start, n).ToArray().Select(x => (double)x)];
                double[][] state = _quantized[j]?.Dequantized() ?? _plain[j];
                _rule(pj, gj, state, t);
                for (int i = 0; i < n; i++)
                {
                    p[start + i] = (float)pj[i];
                }

                if (_quantized[j] is { } q)
                {
                    q.Requantize(state);
                }
                else
                {
                    // The optimizer keeps these in float32.
                    _plain[j] = [.. state.Select(plane => plane.Select(x => (double)(float)x).ToArray())];
                }
            }
        }

        /// <summary>Calls <paramref name="check"/> for every code of every quantized tensor; returns how many are identical (all planes and tensors).</summary>
        public int CompareCodes(Optimizer optimizer, Action<int, int, int, int, int> check)
        {
            (byte[][][] codes, _) = BlockwiseStateReader.Read(optimizer, BitsOf);
            int same = 0;
            for (int j = 0; j < _layout.TensorCount; j++)
            {
                if (_quantized[j] is not { } q)
                {
                    continue;
                }

                for (int k = 0; k < _compared; k++)
                {
                    int[] actual = QuantizedReference.Unpack(codes[k][j], _layout.LengthOf(j), _bits);
                    for (int i = 0; i < actual.Length; i++)
                    {
                        check(k, j, i, actual[i], q.Codes[k][i]);
                        same += actual[i] == q.Codes[k][i] ? 1 : 0;
                    }
                }
            }

            return same;
        }

        /// <summary>How many dequantized values lie more than two code gaps (of the larger absmax) from this reference's.</summary>
        public int BeyondTwoGaps(Optimizer optimizer)
        {
            int beyond = 0;
            int block = _bits == 8 ? 256 : 128;
            for (int j = 0; j < _layout.TensorCount; j++)
            {
                if (_quantized[j] is not { } q)
                {
                    continue;
                }

                for (int k = 0; k < _compared; k++)
                {
                    float[] map = ReferenceMaps.For(_bits, _signed[k]);
                    double gap = map.Zip(map.Skip(1), (a, b) => (double)b - a).Max();
                    float[] actual = State(optimizer, optimizer.Descriptor.States[k].Name, j);
                    double[] reference = q.Dequantized()[k];
                    float[] absmax = new float[(actual.Length + block - 1) / block];
                    for (int i = 0; i < actual.Length; i++)
                    {
                        absmax[i / block] = Math.Max(absmax[i / block], Math.Abs(actual[i]));
                    }

                    for (int i = 0; i < actual.Length; i++)
                    {
                        double scale = Math.Max(absmax[i / block], q.Absmax[k][i / block]);
                        beyond += Math.Abs(actual[i] - reference[i]) <= 2 * gap * scale * 1.01 ? 0 : 1;
                    }
                }
            }

            return beyond;
        }
    }
}
