using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace OptGen.Gpu.Tests;

/// <summary>
/// The GPU path equals the CPU SIMD path for every optimizer in the OptGen catalog (found by reflection, so
/// optimizers added later are covered without editing this file) and every optimizer declared in this project, at
/// lengths 1, 33, 1025 and 100,000 over 50 steps, with the learning rate changed half-way through.
/// </summary>
/// <remarks>
/// <para>Tolerance: none. Parameters and every state buffer must be bit-identical (0 ULP). Both paths run the
/// same scalar <c>Invoke</c> of the generated kernel struct (the GPU kernel calls it; the SIMD overloads apply the
/// same IEEE operations lane-wise, with correctly rounded √ and ÷, and a fused multiply-add only where the IR has
/// one, correctly rounded on both: centered RMSprop's v − ḡ²), and the per-step
/// scalars come from the same host code in double precision.</para>
/// <para>This is a parity test; each path is checked against float64 references written from the formulas by the
/// runtime's numerical tests.</para>
/// </remarks>
public sealed class ParityTests : IClassFixture<CpuAcceleratorFixture>
{
    private const int Steps = 50;
    private readonly Accelerator _accelerator;

    public ParityTests(CpuAcceleratorFixture fixture) => _accelerator = fixture.Accelerator;

    public static IReadOnlyList<Type> OptimizerTypes { get; } =
        typeof(Optimizer).Assembly.GetExportedTypes()
            .Concat(typeof(ParityTests).Assembly.GetExportedTypes())
            // The rules with reductions (MultiPassOptimizer) run as device passes, tested in Reduction*GpuTests.cs (the
            // CPU step is the reference there too, to 4 ULP: the device reduces in another order than the CPU).
            .Where(t => t.IsClass && !t.IsAbstract && t.IsSubclassOf(typeof(Optimizer)) && !t.IsSubclassOf(typeof(MultiPassOptimizer)) && t.GetConstructor(new[] { typeof(int) }) is not null)
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .ToArray();

    public static TheoryData<string, int> Cases
    {
        get
        {
            var data = new TheoryData<string, int>();
            foreach (Type type in OptimizerTypes)
            {
                foreach (int length in new[] { 1, 33, 1025, 100_000 })
                {
                    data.Add(type.FullName!, length);
                }
            }

            return data;
        }
    }

    [Fact]
    public void TheCatalogIsFound()
    {
        string[] names = OptimizerTypes.Select(t => t.Name).ToArray();
        Assert.Contains("Adam", names);
        Assert.Contains("AdamW", names);
        Assert.Contains("SgdNesterov", names);
        Assert.Contains("RmsPropEpsilonInside", names);
        Assert.Contains("GpuAmsGradAdam", names);
        Assert.All(OptimizerTypes, t => Assert.True(typeof(IGpuKernelSource).IsAssignableFrom(t), $"{t} has no GPU kernel"));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GpuKernelIsBitIdenticalToCpuSimd(string optimizer, int length)
    {
        Type type = OptimizerTypes.Single(t => t.FullName == optimizer);
        Optimizer cpu = Create(type, length);
        Optimizer host = Create(type, length);
        using var gpu = new GpuOptimizer(host, _accelerator);

        var random = new Random(length);
        float[] p = Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        float[] g = new float[length];
        using MemoryBuffer1D<float, Stride1D.Dense> deviceP = _accelerator.Allocate1D(p);
        using MemoryBuffer1D<float, Stride1D.Dense> deviceG = _accelerator.Allocate1D<float>(length);

        for (int step = 1; step <= Steps; step++)
        {
            if (step == (Steps / 2) + 1 && cpu.Descriptor.IndexOfHyperparameter("LearningRate") >= 0)
            {
                // Setting the host optimizer's learning rate applies from the GPU path's next step.
                cpu["LearningRate"] *= 0.5;
                host["LearningRate"] *= 0.5;
            }

            Gradients(random, g);
            cpu.Step(p, g);
            deviceG.CopyFromCPU(g);
            gpu.Step(deviceP, deviceG);
            if (step == 1 || step == Steps)
            {
                _accelerator.Synchronize();
                AssertBitIdentical(p, deviceP.GetAsArray1D(), $"parameters after step {step}");
                foreach (StateDescriptor state in cpu.Descriptor.States)
                {
                    float[] actual = new float[length];
                    gpu.CopyState(state.Name, actual);
                    AssertBitIdentical(cpu.GetState(state.Name).ToArray(), actual, $"state {state.Name} after step {step}");
                }
            }
        }

        Assert.Equal(cpu.StepCount, gpu.StepCount);
        Assert.Equal(cpu.StepCount, host.StepCount);
    }

    internal static Optimizer Create(Type type, int length)
    {
        var optimizer = (Optimizer)Activator.CreateInstance(type, length)!;
        if (optimizer.Descriptor.IndexOfHyperparameter("WeightDecay") >= 0)
        {
            // Exercise the weight-decay term, which is 0 by default for most rules.
            optimizer["WeightDecay"] = 0.01;
        }

        return optimizer;
    }

    /// <summary>Gradients over six orders of magnitude, with some exact zeros (0/0 := 0 paths).</summary>
    internal static void Gradients(Random random, Span<float> g)
    {
        for (int i = 0; i < g.Length; i++)
        {
            double u = random.NextDouble();
            g[i] = u < 0.05 ? 0f : (float)(((random.NextDouble() * 2) - 1) * Math.Pow(10, random.Next(-3, 4)));
        }
    }

    /// <summary>
    /// The step options of step <paramref name="t"/> of <paramref name="steps"/> in the parity runs: plain steps, then
    /// unscaling, then clipping, then skipping of non-finite gradients, a fifth of the run each.
    /// </summary>
    internal static StepOptions PhaseOptions(int t, int steps) => (5 * t / steps) switch
    {
        0 => StepOptions.Default,
        1 => new StepOptions { GradientScale = 0.25 },
        2 => new StepOptions { MaxGradientNorm = 1.0 },
        _ => new StepOptions { SkipNonFinite = true },
    };

    internal static void AssertBitIdentical(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: element {i} of {expected.Length} is {actual[i]:R} on the GPU path but {expected[i]:R} on the CPU SIMD path.");
            }
        }
    }
}
