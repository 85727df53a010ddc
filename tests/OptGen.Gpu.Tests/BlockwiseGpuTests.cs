using System;
using System.IO;
using System.Linq;
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using OptGen.Kernels;
using OptGen.Testing;
using Xunit;
using Xunit.Abstractions;
using Half = System.Half;

namespace OptGen.Gpu.Tests;

/// <summary>
/// 8-bit and 4-bit blockwise state on the GPU path (ILGPU's CPU accelerator): the blockwise kernel against the CPU's
/// fused blockwise step (bit for bit: codes, absmax, float32 state of small tensors, parameters) and against the
/// float64 reference of the quantized algorithm; checkpoints between CPU and GPU; conversions in every direction;
/// misuse refused before anything changes.
/// </summary>
public sealed class BlockwiseGpuTests : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator;
    private readonly ITestOutputHelper _output;

    public BlockwiseGpuTests(CpuAcceleratorFixture fixture, ITestOutputHelper output)
    {
        _accelerator = fixture.Accelerator;
        _output = output;
    }

    /// <summary>
    /// Two groups; tensors above the threshold with a partial last block (9000, 5003), one exactly at it (4096, whole
    /// blocks) and one below it (1000, float32 state).
    /// </summary>
    private static ParameterLayout Layout() => new(new[] { 9000, 1000, 4096 }, new[] { 5003 });

    /// <summary>
    /// Adam for 100 steps in both precisions; the other rules (signed and unsigned planes, an expression rule, three
    /// planes) for 30, to keep the suite fast: ILGPU's CPU accelerator runs every barrier as a thread synchronisation.
    /// </summary>
    public static TheoryData<string, StatePrecision, int> Rules => new()
    {
        { nameof(Adam), StatePrecision.Int8Blockwise, 100 },
        { nameof(Adam), StatePrecision.Int4Blockwise, 100 },
        { nameof(AdamW), StatePrecision.Int8Blockwise, 30 },
        { nameof(RmsProp), StatePrecision.Int8Blockwise, 30 },
        { nameof(RmsProp), StatePrecision.Int4Blockwise, 30 },
        { nameof(Adagrad), StatePrecision.Int8Blockwise, 30 },
        { nameof(Adagrad), StatePrecision.Int4Blockwise, 30 },
        { nameof(Lion), StatePrecision.Int8Blockwise, 30 },
        { nameof(Lion), StatePrecision.Int4Blockwise, 30 },
        { nameof(SgdMomentum), StatePrecision.Int8Blockwise, 30 },
        { nameof(AdamAmsGrad), StatePrecision.Int4Blockwise, 30 },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void GpuBlockwiseStepIsBitIdenticalToTheCpuStep(string rule, StatePrecision precision, int steps)
    {
        // Steps through every engine decision: plain steps, unscaling (GradientScale), clipping (the device-side clip
        // factor), a non-finite gradient skipped, and a learning rate changed half-way, in two groups.
        ParameterLayout layout = Layout();
        Optimizer cpu = Create(rule, layout, precision);
        Optimizer host = Create(rule, layout, precision);
        using var gpu = new GpuOptimizer(host, _accelerator);
        Assert.Equal(precision, gpu.StatePrecision);

        var random = new Random(17);
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
                g[123] = float.NaN;
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
        }

        Assert.Equal(cpu.StepCount, gpu.StepCount);
        ParityTests.AssertBitIdentical(p, q, $"parameters after {steps} steps");
        (int differing, int total) = CompareCodes(cpu, gpu, precision);
        _output.WriteLine($"{rule} {precision}: {total - differing} of {total} codes identical after {steps} steps.");
        Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
    }

    /// <summary>
    /// A NaN gradient that is not skipped makes its block's state NaN, so the block's absmax is NaN and every value of the
    /// block dequantizes to NaN at the next step, with NaNs whose signs differ between the CPU's SIMD kernel and the GPU
    /// kernel. Both store codes 0 for such a block (<c>BlockwiseBlock.Quantize</c>), so a checkpoint written from the GPU
    /// equals the CPU's; quantizing the NaNs instead (the sign picks the code) fails here.
    /// </summary>
    [Theory]
    [InlineData(StatePrecision.Int8Blockwise)]
    [InlineData(StatePrecision.Int4Blockwise)]
    public void ANaNBlockStoresTheCpuCodes(StatePrecision precision)
    {
        ParameterLayout layout = Layout();
        Optimizer cpu = Create(nameof(Adam), layout, precision);
        Optimizer host = Create(nameof(Adam), layout, precision);
        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(5);
        int n = layout.TotalLength;
        float[] p = Normal(random, n, 0.1);
        float[] q = (float[])p.Clone();
        float[] g = new float[n];
        for (int t = 1; t <= 3; t++)
        {
            ParityTests.Gradients(random, g);
            if (t == 2)
            {
                g[300] = float.NaN;
            }

            cpu.Step(p, g);
            gpu.Step(q, g);
        }

        Assert.True(float.IsNaN(p[300]) && float.IsNaN(q[300]));
        Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
    }

    public static TheoryData<string, StatePrecision> ReferenceRules
    {
        get
        {
            var data = new TheoryData<string, StatePrecision>();
            foreach (string rule in new[] { nameof(Adam), nameof(RmsProp), nameof(Adagrad), nameof(Lion), nameof(SgdMomentum) })
            {
                data.Add(rule, StatePrecision.Int8Blockwise);
            }

            // The 4-bit maps: signed dynamic (Adam's m, Lion) and linear unsigned (Adam's v, Adagrad).
            data.Add(nameof(Adam), StatePrecision.Int4Blockwise);
            data.Add(nameof(Adagrad), StatePrecision.Int4Blockwise);
            data.Add(nameof(Lion), StatePrecision.Int4Blockwise);

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(ReferenceRules))]
    public void GpuBlockwiseStepMatchesTheFloat64Reference(string rule, StatePrecision precision)
    {
        // bitsandbytes' test problem (p ~ N(0, 0.1²), g ~ N(0, 0.01²)) on one tensor with a partial last block, 100
        // steps. Before each step the reference takes the device's codes and absmax, so each step is checked on its
        // own: ≥ 99.9 % of the codes identical, the rest one code apart (a value within float32 rounding of a midpoint),
        // and every block's absmax within float32 rounding of the reference's.
        const int n = 8192 + 77;
        int bits = precision == StatePrecision.Int8Blockwise ? 8 : 4;
        Optimizer host = Create(rule, ParameterLayout.Single(n), precision);
        (bool[] signed, QuantizedReference.ElementUpdate update) = Formula(rule);
        Assert.Equal(signed, host.Descriptor.States.Select(s => !s.IsNonNegative).ToArray());
        using var gpu = new GpuOptimizer(host, _accelerator);
        var reference = new QuantizedReference(n, bits, signed, update);
        var random = new Random(5);
        float[] p = Normal(random, n, 0.1);
        int worst = n;
        double worstAbsmax = 0;
        for (int t = 1; t <= 100; t++)
        {
            float[] g = Normal(random, n, 0.01);
            (byte[][] codes, float[][] absmax) = QuantizedState(gpu, n, bits, signed.Length);
            reference.Load(codes, absmax);
            float[] expected = (float[])p.Clone();
            reference.Step(expected, g, t);
            gpu.Step(p, g);
            (codes, absmax) = QuantizedState(gpu, n, bits, signed.Length);
            for (int k = 0; k < signed.Length; k++)
            {
                int[] actual = QuantizedReference.Unpack(codes[k], n, bits);
                int same = 0;
                for (int i = 0; i < n; i++)
                {
                    Assert.True(Math.Abs(actual[i] - reference.Codes[k][i]) <= 1, $"step {t}, plane {k}, element {i}: code {actual[i]} vs {reference.Codes[k][i]}");
                    same += actual[i] == reference.Codes[k][i] ? 1 : 0;
                }

                worst = Math.Min(worst, same);
                for (int b = 0; b < absmax[k].Length; b++)
                {
                    double r = reference.Absmax[k][b];
                    double error = Math.Abs(absmax[k][b] - r) / Math.Max(r, double.Epsilon);
                    worstAbsmax = Math.Max(worstAbsmax, r == 0 ? absmax[k][b] : error);
                }
            }
        }

        _output.WriteLine($"{rule} {precision}: step by step, at least {worst} of {n} codes identical ({100.0 * worst / n:F4} %); absmax within {worstAbsmax:E2} (relative)");
        Assert.True(worst >= 0.999 * n, $"only {worst} of {n} codes identical in some step");
        Assert.True(worstAbsmax <= 1e-5, $"absmax differs from the reference by {worstAbsmax:E2} (relative)");
    }

    [Theory]
    [InlineData(StatePrecision.Int8Blockwise)]
    [InlineData(StatePrecision.Int4Blockwise)]
    public void CheckpointsMoveBetweenCpuAndGpuAndResumeBitIdentically(StatePrecision precision)
    {
        using GpuOptimizer gpu = CheckpointsMoveBetweenCpuAndGpu(() => Create(nameof(Adam), Layout(), precision), 3, _accelerator);
        Assert.Equal(precision, gpu.StatePrecision);
    }

    /// <summary>
    /// CPU 10 steps → checkpoint → GPU 10 steps → checkpoint → CPU 10 steps over optimizers from <paramref name="create"/>,
    /// against one CPU optimizer running 30: the same parameters and checkpoint bit for bit. Returns the GPU optimizer
    /// (for the caller's own checks; the caller disposes it).
    /// </summary>
    internal static GpuOptimizer CheckpointsMoveBetweenCpuAndGpu(Func<Optimizer> create, int seed, Accelerator accelerator)
    {
        Optimizer straight = create();
        Optimizer first = create();
        int n = straight.Length;
        var random = new Random(seed);
        float[] p = Normal(random, n, 0.1);
        float[] q = (float[])p.Clone();
        float[][] gradients = [.. Enumerable.Range(0, 30).Select(_ => Normal(random, n, 0.01))];
        for (int t = 0; t < 30; t++)
        {
            straight.Step(p, gradients[t]);
        }

        for (int t = 0; t < 10; t++)
        {
            first.Step(q, gradients[t]);
        }

        var gpu = new GpuOptimizer(create(), accelerator);
        gpu.LoadCheckpoint(new MemoryStream(Checkpoint(first)));
        Assert.Equal(10, gpu.StepCount);
        for (int t = 10; t < 20; t++)
        {
            gpu.Step(q, gradients[t]);
        }

        Optimizer last = create();
        last.LoadCheckpoint(new MemoryStream(Checkpoint(gpu)));
        for (int t = 20; t < 30; t++)
        {
            last.Step(q, gradients[t]);
        }

        ParityTests.AssertBitIdentical(p, q, "parameters after 30 steps");
        Assert.Equal(Checkpoint(straight), Checkpoint(last));
        return gpu;
    }

    public static TheoryData<StatePrecision, StatePrecision> Directions
    {
        get
        {
            StatePrecision[] all = [StatePrecision.Float32, StatePrecision.BFloat16, StatePrecision.Int8Blockwise, StatePrecision.Int4Blockwise];
            var data = new TheoryData<StatePrecision, StatePrecision>();
            foreach (StatePrecision from in all)
            {
                foreach (StatePrecision to in all.Where(x => x != from))
                {
                    data.Add(from, to);
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Directions))]
    public void ChangeStatePrecisionOnTheGpuConvertsAsTheCpuDoes(StatePrecision from, StatePrecision to)
    {
        // Five steps in one precision, the conversion, five more: the GPU optimizer equals a CPU optimizer doing the same.
        ParameterLayout layout = Layout();
        int n = layout.TotalLength;
        Optimizer cpu = Create(nameof(Adam), layout, from);
        using var gpu = new GpuOptimizer(Create(nameof(Adam), layout, from), _accelerator);
        var random = new Random(11);
        float[] p = Normal(random, n, 0.1);
        float[] q = (float[])p.Clone();
        for (int t = 1; t <= 10; t++)
        {
            if (t == 6)
            {
                cpu.ChangeStatePrecision(to);
                gpu.ChangeStatePrecision(to);
                Assert.Equal(to, gpu.StatePrecision);
                Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
            }

            float[] g = Normal(random, n, 0.01);
            cpu.Step(p, g);
            gpu.Step(q, g);
        }

        ParityTests.AssertBitIdentical(p, q, "parameters");
        Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));

        // CopyState reads the dequantized state as the CPU's does, per tensor.
        for (int j = 0; j < layout.TensorCount; j++)
        {
            float[] expected = new float[layout.LengthOf(j)], actual = new float[layout.LengthOf(j)];
            cpu.CopyState("SecondMoment", j, expected);
            gpu.CopyState("SecondMoment", j, actual);
            ParityTests.AssertBitIdentical(expected, actual, $"SecondMoment of tensor {j}");
        }
    }

    [Theory]
    [InlineData("half", StatePrecision.Int8Blockwise, "clip")]
    [InlineData("bfloat16-stochastic", StatePrecision.Int4Blockwise, "skip")]
    public void SixteenBitParametersWithBlockwiseStateFollowTheCpu(string parameters, StatePrecision precision, string mode)
    {
        // The parameter codecs (stochastic rounding's random bits included), unscaling, clipping and skipping as in
        // TrainingParityTests, with blockwise state: parameters and every step's result as the CPU's, and the state.
        ParameterLayout layout = Layout();
        Optimizer cpu = Create(nameof(Adam), layout, precision);
        using var gpu = new GpuOptimizer(Create(nameof(Adam), layout, precision), _accelerator);
        var options = new StepOptions
        {
            GradientScale = 0.25,
            MaxGradientNorm = mode == "clip" ? 2.0 : double.PositiveInfinity,
            SkipNonFinite = mode == "skip",
            StochasticRounding = parameters == "bfloat16-stochastic",
            RoundingSeed = 99,
        };
        if (parameters == "half")
        {
            new TrainingParityTests.Run<Half, Half>(_accelerator, layout.TotalLength, x => (Half)x, x => (Half)x, seed: 3, steps: 12)
                .Go(cpu, gpu, options, mode == "skip", (p, g, o) => cpu.Step(p, g, o), (p, g, o) => gpu.Step(p, g, o));
        }
        else
        {
            new TrainingParityTests.Run<BFloat16, BFloat16>(_accelerator, layout.TotalLength, x => (BFloat16)x, x => (BFloat16)x, seed: 3, steps: 12)
                .Go(cpu, gpu, options, mode == "skip", (p, g, o) => cpu.Step(p, g, o), (p, g, o) => gpu.Step(p, g, o));
        }

        Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
    }

    [Fact]
    public void PerExampleSquaresWithBlockwiseStateFollowTheCpu()
    {
        // A rule that reads a second per-element input (the blockwise kernel with the q32/q16 views).
        ParameterLayout layout = Layout();
        var cpu = new GpuPerExampleSquaresAdam(layout);
        var host = new GpuPerExampleSquaresAdam(layout);
        cpu.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        host.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(4);
        int n = layout.TotalLength;
        float[] p = Normal(random, n, 0.1);
        float[] q = (float[])p.Clone();
        float[] g = new float[n], squares = new float[n];
        for (int t = 1; t <= 10; t++)
        {
            ParityTests.Gradients(random, g);
            for (int i = 0; i < n; i++)
            {
                squares[i] = (g[i] * g[i]) + (float)random.NextDouble();
            }

            cpu.Step(p, g, squares);
            gpu.Step(q, g, squares);
        }

        ParityTests.AssertBitIdentical(p, q, "parameters");
        Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
    }

    [Theory]
    [InlineData(nameof(Adam))]
    [InlineData(nameof(Sgd))]
    public void ResetAndStatelessRulesFollowTheCpu(string rule)
    {
        // Reset re-creates the blockwise state at its initial values (device and host); a rule without state has
        // nothing to quantize and steps through the float32 kernel, as on the CPU.
        ParameterLayout layout = Layout();
        int n = layout.TotalLength;
        Optimizer cpu = Create(rule, layout, StatePrecision.Int4Blockwise);
        using var gpu = new GpuOptimizer(Create(rule, layout, StatePrecision.Int4Blockwise), _accelerator);
        var random = new Random(8);
        float[] p = Normal(random, n, 0.1);
        float[] q = (float[])p.Clone();
        for (int t = 1; t <= 6; t++)
        {
            if (t == 4)
            {
                cpu.Reset();
                gpu.Reset();
                Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
            }

            float[] g = Normal(random, n, 0.01);
            cpu.Step(p, g);
            gpu.Step(q, g);
        }

        Assert.Equal(StatePrecision.Int4Blockwise, gpu.StatePrecision);
        ParityTests.AssertBitIdentical(p, q, "parameters");
        Assert.Equal(Checkpoint(cpu), Checkpoint(gpu));
    }

    [Fact]
    public void MisuseIsRefusedBeforeAnythingChanges()
    {
        ParameterLayout layout = Layout();
        int n = layout.TotalLength;
        Optimizer host = Create(nameof(Adam), layout, StatePrecision.Int8Blockwise);
        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(2);
        float[] p = Normal(random, n, 0.1);
        float[] g = Normal(random, n, 0.01);
        gpu.Step(p, g);
        byte[] before = Checkpoint(gpu);
        float[] parameters = (float[])p.Clone();

        Assert.Throws<ArgumentException>(() => gpu.Step(new float[n - 1], g));
        Assert.Throws<ArgumentException>(() => gpu.Step(p, new float[n + 1]));
        using (MemoryBuffer1D<float, Stride1D.Dense> shortBuffer = _accelerator.Allocate1D<float>(n - 1))
        using (MemoryBuffer1D<float, Stride1D.Dense> full = _accelerator.Allocate1D<float>(n))
        {
            Assert.Throws<ArgumentException>(() => gpu.Step(shortBuffer, full));
            Assert.Throws<ArgumentException>(() => gpu.Step(full, full));
        }

        Assert.Throws<InvalidOperationException>(() => gpu.GetState("FirstMoment"));
        Assert.Throws<ArgumentException>(() => gpu.CopyState("FirstMoment", 0, new float[3]));
        Assert.Throws<ArgumentException>(() => gpu.CopyState("NoSuchState", 0, new float[9000]));
        Assert.Throws<ArgumentOutOfRangeException>(() => gpu.ChangeStatePrecision((StatePrecision)17));
        Assert.Equal(1, gpu.StepCount);
        Assert.Equal(StatePrecision.Int8Blockwise, gpu.StatePrecision);
        ParityTests.AssertBitIdentical(parameters, p, "parameters");
        Assert.Equal(before, Checkpoint(gpu));

        // The host converted behind the GPU optimizer's back: steps and reads refuse until it is reloaded.
        host.ChangeStatePrecision(StatePrecision.Int4Blockwise);
        Assert.Throws<InvalidOperationException>(() => gpu.Step(p, g));
        Assert.Throws<InvalidOperationException>(() => gpu.SynchronizeHostState());
        ParityTests.AssertBitIdentical(parameters, p, "parameters");
        gpu.ReloadFromHost();
        Assert.Equal(StatePrecision.Int4Blockwise, gpu.StatePrecision);
        gpu.Step(p, g);
        Assert.Equal(2, gpu.StepCount);
    }

    /// <summary>
    /// The device holds float32 state and the host is converted to 8-bit (or a group given its own precision, or the
    /// host stepped) directly: copying the device state back (SynchronizeHostState, SaveCheckpoint) would overwrite the
    /// host's change, or silently copy nothing into the blockwise host; it is refused, the host is left as it was, and
    /// ReloadFromHost makes the pair usable again.
    /// </summary>
    [Fact]
    public void CopyingBackRefusesAHostChangedBehindTheGpuOptimizersBack()
    {
        ParameterLayout layout = Layout();
        Optimizer host = Create(nameof(Adam), layout, StatePrecision.Float32);
        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(3);
        float[] p = Normal(random, layout.TotalLength, 0.1);
        float[] g = new float[layout.TotalLength];
        ParityTests.Gradients(random, g);
        gpu.Step(p, g);

        host.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        byte[] converted = Checkpoint(host);
        Assert.Throws<InvalidOperationException>(() => gpu.SynchronizeHostState());
        Assert.Throws<InvalidOperationException>(() => gpu.SaveCheckpoint(new System.IO.MemoryStream()));
        Assert.Equal(converted, Checkpoint(host));

        gpu.ReloadFromHost();
        host.Groups[1].StatePrecision = StatePrecision.Float32;
        Assert.Throws<InvalidOperationException>(() => gpu.SynchronizeHostState());
        host.Groups[1].StatePrecision = null;

        gpu.ReloadFromHost();
        host.Step(p, g);
        byte[] stepped = Checkpoint(host);
        Assert.Throws<InvalidOperationException>(() => gpu.SynchronizeHostState());
        Assert.Equal(stepped, Checkpoint(host));
        gpu.ReloadFromHost();
        gpu.SynchronizeHostState();
        Assert.Equal(stepped, Checkpoint(host));
    }

    [Theory]
    [InlineData(typeof(Adam))]
    [InlineData(typeof(Lion))]
    public void BlockwiseKernelCompilesToPtx(Type optimizer)
    {
        // The kernels ran only on the CPU accelerator above: compile them for sm_80 too, so a construct CUDA cannot
        // take fails here, without a GPU. One group per block: shared memory (the stage and the reduction's scratch)
        // and barriers (after the partial maxima, after the fold, before the next block).
        MethodInfo kernel = PtxSnapshotTests.GpuKernelOf(optimizer).DeclaringType!.GetMethod("BlockwiseKernel", BindingFlags.Static | BindingFlags.Public)!;
        using Context context = Context.Create(builder => builder.Optimize(OptimizationLevel.O1).Math(MathMode.Default));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_80), CudaArchitecture.SM_80, CudaInstructionSet.ISA_80, nvvmAPI: null);
        var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), KernelSpecialization.Empty);
        string ptx = compiled.PTXAssembly;
        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        Assert.Contains(".shared", ptx, StringComparison.Ordinal);
        Assert.Contains("bar.sync", ptx, StringComparison.Ordinal);

        // 1/absmax correctly rounded (rcp.rn, as the CPU's 1f / absmax), no approximate division anywhere.
        Assert.Contains("rcp.rn.f32", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain(".approx", ptx, StringComparison.Ordinal);
    }

    internal static Optimizer Create(string rule, ParameterLayout layout, StatePrecision precision)
    {
        Type type = typeof(Optimizer).Assembly.GetType("OptGen." + rule, throwOnError: true)!;
        var optimizer = (Optimizer)Activator.CreateInstance(type, layout)!;
        if (optimizer.Descriptor.IndexOfHyperparameter("WeightDecay") >= 0 && rule == nameof(AdamW))
        {
            optimizer["WeightDecay"] = 0.01;
        }

        optimizer.ChangeStatePrecision(precision);
        return optimizer;
    }

    /// <summary>The rule's state signedness (from its formula) and its element update in double, with the catalog's defaults.</summary>
    private static (bool[] Signed, QuantizedReference.ElementUpdate Update) Formula(string rule) => rule switch
    {
        nameof(Adam) => ([true, false], static (ref double p, double g, double[] s, int t) =>
        {
            const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
            s[0] = (b1 * s[0]) + ((1 - b1) * g);
            s[1] = (b2 * s[1]) + ((1 - b2) * g * g);
            p -= lr * (s[0] / (1 - Math.Pow(b1, t))) / (Math.Sqrt(s[1] / (1 - Math.Pow(b2, t))) + eps);
        }),
        nameof(RmsProp) => ([false], static (ref double p, double g, double[] s, int t) =>
        {
            s[0] = (0.99 * s[0]) + (0.01 * g * g);
            p -= 1e-2 * g / (Math.Sqrt(s[0]) + 1e-8);
        }),
        nameof(Adagrad) => ([false], static (ref double p, double g, double[] s, int t) =>
        {
            s[0] += g * g;
            p -= 1e-2 * g / (Math.Sqrt(s[0]) + 1e-10);
        }),
        nameof(Lion) => ([true], static (ref double p, double g, double[] s, int t) =>
        {
            double c = (0.9 * s[0]) + (0.1 * g);
            p -= 1e-4 * Math.Sign(c);
            s[0] = (0.99 * s[0]) + (0.01 * g);
        }),
        nameof(SgdMomentum) => ([true], static (ref double p, double g, double[] s, int t) =>
        {
            s[0] = (0.9 * s[0]) + g;
            p -= 1e-3 * s[0];
        }),
        _ => throw new ArgumentOutOfRangeException(nameof(rule)),
    };

    internal static byte[] Checkpoint(Optimizer optimizer)
    {
        var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }

    internal static byte[] Checkpoint(GpuOptimizer optimizer)
    {
        var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }

    /// <summary>
    /// The codes and absmax of a single-tensor optimizer's planes, read from its checkpoint: the state section ends
    /// the file before the 4-byte checksum, plane by plane, codes then absmax.
    /// </summary>
    private static (byte[][] Codes, float[][] Absmax) QuantizedState(GpuOptimizer optimizer, int n, int bits, int planes)
    {
        int block = bits == 8 ? 256 : 128;
        int codeBytes = (int)BlockwiseBlock.CodeBytes(n, bits);
        int blocks = (n + block - 1) / block;
        int planeBytes = codeBytes + (4 * blocks);
        byte[] file = Checkpoint(optimizer);
        int start = file.Length - 4 - (planes * planeBytes);
        var codes = new byte[planes][];
        var absmax = new float[planes][];
        for (int k = 0; k < planes; k++)
        {
            int at = start + (k * planeBytes);
            codes[k] = file[at..(at + codeBytes)];
            absmax[k] = [.. Enumerable.Range(0, blocks).Select(b => BitConverter.ToSingle(file, at + codeBytes + (4 * b)))];
        }

        return (codes, absmax);
    }

    /// <summary>How many codes of the quantized tensors differ between the two optimizers' checkpoints, of how many.</summary>
    private static (int Differing, int Total) CompareCodes(Optimizer cpu, GpuOptimizer gpu, StatePrecision precision)
    {
        int bits = precision == StatePrecision.Int8Blockwise ? 8 : 4;
        byte[] a = Checkpoint(cpu), b = Checkpoint(gpu);
        Assert.Equal(a.Length, b.Length);
        int differing = 0, total = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i])
            {
                differing += bits == 8 ? 1 : ((a[i] >> 4) != (b[i] >> 4) ? 1 : 0) + ((a[i] & 0xF) != (b[i] & 0xF) ? 1 : 0);
            }
        }

        ParameterLayout layout = cpu.Layout;
        for (int j = 0; j < layout.TensorCount; j++)
        {
            total += layout.LengthOf(j) >= Optimizer.BlockwiseThreshold ? layout.LengthOf(j) * cpu.Descriptor.States.Count : 0;
        }

        return (differing, total);
    }

    /// <summary>Normal samples (Box–Muller) with standard deviation <paramref name="sigma"/>.</summary>
    internal static float[] Normal(Random random, int n, double sigma) =>
        [.. Enumerable.Range(0, n).Select(_ => (float)(sigma * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())))];
}
