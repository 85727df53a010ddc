using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ILGPU.Runtime;
using OptGen.Kernels;
using OptGen.Testing;
using Xunit;
using Xunit.Abstractions;
using static OptGen.Gpu.Tests.BlockwiseGpuTests;

namespace OptGen.Gpu.Tests;

/// <summary>
/// State precision per parameter group on the GPU path (ILGPU's CPU accelerator): groups in float32, bfloat16, 8-bit
/// and 4-bit state in one optimizer, with tensors below the blockwise threshold keeping float32 state inside the
/// blockwise groups. Each step, conversion and checkpoint is compared bit for bit with the CPU step of the same mixed
/// optimizer (which GroupStatePrecisionTests checks against separate uniform optimizers, themselves checked against
/// float64 references), and one mixed case against a float64 reference directly.
/// </summary>
public sealed class GpuMixedPrecisionTests : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator;
    private readonly ITestOutputHelper _output;

    public GpuMixedPrecisionTests(CpuAcceleratorFixture fixture, ITestOutputHelper output)
    {
        _accelerator = fixture.Accelerator;
        _output = output;
    }

    /// <summary>
    /// Four groups, each with a tensor above the blockwise threshold (partial last blocks, and one of exactly 4096)
    /// and one below it (float32 state in a blockwise group).
    /// </summary>
    private static ParameterLayout Layout() => new(new[] { 9000, 1000 }, new[] { 5003, 33 }, new[] { 4096, 700 }, new[] { 8197, 100 });

    /// <summary>The precision mixes: the optimizer's precision, then each group's own (null: the optimizer's).</summary>
    private static readonly Dictionary<string, (StatePrecision Optimizer, StatePrecision?[] Groups)> Mixes = new()
    {
        // Every codec at once: 8-bit and 4-bit tensors (two launches), bfloat16 and float32 groups.
        ["all four"] = (StatePrecision.Float32, [StatePrecision.Int8Blockwise, null, StatePrecision.BFloat16, StatePrecision.Int4Blockwise]),

        // An 8-bit optimizer with a 4-bit group and a bfloat16 group (bitsandbytes' override_config).
        ["8-bit with overrides"] = (StatePrecision.Int8Blockwise, [null, StatePrecision.BFloat16, null, StatePrecision.Int4Blockwise]),

        // Nothing quantized: float32 and bfloat16 groups only (per-tensor state without codes).
        ["float32 and bfloat16"] = (StatePrecision.BFloat16, [StatePrecision.Float32, null, null, StatePrecision.Float32]),

        // 4-bit blocks with a float32 group: one launch of 128-element blocks carrying the float32 chunks.
        ["4-bit with float32"] = (StatePrecision.Int4Blockwise, [null, null, StatePrecision.Float32, null]),
    };

    public static TheoryData<string, string, int> Runs => new()
    {
        { nameof(Adam), "all four", 60 },
        { nameof(Adam), "8-bit with overrides", 60 },
        { nameof(Adam), "float32 and bfloat16", 60 },
        { nameof(Adam), "4-bit with float32", 60 },
        { nameof(AdamW), "all four", 50 },
        { nameof(RmsProp), "all four", 50 },
        { nameof(Lion), "all four", 50 },
        { nameof(SgdMomentum), "8-bit with overrides", 50 },

        // A rule without state: nothing is stored per tensor, the groups' precisions change nothing.
        { nameof(Sgd), "all four", 10 },
    };

    [Theory]
    [MemberData(nameof(Runs))]
    public void MixedPrecisionStepIsBitIdenticalToTheCpuStep(string rule, string mix, int steps)
    {
        // Every engine decision in turn (plain steps, unscaling, clipping with the device-side factor, skipping a
        // non-finite gradient), a schedule set on one group a third of the way and a learning rate changed half-way.
        ParameterLayout layout = Layout();
        Optimizer cpu = CreateMixed(rule, layout, mix);
        Optimizer host = CreateMixed(rule, layout, mix);
        using var gpu = new GpuOptimizer(host, _accelerator);
        for (int k = 0; k < layout.GroupCount; k++)
        {
            Assert.Equal(cpu.StatePrecisionOf(k), gpu.StatePrecisionOf(k));
        }

        var random = new Random(23);
        int n = layout.TotalLength;
        float[] p = Normal(random, n, 0.1);
        float[] q = (float[])p.Clone();
        float[] g = new float[n];
        for (int t = 1; t <= steps; t++)
        {
            ParityTests.Gradients(random, g);
            StepOptions options = ParityTests.PhaseOptions(t, steps);
            if (t == 7 * steps / 10)
            {
                g[9500] = float.NaN;
            }

            if (t == steps / 3)
            {
                foreach (Optimizer o in new[] { cpu, host })
                {
                    o.Groups[2].SetSchedule("LearningRate", Schedule.Cosine(2 * o.Groups[2]["LearningRate"], steps));
                }
            }

            if (t == steps / 2)
            {
                foreach (Optimizer o in new[] { cpu, host })
                {
                    o.Groups[1]["LearningRate"] *= 0.5;
                }
            }

            StepResult expected = cpu.Step(p, g, options);
            StepResult actual = gpu.Step(q, g, options);
            Assert.Equal(expected.Skipped, actual.Skipped);
            ParityTests.AssertBitIdentical(p, q, $"parameters after step {t}");
            if (t % 20 == 0)
            {
                Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
            }
        }

        Assert.Equal(cpu.StepCount, gpu.StepCount);
        Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
        _output.WriteLine($"{rule}, {mix}: {steps} steps bit-identical; {cpu.StateBytesPerParameter:F3} bytes of state per parameter.");
    }

    [Fact]
    public void MoreThanEightGroupsOfMixedPrecisionsFollowTheCpu()
    {
        // Ten groups (their kernel structs go through the device table, copied for each of the two launches), the
        // four codecs in turn, each group at its own learning rate.
        StatePrecision[] cycle = [StatePrecision.Int4Blockwise, StatePrecision.Float32, StatePrecision.Int8Blockwise, StatePrecision.BFloat16];
        var layout = new ParameterLayout([.. Enumerable.Range(0, 10).Select(k => new[] { 4096 + (517 * k), 100 + k })]);
        var optimizers = new Optimizer[2];
        for (int i = 0; i < 2; i++)
        {
            optimizers[i] = new Adam(layout);
            for (int k = 0; k < layout.GroupCount; k++)
            {
                optimizers[i].Groups[k].StatePrecision = cycle[k % cycle.Length];
                optimizers[i].Groups[k]["LearningRate"] = 1e-3 * (1 + k);
            }
        }

        Optimizer cpu = optimizers[0];
        using var gpu = new GpuOptimizer(optimizers[1], _accelerator);
        var random = new Random(53);
        float[] p = Normal(random, layout.TotalLength, 0.1);
        float[] q = (float[])p.Clone();
        for (int t = 1; t <= 8; t++)
        {
            float[] g = Normal(random, layout.TotalLength, 0.01);
            StepOptions options = t % 2 == 0 ? new StepOptions { MaxGradientNorm = 0.5 } : StepOptions.Default;
            cpu.Step(p, g, options);
            gpu.Step(q, g, options);
            ParityTests.AssertBitIdentical(p, q, $"parameters after step {t}");
        }

        Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
    }

    [Theory]
    [InlineData("half", "clip")]
    [InlineData("bfloat16-stochastic", "skip")]
    public void SixteenBitParametersWithMixedStateFollowTheCpu(string parameters, string mode)
    {
        // 16-bit parameters (stochastic rounding's random bits per element, whichever launch runs its chunk) and
        // gradients with every codec of state at once: parameters, every step's result and the state as the CPU's.
        ParameterLayout layout = Layout();
        Optimizer cpu = CreateMixed(nameof(Adam), layout, "all four");
        using var gpu = new GpuOptimizer(CreateMixed(nameof(Adam), layout, "all four"), _accelerator);
        var options = new StepOptions
        {
            GradientScale = 0.25,
            MaxGradientNorm = mode == "clip" ? 2.0 : double.PositiveInfinity,
            SkipNonFinite = mode == "skip",
            StochasticRounding = parameters == "bfloat16-stochastic",
            RoundingSeed = 7,
        };
        if (parameters == "half")
        {
            new TrainingParityTests.Run<System.Half, System.Half>(_accelerator, layout.TotalLength, x => (System.Half)x, x => (System.Half)x, seed: 5, steps: 12)
                .Go(cpu, gpu, options, mode == "skip", (p, g, o) => cpu.Step(p, g, o), (p, g, o) => gpu.Step(p, g, o));
        }
        else
        {
            new TrainingParityTests.Run<BFloat16, BFloat16>(_accelerator, layout.TotalLength, x => (BFloat16)x, x => (BFloat16)x, seed: 5, steps: 12)
                .Go(cpu, gpu, options, mode == "skip", (p, g, o) => cpu.Step(p, g, o), (p, g, o) => gpu.Step(p, g, o));
        }

        Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
    }

    [Fact]
    public void GroupConversionsOnTheGpuFollowTheCpu()
    {
        // Every fourth step each group moves to the next precision (each through every other one over the run), one
        // group back to the optimizer's, then the optimizer's own precision changes: after each conversion the GPU
        // optimizer's checkpoint is the CPU optimizer's, and the steps after it stay bit-identical.
        ParameterLayout layout = Layout();
        StatePrecision[] cycle = [StatePrecision.Float32, StatePrecision.Int8Blockwise, StatePrecision.BFloat16, StatePrecision.Int4Blockwise];
        Optimizer cpu = CreateMixed(nameof(Adam), layout, "all four");
        using var gpu = new GpuOptimizer(CreateMixed(nameof(Adam), layout, "all four"), _accelerator);
        var random = new Random(29);
        int n = layout.TotalLength;
        float[] p = Normal(random, n, 0.1);
        float[] q = (float[])p.Clone();
        for (int t = 1; t <= 22; t++)
        {
            if (t % 4 == 0 && t <= 16)
            {
                for (int k = 0; k < layout.GroupCount; k++)
                {
                    StatePrecision next = cycle[(Array.IndexOf(cycle, cpu.StatePrecisionOf(k)) + 1) % cycle.Length];
                    cpu.Groups[k].StatePrecision = next;
                    gpu.SetGroupStatePrecision(k, next);
                    Assert.Equal(next, gpu.StatePrecisionOf(k));
                    Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
                }
            }

            if (t == 18)
            {
                cpu.Groups[2].StatePrecision = null;
                gpu.SetGroupStatePrecision(2, null);
                Assert.Null(gpu.Optimizer.Groups[2].StatePrecision);
                Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
            }

            if (t == 20)
            {
                // Only group 2 follows the optimizer: it becomes 4-bit, the others keep their state bit for bit.
                cpu.ChangeStatePrecision(StatePrecision.Int4Blockwise);
                gpu.ChangeStatePrecision(StatePrecision.Int4Blockwise);
                Assert.Equal(StatePrecision.Int4Blockwise, gpu.StatePrecisionOf(2));
                Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
            }

            float[] g = Normal(random, n, 0.01);
            cpu.Step(p, g);
            gpu.Step(q, g);
            ParityTests.AssertBitIdentical(p, q, $"parameters after step {t}");
        }

        Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
        for (int j = 0; j < layout.TensorCount; j++)
        {
            foreach (string name in new[] { "FirstMoment", "SecondMoment" })
            {
                float[] expected = new float[layout.LengthOf(j)], actual = new float[layout.LengthOf(j)];
                cpu.CopyState(name, j, expected);
                gpu.CopyState(name, j, actual);
                ParityTests.AssertBitIdentical(expected, actual, $"{name} of tensor {j}");
            }
        }
    }

    [Theory]
    [InlineData("all four")]
    [InlineData("8-bit with overrides")]
    public void MixedCheckpointsMoveBetweenCpuAndGpuAndResumeBitIdentically(string mix)
    {
        // CPU 10 steps → checkpoint → GPU 10 steps → checkpoint → CPU 10 steps, against one CPU optimizer running 30.
        using GpuOptimizer gpu = BlockwiseGpuTests.CheckpointsMoveBetweenCpuAndGpu(() => CreateMixed(nameof(Adam), Layout(), mix), 31, _accelerator);
    }

    [Fact]
    public void MisuseAndHostChangesAreRefusedBeforeAnythingChanges()
    {
        ParameterLayout layout = Layout();
        int n = layout.TotalLength;
        Optimizer host = CreateMixed(nameof(Adam), layout, "all four");
        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(37);
        float[] p = Normal(random, n, 0.1);
        float[] g = Normal(random, n, 0.01);
        gpu.Step(p, g);
        byte[] before = Checkpoint(gpu);
        float[] parameters = (float[])p.Clone();

        Assert.Throws<ArgumentOutOfRangeException>(() => gpu.SetGroupStatePrecision(-1, StatePrecision.Float32));
        Assert.Throws<ArgumentOutOfRangeException>(() => gpu.SetGroupStatePrecision(layout.GroupCount, StatePrecision.Float32));
        Assert.Throws<ArgumentOutOfRangeException>(() => gpu.SetGroupStatePrecision(0, (StatePrecision)9));
        Assert.Throws<ArgumentOutOfRangeException>(() => gpu.ChangeStatePrecision((StatePrecision)9));
        Assert.Throws<ArgumentOutOfRangeException>(() => gpu.StatePrecisionOf(layout.GroupCount));
        Assert.Equal(before, Checkpoint(gpu));

        // A group converted on the host directly: steps and copies back refuse (the message names the groups'
        // precisions), the host keeps its conversion, and ReloadFromHost takes it.
        host.Groups[1].StatePrecision = StatePrecision.Int4Blockwise;
        byte[] converted = Checkpoint(host);
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => gpu.Step(p, g));
        Assert.Contains("group 1 Int4Blockwise", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => gpu.SynchronizeHostState());
        Assert.Throws<InvalidOperationException>(() => gpu.SetGroupStatePrecision(0, StatePrecision.Float32));
        Assert.Throws<InvalidOperationException>(() => gpu.ChangeStatePrecision(StatePrecision.BFloat16));
        ParityTests.AssertBitIdentical(parameters, p, "parameters");
        Assert.Equal(converted, Checkpoint(host));
        Assert.Equal(StatePrecision.Int8Blockwise, host.StatePrecisionOf(0));

        // Converted and converted back on the host (the same precisions, requantized state): still refused.
        gpu.ReloadFromHost();
        host.Groups[0].StatePrecision = StatePrecision.Float32;
        host.Groups[0].StatePrecision = StatePrecision.Int8Blockwise;
        Assert.Throws<InvalidOperationException>(() => gpu.Step(p, g));
        gpu.ReloadFromHost();
        gpu.Step(p, g);
        Assert.Equal(2, gpu.StepCount);
    }

    [Fact]
    public void RulesWithReductionsRefuseStatePerTensorOnTheGpu()
    {
        // LAMB's GPU passes take one float32 or bfloat16 precision for every group: 8-bit state, or a group of its
        // own precision, is refused naming the argument, and nothing changes (bfloat16 for every group converts).
        var layout = new ParameterLayout(new[] { 5000 }, new[] { 300 });
        var lamb = new Lamb(layout);
        using var gpu = new GpuOptimizer(lamb, _accelerator);
        var random = new Random(41);
        float[] p = Normal(random, layout.TotalLength, 0.1);
        float[] g = Normal(random, layout.TotalLength, 0.01);
        gpu.Step(p, g);
        byte[] before = Checkpoint(gpu);

        NotSupportedException e = Assert.Throws<NotSupportedException>(() => gpu.SetGroupStatePrecision(1, StatePrecision.BFloat16));
        Assert.Contains("(precision)", e.Message, StringComparison.Ordinal);
        Assert.Contains("one float32 or bfloat16 precision for every group", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<NotSupportedException>(() => gpu.ChangeStatePrecision(StatePrecision.Int8Blockwise));
        Assert.Contains("(precision)", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Checkpoint(gpu));
        Assert.Null(lamb.Groups[1].StatePrecision);
        Assert.Equal(StatePrecision.Float32, lamb.StatePrecision);

        gpu.ChangeStatePrecision(StatePrecision.BFloat16);
        gpu.Step(p, g);
        Assert.Equal(StatePrecision.BFloat16, gpu.StatePrecision);
    }

    [Theory]
    [InlineData(StatePrecision.Int8Blockwise, null)]
    [InlineData(StatePrecision.Float32, StatePrecision.BFloat16)]
    [InlineData(StatePrecision.Float32, StatePrecision.Int4Blockwise)]
    public void AHostLambWithStatePerTensorIsRefusedWhenTheGpuOptimizerIsBuilt(StatePrecision optimizer, StatePrecision? group1)
    {
        // The CPU runs LAMB with 8-/4-bit state and groups of their own precision; the GPU passes do not, so building a
        // GpuOptimizer over such a host is refused naming the argument, and the host is left as it was.
        var layout = new ParameterLayout(new[] { 5000 }, new[] { 300 });
        var lamb = new Lamb(layout);
        lamb.ChangeStatePrecision(optimizer);
        lamb.Groups[1].StatePrecision = group1;
        var random = new Random(43);
        float[] p = Normal(random, layout.TotalLength, 0.1);
        float[] g = Normal(random, layout.TotalLength, 0.01);
        lamb.Step(p, g);
        var before = new System.IO.MemoryStream();
        lamb.SaveCheckpoint(before);

        NotSupportedException e = Assert.Throws<NotSupportedException>(() => new GpuOptimizer(lamb, _accelerator));
        Assert.Contains("(optimizer)", e.Message, StringComparison.Ordinal);
        var after = new System.IO.MemoryStream();
        lamb.SaveCheckpoint(after);
        Assert.Equal(before.ToArray(), after.ToArray());
        lamb.Step(p, g);
        Assert.Equal(2, lamb.StepCount);
    }

    [Fact]
    public void RulesOfMoreStateBuffersThanTheKernelStagesRefuseStatePerTensor()
    {
        // 17 state buffers: the host keeps float32 and bfloat16 groups of any number of buffers, but the GPU's
        // per-tensor kernel stages at most 16 in shared memory: refused naming the argument, nothing changed.
        var layout = new ParameterLayout(new[] { 300 }, new[] { 200 });
        var host = new GpuSeventeenStates(layout);
        host.Groups[1].StatePrecision = StatePrecision.BFloat16;
        NotSupportedException e = Assert.Throws<NotSupportedException>(() => new GpuOptimizer(host, _accelerator));
        Assert.Contains("at most 16 state buffers", e.Message, StringComparison.Ordinal);
        Assert.Contains("(optimizer)", e.Message, StringComparison.Ordinal);

        host.Groups[1].StatePrecision = null;
        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(47);
        float[] p = Normal(random, layout.TotalLength, 0.1);
        float[] g = Normal(random, layout.TotalLength, 0.01);
        gpu.Step(p, g);
        byte[] before = Checkpoint(gpu);
        e = Assert.Throws<NotSupportedException>(() => gpu.SetGroupStatePrecision(1, StatePrecision.BFloat16));
        Assert.Contains("(precision)", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Checkpoint(gpu));
        Assert.Null(host.Groups[1].StatePrecision);

        // One precision for every group runs.
        gpu.ChangeStatePrecision(StatePrecision.BFloat16);
        gpu.Step(p, g);
        Assert.Equal(2, gpu.StepCount);
    }

    /// <summary>
    /// Adam with four groups of one codec each (8-bit, 4-bit, bfloat16, float32, and a tensor below the threshold in
    /// the 8-bit group) against a float64 reference written from the definitions, independent of both kernels: before
    /// each step the reference takes the device's stored state; after it, quantized planes have ≥ 99.9 % of their
    /// codes identical to the reference's (the rest one code apart) and absmax within float32 rounding, bfloat16
    /// values are the float64 values rounded to bfloat16 (within half a bfloat16 ulp), float32 values and every
    /// parameter within float32 rounding.
    /// </summary>
    [Fact]
    public void MixedPrecisionStepMatchesTheFloat64Reference()
    {
        const int quantized = 8192 + 77;
        var layout = new ParameterLayout(new[] { quantized, 1000 }, new[] { quantized }, new[] { 3001 }, new[] { 2003 });
        int[] bits = [8, 0, 4, 16, 0];
        var host = new Adam(layout);
        host.Groups[0].StatePrecision = StatePrecision.Int8Blockwise;
        host.Groups[1].StatePrecision = StatePrecision.Int4Blockwise;
        host.Groups[2].StatePrecision = StatePrecision.BFloat16;
        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(43);
        int n = layout.TotalLength;
        float[] p = Normal(random, n, 0.1);
        int worst = quantized;
        double worstAbsmax = 0, worstParameter = 0, worstFloat = 0, worstNarrow = 0;
        for (int t = 1; t <= 50; t++)
        {
            float[] g = Normal(random, n, 0.01);
            byte[][][] before = StoredState(gpu, bits);
            float[] old = (float[])p.Clone();
            gpu.Step(p, g);
            byte[][][] after = StoredState(gpu, bits);
            for (int j = 0; j < layout.TensorCount; j++)
            {
                int offset = layout.ArenaOffsetOf(j), length = layout.LengthOf(j);
                if (bits[j] is 8 or 4)
                {
                    // The quantized reference from the device's codes and absmax before the step.
                    QuantizedReference reference = QuantizedReference.Adam(length, bits[j]);
                    reference.Load(Codes(before, j, bits[j], length), Absmax(before, j, bits[j], length));
                    float[] expected = old[offset..(offset + length)];
                    reference.Step(expected, g[offset..(offset + length)], t);
                    byte[][] codes = Codes(after, j, bits[j], length);
                    float[][] absmax = Absmax(after, j, bits[j], length);
                    for (int k = 0; k < 2; k++)
                    {
                        int[] actual = QuantizedReference.Unpack(codes[k], length, bits[j]);
                        int same = 0;
                        for (int i = 0; i < length; i++)
                        {
                            Assert.True(Math.Abs(actual[i] - reference.Codes[k][i]) <= 1, $"step {t}, tensor {j}, plane {k}, element {i}");
                            same += actual[i] == reference.Codes[k][i] ? 1 : 0;
                        }

                        worst = Math.Min(worst, same);
                        for (int b = 0; b < absmax[k].Length; b++)
                        {
                            double r = reference.Absmax[k][b];
                            worstAbsmax = Math.Max(worstAbsmax, r == 0 ? absmax[k][b] : Math.Abs(absmax[k][b] - r) / r);
                        }
                    }

                    for (int i = 0; i < length; i++)
                    {
                        worstParameter = Math.Max(worstParameter, ParameterError(p[offset + i], expected[i]));
                    }

                    continue;
                }

                // Float32 and bfloat16 tensors: Adam in double from the stored state.
                double[][] was = [Values(before[0][j], bits[j]), Values(before[1][j], bits[j])];
                double[][] now = [Values(after[0][j], bits[j]), Values(after[1][j], bits[j])];
                for (int i = 0; i < length; i++)
                {
                    double gi = g[offset + i];
                    double m = (0.9 * was[0][i]) + (0.1 * gi);
                    double v = (0.999 * was[1][i]) + (0.001 * gi * gi);
                    double expected = old[offset + i] - (1e-3 * (m / (1 - Math.Pow(0.9, t))) / (Math.Sqrt(v / (1 - Math.Pow(0.999, t))) + 1e-8));
                    worstParameter = Math.Max(worstParameter, ParameterError(p[offset + i], expected));
                    for (int k = 0; k < 2; k++)
                    {
                        // Against float32 rounding of the terms (m can cancel to near 0), plus bfloat16's rounding.
                        double r = k == 0 ? m : v;
                        double scale = k == 0 ? (0.9 * Math.Abs(was[0][i])) + (0.1 * Math.Abs(gi)) : (0.999 * was[1][i]) + (0.001 * gi * gi);
                        double error = Math.Abs(now[k][i] - r) / ((1e-6 * scale) + (bits[j] == 16 ? Math.Pow(2, -8) * Math.Abs(r) : 0) + 1e-37);
                        if (bits[j] == 16)
                        {
                            worstNarrow = Math.Max(worstNarrow, error);
                        }
                        else
                        {
                            worstFloat = Math.Max(worstFloat, error);
                        }
                    }
                }
            }
        }

        _output.WriteLine($"codes: at least {worst} of {quantized} identical per plane and step ({100.0 * worst / quantized:F4} %); absmax {worstAbsmax:E2}, " +
            $"float32 state {worstFloat:F3}, bfloat16 state {worstNarrow:F3} of their bounds; parameters {worstParameter:F3} of theirs");
        Assert.True(worst >= 0.999 * quantized, $"only {worst} of {quantized} codes identical in some step");
        Assert.True(worstAbsmax <= 1e-5, $"absmax {worstAbsmax:E2}");
        Assert.True(worstFloat <= 1, $"float32 state {worstFloat:F3} of its bound");
        Assert.True(worstNarrow <= 1, $"bfloat16 state {worstNarrow:F3} of its bound");
        Assert.True(worstParameter <= 1, $"parameters {worstParameter:F3} of their bound");
    }

    /// <summary>
    /// The distance of <paramref name="actual"/> from the float64 <paramref name="expected"/> over its bound: one
    /// float32 ulp of the parameter (its rounding) plus 1e-6 of the learning rate (the float32 arithmetic of the update).
    /// </summary>
    private static double ParameterError(float actual, double expected)
    {
        float e = Math.Abs((float)expected);
        return Math.Abs(actual - expected) / ((MathF.BitIncrement(e) - e) + 1e-9);
    }

    /// <summary>
    /// The stored bytes of every plane and tensor, [plane][tensor], read from the GPU optimizer's checkpoint: the state
    /// section ends the file before its 4-byte checksum, per plane and tensor (codes then absmax, or the values).
    /// </summary>
    private static byte[][][] StoredState(GpuOptimizer gpu, int[] bits)
    {
        ParameterLayout layout = gpu.Layout;
        byte[] file = Checkpoint(gpu);
        int planes = gpu.Optimizer.Descriptor.States.Count;
        long total = 0;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            total += TensorBytes(layout.LengthOf(j), bits[j]);
        }

        int at = (int)(file.Length - 4 - (planes * total));
        var state = new byte[planes][][];
        for (int k = 0; k < planes; k++)
        {
            state[k] = new byte[layout.TensorCount][];
            for (int j = 0; j < layout.TensorCount; j++)
            {
                int size = (int)TensorBytes(layout.LengthOf(j), bits[j]);
                state[k][j] = file[at..(at + size)];
                at += size;
            }
        }

        return state;
    }

    /// <summary>The float32 or bfloat16 values of a tensor's stored bytes (<paramref name="bits"/> 0 or 16), widened.</summary>
    private static double[] Values(byte[] bytes, int bits) => bits == 0
        ? [.. Enumerable.Range(0, bytes.Length / 4).Select(i => (double)BitConverter.ToSingle(bytes, 4 * i))]
        : [.. Enumerable.Range(0, bytes.Length / 2).Select(i => (double)BitConverter.Int32BitsToSingle(BitConverter.ToUInt16(bytes, 2 * i) << 16))];

    /// <summary>A tensor's checkpointed bytes per plane: codes and one float32 absmax per block, or 4 / 2 bytes per value.</summary>
    private static long TensorBytes(int length, int bits) => bits switch
    {
        0 => 4L * length,
        16 => 2L * length,
        _ => BlockwiseBlock.CodeBytes(length, bits) + (4 * Blocks(length, bits)),
    };

    private static int Blocks(int length, int bits) => (length + (bits == 8 ? 255 : 127)) / (bits == 8 ? 256 : 128);

    /// <summary>A quantized tensor's code bytes per plane, from <see cref="StoredState"/>.</summary>
    private static byte[][] Codes(byte[][][] state, int tensor, int bits, int length) =>
        [.. state.Select(plane => plane[tensor][..(int)BlockwiseBlock.CodeBytes(length, bits)])];

    /// <summary>A quantized tensor's absmax per plane, from <see cref="StoredState"/> (the float32s after the codes).</summary>
    private static float[][] Absmax(byte[][][] state, int tensor, int bits, int length)
    {
        int start = (int)BlockwiseBlock.CodeBytes(length, bits);
        return [.. state.Select(plane => Enumerable.Range(0, Blocks(length, bits)).Select(b => BitConverter.ToSingle(plane[tensor], start + (4 * b))).ToArray())];
    }

    /// <summary>An optimizer of <paramref name="rule"/> with the precisions of mix <paramref name="mix"/>.</summary>
    private static Optimizer CreateMixed(string rule, ParameterLayout layout, string mix)
    {
        (StatePrecision precision, StatePrecision?[] groups) = Mixes[mix];
        Optimizer optimizer = Create(rule, layout, precision);
        for (int k = 0; k < groups.Length; k++)
        {
            optimizer.Groups[k].StatePrecision = groups[k];
        }

        return optimizer;
    }
}
