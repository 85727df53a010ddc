using System;
using System.Linq;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Runtime.Tests.Reductions;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Gpu.Tests;

/// <summary>
/// The catalog's LAMB and LARS on the GPU backend (ILGPU's CPU accelerator): against the float64 references written
/// for the CPU tests, against the CPU step, independent of the launch shape and of the other tensors of the layout,
/// and refusing misuse before anything changes.
/// </summary>
/// <remarks>
/// <para>GPU vs CPU: the reductions add the same values in another order (2048-element chunks and a fixed tree on the
/// GPU, 16 384-element units and eight-lane accumulators on the CPU), so a norm differs in its last double bits at
/// most; the element formulas are the same float32 operations (one definition, ReductionFormulas). The tests require
/// agreement to 4 float32 ULP after 20 steps of a multi-tensor, two-group layout and report how many elements are
/// bit-identical (all of them in every run so far).</para>
/// </remarks>
public sealed class ReductionGpuTests(CpuAcceleratorFixture fixture, ITestOutputHelper output) : IClassFixture<CpuAcceleratorFixture>
{
    private const int Steps = 20;
    private readonly Accelerator _accelerator = fixture.Accelerator;

    /// <summary>A 37 × 61 matrix (two chunks), a 100-vector and a 5000-vector (three chunks) in group 0; a 3 × 700 matrix and a 1-vector in group 1.</summary>
    private static ParameterLayout Layout() => ParameterLayout.FromShapes([[37, 61], [100], [5000]], [[3, 700], [1]]);

    private static int[][] Shapes => [[37, 61], [100], [5000], [3, 700], [1]];

    private static MultiPassOptimizer Create(string rule, ParameterLayout layout) => rule switch
    {
        "lamb" => new Lamb(layout) { WeightDecay = 0.01, LearningRate = 0.01 },
        "lars" => new Lars(layout) { WeightDecay = 1e-4, LearningRate = 0.1 },
        _ => throw new ArgumentException(rule, nameof(rule)),
    };

    public static TheoryData<string> Rules() => new() { "lamb", "lars" };

    private static float[] Random(Random random, int length, double scale = 1) =>
        Enumerable.Range(0, length).Select(_ => (float)(((random.NextDouble() * 2) - 1) * scale)).ToArray();

    [Theory]
    [MemberData(nameof(Rules))]
    public void MatchesTheFloat64Reference(string rule)
    {
        ParameterLayout layout = ParameterLayout.FromShapes(Shapes);
        var random = new Random(5);
        float[] p = Random(random, layout.TotalLength);
        float[][] grads = Enumerable.Range(0, Steps).Select(_ => Random(random, layout.TotalLength, 0.1)).ToArray();
        ReductionReference reference = rule == "lamb"
            ? new LambReference(Shapes, p, 0.9, 0.999, 1e-6, 0.01)
            : new LarsReference(Shapes, p, 0.9, 1e-4, 0.001);
        double lr = rule == "lamb" ? 0.01 : 0.1;
        using var gpu = new GpuOptimizer(Create(rule, layout), _accelerator);
        double worst = 0;
        foreach (float[] g in grads)
        {
            gpu.Step(p, g);
            reference.Take(g, lr);
            worst = Math.Max(worst, Error(p, reference.Parameters));
        }

        output.WriteLine($"{rule}: max error {worst:E2} (relative to max |p|) after {Steps} steps");
        Assert.True(worst < 2e-6, $"{rule}: {worst:E2}");
    }

    /// <summary>
    /// Without clipping the gradient factor is 1 on both paths and the steps agree to 4 ULP (and are in fact
    /// bit-identical so far); with clipping every third step the GPU's LARS takes ‖g‖·scale with the float32 gradient
    /// factor where the CPU uses the double scale, so that case is held to 1e-6 of the largest value.
    /// </summary>
    [Theory]
    [InlineData("lamb", false)]
    [InlineData("lars", false)]
    [InlineData("lamb", true)]
    [InlineData("lars", true)]
    public void AgreesWithTheCpuStep(string rule, bool clip)
    {
        ParameterLayout layout = Layout();
        var random = new Random(7);
        float[] p0 = Random(random, layout.TotalLength);
        MultiPassOptimizer cpu = Create(rule, layout);
        MultiPassOptimizer host = Create(rule, layout);
        cpu.Groups[1]["LearningRate"] = host.Groups[1]["LearningRate"] = 0.003;
        using var gpu = new GpuOptimizer(host, _accelerator);
        float[] pc = (float[])p0.Clone(), pg = (float[])p0.Clone();
        for (int step = 1; step <= Steps; step++)
        {
            float[] g = Random(random, layout.TotalLength, step % 5 == 0 ? 10 : 0.1);
            var options = new StepOptions { MaxGradientNorm = clip && step % 3 == 0 ? 1.0 : double.PositiveInfinity };
            cpu.Step(pc, g, options);
            gpu.Step(pg, g, options);
        }

        gpu.SynchronizeHostState();
        int same = Compare(pc, pg, clip, $"{rule} parameters"), count = pc.Length;
        foreach (StateDescriptor state in cpu.Descriptor.States)
        {
            float[] expected = cpu.GetState(state.Name).ToArray();
            same += Compare(expected, host.GetState(state.Name).ToArray(), clip, $"{rule} {state.Name}");
            count += expected.Length;
        }

        output.WriteLine($"{rule}{(clip ? " clipped" : string.Empty)}: {same} of {count} values bit-identical to the CPU step");
        Assert.Equal(cpu.StepCount, gpu.StepCount);
    }

