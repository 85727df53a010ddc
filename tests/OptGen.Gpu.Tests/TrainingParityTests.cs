using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using Half = System.Half;
using Xunit;

namespace OptGen.Gpu.Tests;

/// <summary>
/// The GPU backend against the CPU engine on the training paths: many tensors in parameter groups, schedules,
/// unscaling, clipping, skipping, 16-bit parameters and gradients and bfloat16 state, over 20 steps.
/// </summary>
/// <remarks>
/// <para>What must be identical (docs/gpu.md, "What is bit-identical"): every element's update given the same kernel
/// scalars and gradient factor, so parameters and state bits, and the step count and skip decisions. The gradient
/// norm (hence the clip factor) may differ in its last bits on a GPU, where the compiler may fuse a multiply and an
/// add; on ILGPU's CPU accelerator, which runs the kernels as .NET code, the device reduction takes the CPU engine's
/// order exactly, so here the norm is bit-identical too and every clipped step is compared bit for bit. The norm is
/// also checked against an independent float64 sum.</para>
/// </remarks>
public sealed class TrainingParityTests : IClassFixture<CpuAcceleratorFixture>
{
    private const int Steps = 20;
    private readonly Accelerator _accelerator;

    public TrainingParityTests(CpuAcceleratorFixture fixture) => _accelerator = fixture.Accelerator;

    public static TheoryData<string> Optimizers
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (Type type in ParityTests.OptimizerTypes)
            {
                data.Add(type.FullName!);
            }

            return data;
        }
    }

    /// <summary>The rules × {float32, half, bfloat16, stochastic bfloat16 parameters} × state precision × schedule × {clip, skip}.</summary>
    public static TheoryData<string, string, StatePrecision, bool, string> Combinations
    {
        get
        {
            var data = new TheoryData<string, string, StatePrecision, bool, string>();
            foreach (string rule in new[] { "Adam", "AdamW", "SgdMomentum", "RmsProp", "AdamExpression" })
            {
                foreach (string parameters in new[] { "float32", "half", "bfloat16", "bfloat16-stochastic" })
                {
                    foreach (StatePrecision state in new[] { StatePrecision.Float32, StatePrecision.BFloat16 })
                    {
                        foreach (bool schedule in new[] { false, true })
                        {
                            foreach (string mode in new[] { "clip", "skip" })
                            {
                                data.Add(rule, parameters, state, schedule, mode);
                            }
                        }
                    }
                }
            }

            return data;
        }
    }

    /// <summary>Every catalog (and test-declared) optimizer on 200 mixed-size tensors in 3 groups with different hyperparameters, one launch per step.</summary>
    [Theory]
    [MemberData(nameof(Optimizers))]
    public void TwoHundredMixedTensorsInThreeGroups(string optimizer)
    {
        Type type = ParityTests.OptimizerTypes.Single(t => t.FullName == optimizer);
        ParameterLayout layout = MixedLayout(200, 3, seed: 1);
        Optimizer cpu = Create(type, layout, schedule: false);
        Optimizer host = Create(type, layout, schedule: false);
        using var gpu = new GpuOptimizer(host, _accelerator);
        var run = new Run<float, float>(_accelerator, layout.TotalLength, x => x, x => x, seed: 2);
        run.Go(cpu, gpu, StepOptions.Default, nonFinite: false, (p, g, o) => cpu.Step(p, g, o), (p, g, o) => gpu.Step(p, g, o));
        AssertState(cpu, gpu);
    }

    /// <summary>The full matrix for five rules (one of them an expression rule), on 8 tensors in 3 groups.</summary>
    [Theory]
    [MemberData(nameof(Combinations))]
    public void Combination(string rule, string parameters, StatePrecision state, bool schedule, string mode)
    {
        Type type = ParityTests.OptimizerTypes.Single(t => t.FullName == "OptGen." + rule);
        var layout = new ParameterLayout(new[] { 300, 17, 2500 }, new[] { 1, 64, 129 }, new[] { 2100, 33 });
        Optimizer cpu = Create(type, layout, schedule);
        Optimizer host = Create(type, layout, schedule);
        cpu.ChangeStatePrecision(state);
        host.ChangeStatePrecision(state);
        using var gpu = new GpuOptimizer(host, _accelerator);
        var options = new StepOptions
        {
            GradientScale = 0.25,
            MaxGradientNorm = mode == "clip" ? 2.0 : double.PositiveInfinity,
            SkipNonFinite = mode == "skip",
            ComputeGradientNorm = true,
            StochasticRounding = parameters == "bfloat16-stochastic",
            RoundingSeed = 99,
        };

        bool nonFinite = mode == "skip";
        int n = layout.TotalLength;
        switch (parameters)
        {
            case "float32":
                new Run<float, float>(_accelerator, n, x => x, x => x, seed: 3)
                    .Go(cpu, gpu, options, nonFinite, (p, g, o) => cpu.Step(p, g, o), (p, g, o) => gpu.Step(p, g, o));
                break;
            case "half":
                new Run<Half, Half>(_accelerator, n, x => (Half)x, x => (Half)x, seed: 3)
                    .Go(cpu, gpu, options, nonFinite, (p, g, o) => cpu.Step(p, g, o), (p, g, o) => gpu.Step(p, g, o));
                break;
            default:
                new Run<BFloat16, BFloat16>(_accelerator, n, x => (BFloat16)x, x => (BFloat16)x, seed: 3)
                    .Go(cpu, gpu, options, nonFinite, (p, g, o) => cpu.Step(p, g, o), (p, g, o) => gpu.Step(p, g, o));
                break;
        }

        AssertState(cpu, gpu);
    }

    /// <summary>float32 master parameters with half or bfloat16 gradients (automatic mixed precision), clipped.</summary>
    [Theory]
    [InlineData("half")]
    [InlineData("bfloat16")]
    public void MasterParametersWithSixteenBitGradients(string gradients)
    {
        ParameterLayout layout = MixedLayout(20, 2, seed: 4);
        var cpu = new AdamW(layout) { LearningRate = 0.01, WeightDecay = 0.1 };
        using var gpu = new GpuOptimizer(new AdamW(layout) { LearningRate = 0.01, WeightDecay = 0.1 }, _accelerator);
        var options = new StepOptions { MaxGradientNorm = 1.0, GradientScale = 0.5 };
        if (gradients == "half")
        {
            new Run<float, Half>(_accelerator, layout.TotalLength, x => x, x => (Half)x, seed: 5)
                .Go(cpu, gpu, options, nonFinite: false, (p, g, o) => cpu.Step(p, g, o), (p, g, o) => gpu.Step(p, g, o));
        }
        else
        {
            new Run<float, BFloat16>(_accelerator, layout.TotalLength, x => x, x => (BFloat16)x, seed: 5)
                .Go(cpu, gpu, options, nonFinite: false, (p, g, o) => cpu.Step(p, g, o), (p, g, o) => gpu.Step(p, g, o));
        }

        AssertState(cpu, gpu);
    }

    /// <summary>
    /// A tensor longer than the CPU's work piece (16,384 elements): the norm sums per piece, so the second piece's
    /// partial sum must follow the CPU's cut, and stochastic rounding draws by arena position across pieces and tensors.
    /// </summary>
    [Fact]
    public void LongTensorsCrossTheCpuPiecesInStochasticRoundingAndTheNorm()
    {
        var layout = new ParameterLayout(new[] { 40_000, 3 }, new[] { 16_385 });
        var cpu = new Adam(layout) { LearningRate = 0.001 };
        using var gpu = new GpuOptimizer(new Adam(layout) { LearningRate = 0.001 }, _accelerator);
        var options = new StepOptions { StochasticRounding = true, RoundingSeed = 5, MaxGradientNorm = 10, SkipNonFinite = true };
        new Run<BFloat16, BFloat16>(_accelerator, layout.TotalLength, x => (BFloat16)x, x => (BFloat16)x, seed: 6, steps: 5)
            .Go(cpu, gpu, options, nonFinite: true, (p, g, o) => cpu.Step(p, g, o), (p, g, o) => gpu.Step(p, g, o));
        AssertState(cpu, gpu);
    }

    internal static ParameterLayout MixedLayout(int tensors, int groups, int seed)
    {
        // Mostly small tensors (1 to 300 elements), a few across the 2048-element chunk boundary.
        var random = new Random(seed);
        var lengths = new List<int>[groups];
        for (int k = 0; k < groups; k++)
        {
            lengths[k] = [];
        }

        for (int j = 0; j < tensors; j++)
        {
            int length = j % 50 == 7 ? random.Next(2000, 4500) : random.Next(1, 300);
            lengths[j * groups / tensors].Add(length);
        }

        return new ParameterLayout(lengths.Select(l => (IReadOnlyList<int>)l).ToArray());
    }

    /// <summary>The optimizer with different hyperparameters per group and, with <paramref name="schedule"/>, a cosine schedule for every group and an own schedule for group 1.</summary>
    internal static Optimizer Create(Type type, ParameterLayout layout, bool schedule)
    {
        var optimizer = (Optimizer)Activator.CreateInstance(type, layout)!;
        bool hasRate = optimizer.Descriptor.IndexOfHyperparameter("LearningRate") >= 0;
        if (optimizer.Descriptor.IndexOfHyperparameter("WeightDecay") >= 0)
        {
            optimizer["WeightDecay"] = 0.01;
            optimizer.Groups[layout.GroupCount - 1]["WeightDecay"] = 0.05;
        }

        if (hasRate)
        {
            double rate = optimizer["LearningRate"];
            optimizer.Groups[layout.GroupCount - 1]["LearningRate"] = rate * 0.5;
            if (schedule)
            {
                optimizer.SetSchedule("LearningRate", Schedule.Cosine(rate, Steps));
                optimizer.Groups[1].SetSchedule("LearningRate", Schedule.Exponential(rate * 2, 0.9));
            }
        }

        return optimizer;
    }

    internal static void AssertState(Optimizer cpu, GpuOptimizer gpu)
    {
        Assert.Equal(cpu.StepCount, gpu.StepCount);
        Assert.Equal(cpu.StatePrecision, gpu.StatePrecision);
        for (int j = 0; j < cpu.Layout.TensorCount; j++)
        {
            foreach (StateDescriptor state in cpu.Descriptor.States)
            {
                float[] expected = new float[cpu.Layout.LengthOf(j)];
                float[] actual = new float[expected.Length];
                cpu.CopyState(state.Name, j, expected);
                gpu.CopyState(state.Name, j, actual);
                ParityTests.AssertBitIdentical(expected, actual, $"state {state.Name} of tensor {j}");
            }
        }
    }

    /// <summary>One run of both backends over the same gradients; compares parameters and every step's result.</summary>
    internal sealed class Run<TParameter, TGradient>
        where TParameter : unmanaged
        where TGradient : unmanaged
    {
        private readonly Accelerator _accelerator;
        private readonly int _length;
        private readonly Func<float, TParameter> _parameter;
        private readonly Func<float, TGradient> _gradient;
        private readonly int _seed;
        private readonly int _steps;

        public Run(Accelerator accelerator, int length, Func<float, TParameter> parameter, Func<float, TGradient> gradient, int seed, int steps = Steps)
        {
            _accelerator = accelerator;
            _length = length;
            _parameter = parameter;
            _gradient = gradient;
            _seed = seed;
            _steps = steps;
        }

        public void Go(
            Optimizer cpu,
            GpuOptimizer gpu,
            StepOptions options,
            bool nonFinite,
            Func<TParameter[], TGradient[], StepOptions, StepResult> cpuStep,
            Action<ArrayView<TParameter>, ArrayView<TGradient>, StepOptions> gpuStep)
        {
            var random = new Random(_seed);
            TParameter[] p = Enumerable.Range(0, _length).Select(_ => _parameter((float)((random.NextDouble() * 2) - 1))).ToArray();
            float[] raw = new float[_length];
            TGradient[] g = new TGradient[_length];
            using MemoryBuffer1D<TParameter, Stride1D.Dense> deviceP = _accelerator.Allocate1D(p);
            using MemoryBuffer1D<TGradient, Stride1D.Dense> deviceG = _accelerator.Allocate1D<TGradient>(_length);
            int skipped = 0, injected = 0;
            for (int step = 1; step <= _steps; step++)
            {
                ParityTests.Gradients(random, raw);
                for (int i = 0; i < raw.Length; i++)
                {
                    // Keep 16-bit gradients inside half's range; squares still reach the clip threshold.
                    g[i] = _gradient(Math.Clamp(raw[i], -1000f, 1000f));
                }

                if (nonFinite && (step == 4 || step == 11 || step == _steps))
                {
                    g[random.Next(_length)] = _gradient(step == 11 ? float.PositiveInfinity : float.NaN);
                    injected++;
                }

                StepResult expected = cpuStep(p, g, options);
                deviceG.View.BaseView.CopyFromCPU(g);
                gpuStep(deviceP.View.BaseView, deviceG.View.BaseView, options);
                StepResult actual = gpu.LastResult;
                skipped += expected.Skipped ? 1 : 0;

                Assert.Equal(expected.Skipped, actual.Skipped);
                Assert.Equal(expected.StepCount, actual.StepCount);
                Assert.Equal(expected.FoundNonFinite, actual.FoundNonFinite);
                Assert.Equal(expected.ClipFactor, actual.ClipFactor);
                if (options.NeedsNormForTests())
                {
                    Assert.Equal(expected.GradientNorm, actual.GradientNorm);
                    if (!expected.FoundNonFinite)
                    {
                        // An independent reference: the float64 norm of the unscaled stored gradients.
                        double sum = 0;
                        foreach (TGradient x in g)
                        {
                            double v = ToFloat(x);
                            sum += v * v;
                        }

                        double reference = Math.Sqrt(sum) * options.GradientScale;
                        Assert.True(Math.Abs(actual.GradientNorm - reference) <= 1e-12 * reference, $"norm {actual.GradientNorm:R} vs float64 {reference:R}");
                    }
                }
            }

            Assert.Equal(options.SkipNonFinite ? injected : 0, skipped);
            byte[] expectedBits = MemoryMarshal.AsBytes(p.AsSpan()).ToArray();
            byte[] actualBits = MemoryMarshal.AsBytes(deviceP.GetAsArray1D().AsSpan()).ToArray();
            int size = System.Runtime.CompilerServices.Unsafe.SizeOf<TParameter>();
            for (int i = 0; i < expectedBits.Length; i += size)
            {
                if (!expectedBits.AsSpan(i, size).SequenceEqual(actualBits.AsSpan(i, size)))
                {
                    Assert.Fail($"parameter {i / size} of {_length} differs after {_steps} steps: GPU {Convert.ToHexString(actualBits, i, size)}, CPU {Convert.ToHexString(expectedBits, i, size)}.");
                }
            }
        }

        private static float ToFloat(TGradient x) => x switch
        {
            float f => f,
            Half h => (float)h,
            BFloat16 b => (float)b,
            _ => throw new NotSupportedException(),
        };
    }
}

internal static class StepOptionsTestExtensions
{
    public static bool NeedsNormForTests(this StepOptions options) =>
        options.ComputeGradientNorm || options.SkipNonFinite || !double.IsPositiveInfinity(options.MaxGradientNorm);
}