    private static int Compare(float[] expected, float[] actual, bool clip, string what)
    {
        if (!clip)
        {
            return AssertWithinUlps(expected, actual, 4, what);
        }

        double largest = expected.Max(x => Math.Abs((double)x));
        int same = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            same += expected[i] == actual[i] ? 1 : 0;
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6 * largest, $"{what}: element {i} is {actual[i]:R} on the GPU but {expected[i]:R} on the CPU.");
        }

        return same;
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void BitsDoNotDependOnTheLaunchShape(string rule)
    {
        ParameterLayout layout = Layout();
        var random = new Random(9);
        float[] p0 = Random(random, layout.TotalLength);
        float[][] grads = Enumerable.Range(0, 3).Select(_ => Random(random, layout.TotalLength, 0.1)).ToArray();
        AssertLaunchShapeIndependent(_accelerator, () => Create(rule, layout), p0, grads, rule);
    }

    /// <summary>
    /// Steps fresh optimizers from <paramref name="create"/> with the reducing passes in groups of 1, 2 and the
    /// accelerator's most threads, on grids of 1 to 64 groups: the parameters must be the same bits every time.
    /// </summary>
    internal static void AssertLaunchShapeIndependent(Accelerator accelerator, Func<Optimizer> create, float[] p0, float[][] grads, string what)
    {
        int limit = accelerator.MaxNumThreadsPerGroup;
        float[]? expected = null;
        foreach ((int group, int grid) in new[] { (limit, 64), (1, 1), (2, 3), (4, 2), (limit, 1), (limit, 5) })
        {
            using var gpu = new GpuOptimizer(create(), accelerator);
            SetLaunchShape(gpu, Math.Min(group, limit), grid);
            float[] p = (float[])p0.Clone();
            foreach (float[] g in grads)
            {
                gpu.Step(p, g);
            }

            if (expected is null)
            {
                expected = p;
                continue;
            }

            ParityTests.AssertBitIdentical(expected, p, $"{what}: parameters with groups of {group}, grid {grid}");
        }
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void ATensorsBitsDoNotDependOnTheOtherTensors(string rule)
    {
        // The 5000-vector alone, and after two other tensors (so at another arena offset, in other chunks).
        var random = new Random(13);
        float[] mine = Random(random, 5000);
        float[] before = Random(random, 2257 + 100);
        float[][] grads = Enumerable.Range(0, 3).Select(_ => Random(random, 2257 + 100 + 5000, 0.1)).ToArray();
        float[] alone = (float[])mine.Clone();
        float[] together = [.. before, .. mine];
        using (var gpu = new GpuOptimizer(Create(rule, ParameterLayout.FromShapes([[5000]])), _accelerator))
        {
            foreach (float[] g in grads)
            {
                gpu.Step(alone, g.AsSpan(2357).ToArray());
            }
        }

        using (var gpu = new GpuOptimizer(Create(rule, ParameterLayout.FromShapes([[37, 61], [100], [5000]])), _accelerator))
        {
            foreach (float[] g in grads)
            {
                gpu.Step(together, g);
            }
        }

        ParityTests.AssertBitIdentical(alone, together.AsSpan(2357).ToArray(), $"{rule}: the 5000-vector alone and after two tensors");
    }

    [Fact]
    public void MisuseThrowsBeforeAnythingChanges()
    {
        ParameterLayout layout = Layout();
        var random = new Random(17);
        var lamb = new Lamb(layout);
        using var gpu = new GpuOptimizer(lamb, _accelerator);
        float[] p = Random(random, layout.TotalLength);
        float[] g = Random(random, layout.TotalLength);
        gpu.Step(p, g);
        float[] before = (float[])p.Clone();
        float[] m = new float[layout.LengthOf(0)];
        gpu.CopyState("FirstMoment", 0, m);

        Assert.Throws<ArgumentException>(() => gpu.Step(p.AsSpan(1), g.AsSpan(1)));

        // A schedule that leaves the learning rate's range: refused while the step is planned, before the first launch.
        lamb.SetSchedule("LearningRate", Schedule.Constant(-1));
        Assert.Throws<InvalidOperationException>(() => gpu.Step(p, g));
        Assert.Equal(before, p);
        Assert.Equal(1, gpu.StepCount);
        float[] after = new float[m.Length];
        gpu.CopyState("FirstMoment", 0, after);
        Assert.Equal(m, after);
    }

    [Fact]
    public void EmptyTensorsAndEmptyLayoutsStep()
    {
        foreach (ParameterLayout layout in new[] { ParameterLayout.Single(0), new ParameterLayout([0, 33], [0]) })
        {
            foreach (Type rule in typeof(Optimizer).Assembly.GetExportedTypes().Where(t => t.IsSubclassOf(typeof(MultiPassOptimizer)) && !t.IsAbstract).Append(typeof(DeclaredLamb)))
            {
                var cpu = (Optimizer)Activator.CreateInstance(rule, layout)!;
                using var gpu = new GpuOptimizer((Optimizer)Activator.CreateInstance(rule, layout)!, _accelerator);
                float[] pc = Enumerable.Range(0, layout.TotalLength).Select(i => 0.5f + i).ToArray(), pg = (float[])pc.Clone();
                float[] g = Enumerable.Range(0, layout.TotalLength).Select(i => 0.25f - i).ToArray();
                cpu.Step(pc, g);
                gpu.Step(pg, g);
                Assert.Equal(1, gpu.StepCount);
                AssertWithinUlps(pc, pg, 4, $"{rule.Name} on {layout.TotalLength} elements");
            }
        }
    }

    [Fact]
    public void EveryCatalogRuleWithReductionsHasGpuPasses()
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[4, 4]]);
        Type[] rules = typeof(Optimizer).Assembly.GetExportedTypes().Where(t => t.IsSubclassOf(typeof(MultiPassOptimizer)) && !t.IsAbstract).ToArray();
        Assert.Equal(5, rules.Length);
        foreach (Type rule in rules)
        {
            using var gpu = new GpuOptimizer((Optimizer)Activator.CreateInstance(rule, layout)!, _accelerator);
            Assert.Equal(16, gpu.Length);
        }
    }

    /// <summary>
    /// Every catalog rule with reductions with bfloat16 parameters and gradients (stochastic rounding) and bfloat16
    /// state, against the CPU step on the same storage: the stored moments are rounded where the CPU rounds them (LAMB
    /// and Adafactor read back what they stored), and stochastic rounding draws the CPU's bits.
    /// </summary>
    [Theory]
    [InlineData("lamb")]
    [InlineData("lars")]
    [InlineData("adam_mini")]
    [InlineData("adafactor")]
    [InlineData("adamw_schedulefree")]
    public void SixteenBitStorageAgreesWithTheCpuStep(string rule)
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[37, 61], [300]]);
        Optimizer Make() => rule switch
        {
            "adam_mini" => new AdamMini(layout),
            "adafactor" => new Adafactor(layout),
            "adamw_schedulefree" => new AdamWScheduleFree(layout),
            _ => Create(rule, layout),
        };

        Optimizer cpu = Make(), host = Make();
        cpu.ChangeStatePrecision(StatePrecision.BFloat16);
        host.ChangeStatePrecision(StatePrecision.BFloat16);
        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(51);
        BFloat16[] pc = Random(random, layout.TotalLength).Select(x => (BFloat16)x).ToArray();
        using MemoryBuffer1D<BFloat16, Stride1D.Dense> pg = _accelerator.Allocate1D(pc);
        using MemoryBuffer1D<BFloat16, Stride1D.Dense> gg = _accelerator.Allocate1D<BFloat16>(pc.Length);
        var options = new StepOptions { StochasticRounding = true, RoundingSeed = 3 };
        for (int t = 0; t < 6; t++)
        {
            BFloat16[] g = Random(random, layout.TotalLength, 0.1).Select(x => (BFloat16)x).ToArray();
            cpu.Step(pc, g, options);
            gg.CopyFromCPU(g);
            gpu.Step(pg.View, gg.View, options);
        }

        float[] expected = pc.Select(x => (float)x).ToArray(), actual = pg.GetAsArray1D().Select(x => (float)x).ToArray();
        int same = AssertWithinUlps(expected, actual, 1 << 16, $"{rule} bfloat16 parameters"); // 1 bfloat16 ULP
        output.WriteLine($"{rule}: {same} of {expected.Length} bfloat16 parameters bit-identical to the CPU step");
        Assert.Equal(expected.Length, same);
    }

    /// <summary>
    /// Checkpoints move between the backends with the compact state of Adam-mini and Adafactor as with the per-element
    /// state of the others: saved by the GPU optimizer after 3 steps, loaded by a CPU optimizer (and back onto a
    /// second GPU optimizer), both continue to the same bits as a CPU optimizer that took every step.
    /// </summary>
    [Theory]
    [InlineData("lamb")]
    [InlineData("lars")]
    [InlineData("adam_mini")]
    [InlineData("adafactor")]
    [InlineData("adamw_schedulefree")]
    public void CheckpointsMoveBetweenTheBackends(string rule)
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[37, 61], [300]], [[3, 5]]);
        Optimizer Make() => rule switch
        {
            "adam_mini" => new AdamMini(layout) { BlockSize = 96 },
            "adafactor" => new Adafactor(layout),
            "adamw_schedulefree" => new AdamWScheduleFree(layout) { WarmupSteps = 2 },
            _ => Create(rule, layout),
        };

        var random = new Random(53);
        float[][] grads = Enumerable.Range(0, 5).Select(_ => Random(random, layout.TotalLength, 0.1)).ToArray();
        float[] p0 = Random(random, layout.TotalLength);
        Optimizer all = Make();
        float[] pAll = (float[])p0.Clone();
        foreach (float[] g in grads)
        {
            all.Step(pAll, g);
        }

        using var gpu = new GpuOptimizer(Make(), _accelerator);
        float[] p = (float[])p0.Clone();
        foreach (float[] g in grads[..3])
        {
            gpu.Step(p, g);
        }

        using var checkpoint = new System.IO.MemoryStream();
        gpu.SaveCheckpoint(checkpoint);
        Optimizer cpu = Make();
        checkpoint.Position = 0;
        cpu.LoadCheckpoint(checkpoint);
        using var gpu2 = new GpuOptimizer(Make(), _accelerator);
        checkpoint.Position = 0;
        gpu2.LoadCheckpoint(checkpoint);
        float[] pCpu = (float[])p.Clone(), pGpu = (float[])p.Clone();
        foreach (float[] g in grads[3..])
        {
            cpu.Step(pCpu, g);
            gpu2.Step(pGpu, g);
        }

        ParityTests.AssertBitIdentical(pAll, pCpu, $"{rule}: CPU after a GPU checkpoint");
        ParityTests.AssertBitIdentical(pAll, pGpu, $"{rule}: GPU after a GPU checkpoint");
    }

    /// <summary>The CPU tests' measure (ReductionFamilyTests, ErrorAccumulator): max |p − p_ref| / max |p_ref|.</summary>
    internal static double Error(float[] actual, double[] expected)
    {
        double error = 0, largest = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            error = Math.Max(error, Math.Abs(actual[i] - expected[i]));
            largest = Math.Max(largest, Math.Abs(expected[i]));
        }

        return error / largest;
    }

    /// <summary>GpuOptimizer.SetReductionLaunchShape (internal: a test hook, not an API).</summary>
    internal static void SetLaunchShape(GpuOptimizer gpu, int groupSize, int gridGroups) =>
        typeof(GpuOptimizer).GetMethod("SetReductionLaunchShape", BindingFlags.Instance | BindingFlags.NonPublic)!.Invoke(gpu, [groupSize, gridGroups]);

    /// <summary>Asserts every pair within <paramref name="ulps"/> float32 ULP; returns how many are bit-identical.</summary>
    internal static int AssertWithinUlps(float[] expected, float[] actual, int ulps, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int same = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            int a = BitConverter.SingleToInt32Bits(expected[i]), b = BitConverter.SingleToInt32Bits(actual[i]);
            if (a == b)
            {
                same++;
                continue;
            }

            long distance = Math.Abs((long)(a < 0 ? int.MinValue - a : a) - (b < 0 ? int.MinValue - b : b));
            Assert.True(distance <= ulps, $"{what}: element {i} is {actual[i]:R} on the GPU but {expected[i]:R} on the CPU ({distance} ULP).");
        }

        return same;
    }
}
