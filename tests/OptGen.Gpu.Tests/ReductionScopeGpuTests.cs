using System;
using System.Collections.Generic;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Runtime.Tests.Reductions;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Gpu.Tests;

/// <summary>
/// Expression rules with row, column, block, group and global reductions and compact state
/// (tests/OptGen.Runtime.Tests/Reductions/DeclaredScopes.cs and the declared NovoGrad, generated here with their ILGPU
/// kernels): the device adds every reduction's operands in the CPU passes' order, so on ILGPU's CPU accelerator every
/// parameter and every state value (the compact ones included) is the CPU step's bit for bit, over 32 steps with
/// two groups, matrices, stacks, vectors, tensors over several work units, learning-rate changes, gradient
/// unscaling and clipping; against the float64 references; through checkpoints both ways; with bfloat16 state; with
/// empty rows, columns and tensors.
/// </summary>
public sealed class ReductionScopeGpuTests(CpuAcceleratorFixture fixture, ITestOutputHelper output) : IClassFixture<CpuAcceleratorFixture>
{
    private const double LearningRate = 1e-2;

    // Group 0: a matrix of 21 000 elements (two work units; 70 columns), a long vector (one row of 5000 columns) and a
    // matrix of short rows; group 1: a stack of 3 matrices, a short vector with a scalar tail, one element.
    private static readonly int[][][] Groups = [[[300, 70], [5000], [90, 5]], [[3, 33, 40], [17], [1]]];

    private readonly Accelerator _accelerator = fixture.Accelerator;

    public static TheoryData<string> Rules() => new() { "adam_mini", "factored", "factored_kept_mean", "scope_kinds", "novograd", "compact_choices", "group_global", "over_states" };

    /// <summary>
    /// The rules above, Adam-mini with one second moment per row (<see cref="DeclaredRowAdamMini"/>) and the attribute
    /// Adam-mini (<see cref="AttributeAdamMini"/>: <c>[SecondMoment(Scope = MomentScope.Block, BlockLength = 16)]</c>).
    /// </summary>
    public static TheoryData<string> ParityRules()
    {
        TheoryData<string> rules = Rules();
        rules.Add("adam_mini_rows");
        rules.Add("attribute_adam_mini");
        return rules;
    }

    private static ParameterLayout Layout() => ParameterLayout.FromShapes(Groups.Select(g => (IReadOnlyList<int[]>)g).ToArray());

    private static ReductionOptimizer Create(string rule, ParameterLayout layout) => rule switch
    {
        "adam_mini_rows" => new DeclaredRowAdamMini(layout) { Lr = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Eps = 1e-8, Wd = 0.1 },
        "attribute_adam_mini" => new AttributeAdamMini(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-8, WeightDecay = 0.1 },
        _ => DeclaredScopeRules.Create(rule, layout, LearningRate),
    };

    /// <summary>The name of the rule's learning rate (the attribute rules call it LearningRate, the declared ones Lr).</summary>
    private static string LearningRateName(string rule) => rule.StartsWith("attribute_", StringComparison.Ordinal) ? "LearningRate" : "Lr";

    [Theory]
    [MemberData(nameof(ParityRules))]
    public void EveryScopedRuleHasGpuKernels(string rule) =>
        Assert.IsAssignableFrom<IGpuKernelSource>(Create(rule, Layout()));

    /// <summary>
    /// 32 steps on the CPU and on the device from the same data: group 1's learning rate halved at step 11 and group 0's
    /// raised at step 21 on both, a gradient scale of 1/8 (unscaling) on every 4th step and a max gradient norm on every
    /// 3rd (clipping: the device's factor is the CPU's); every parameter and every state value bit-identical.
    /// </summary>
    [Theory]
    [MemberData(nameof(ParityRules))]
    public void BitIdenticalToTheCpuStepOver32Steps(string rule)
    {
        ParameterLayout layout = Layout();
        var random = new Random(41);
        float[] p0 = Values(random, layout.TotalLength, 1);
        ReductionOptimizer cpu = Create(rule, layout), host = Create(rule, layout);
        using var gpu = new GpuOptimizer(host, _accelerator);
        float[] pc = (float[])p0.Clone(), pg = (float[])p0.Clone();
        for (int step = 1; step <= 32; step++)
        {
            if (step == 11 || step == 21)
            {
                foreach (Optimizer o in new Optimizer[] { cpu, host })
                {
                    o.Groups[step == 11 ? 1 : 0][LearningRateName(rule)] *= step == 11 ? 0.5 : 3;
                }
            }

            float[] g = Values(random, layout.TotalLength, step % 5 == 0 ? 10 : 0.1);
            var options = new StepOptions
            {
                GradientScale = step % 4 == 0 ? 0.125 : 1,
                MaxGradientNorm = step % 3 == 0 ? 1.0 : double.PositiveInfinity,
            };
            cpu.Step(pc, g, options);
            gpu.Step(pg, g, options);
        }

        gpu.SynchronizeHostState();
        ParityTests.AssertBitIdentical(pc, pg, $"{rule} parameters");
        int values = pc.Length;
        foreach (StateDescriptor state in cpu.Descriptor.States)
        {
            float[] expected = cpu.GetState(state.Name).ToArray();
            ParityTests.AssertBitIdentical(expected, host.GetState(state.Name).ToArray(), $"{rule} {state.Name}");
            values += expected.Length;
        }

        output.WriteLine($"{rule}: {values} values bit-identical to the CPU step after 32 steps");
        Assert.Equal(32, gpu.StepCount);
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void MatchesTheFloat64Reference(string rule)
    {
        // One group (the references of group-scope rules take the groups as given).
        int[][] shapes = Groups.SelectMany(g => g).ToArray();
        var random = new Random(5);
        float[] p = Values(random, shapes.Sum(s => s.Aggregate(1, (a, d) => a * d)), 1);
        ReductionReference reference = DeclaredScopeRules.Reference(rule, shapes, p);
        using var gpu = new GpuOptimizer(Create(rule, ParameterLayout.FromShapes((IReadOnlyList<int[]>)shapes)), _accelerator);
        double worst = 0;
        for (int t = 0; t < 8; t++)
        {
            float[] g = Values(random, p.Length, 1);
            gpu.Step(p, g);
            reference.Take(g, LearningRate);
            worst = Math.Max(worst, ReductionGpuTests.Error(p, reference.Parameters));
        }

        // The CPU test's bound for the same rules (DeclaredScopeTests).
        output.WriteLine($"{rule}: max error {worst:E2} (relative to max |p|)");
        Assert.True(worst < 5e-6, $"{rule}: {worst:E2}");
    }

    /// <summary>
    /// A checkpoint saved by the GPU optimizer after 3 steps (the compact state downloaded in the host's layout) is
    /// loaded by a CPU optimizer and by a second GPU optimizer; both continue to the bits of a CPU optimizer that took
    /// every step. And a CPU checkpoint loaded by a GPU optimizer continues to the same bits.
    /// </summary>
    [Theory]
    [MemberData(nameof(ParityRules))]
    public void CheckpointsMoveBetweenTheBackends(string rule)
    {
        ParameterLayout layout = Layout();
        var random = new Random(53);
        float[][] grads = Enumerable.Range(0, 6).Select(_ => Values(random, layout.TotalLength, 0.1)).ToArray();
        float[] p0 = Values(random, layout.TotalLength, 1);
        ReductionOptimizer all = Create(rule, layout);
        float[] pAll = (float[])p0.Clone();
        foreach (float[] g in grads)
        {
            all.Step(pAll, g);
        }

        // GPU → CPU and GPU → GPU.
        using var gpu = new GpuOptimizer(Create(rule, layout), _accelerator);
        float[] p = (float[])p0.Clone();
        foreach (float[] g in grads[..3])
        {
            gpu.Step(p, g);
        }

        using var checkpoint = new System.IO.MemoryStream();
        gpu.SaveCheckpoint(checkpoint);
        ReductionOptimizer cpu = Create(rule, layout);
        checkpoint.Position = 0;
        cpu.LoadCheckpoint(checkpoint);
        using var gpu2 = new GpuOptimizer(Create(rule, layout), _accelerator);
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

        // CPU → GPU.
        ReductionOptimizer first = Create(rule, layout);
        float[] q = (float[])p0.Clone();
        foreach (float[] g in grads[..2])
        {
            first.Step(q, g);
        }

        using var fromCpu = new System.IO.MemoryStream();
        first.SaveCheckpoint(fromCpu);
        using var gpu3 = new GpuOptimizer(Create(rule, layout), _accelerator);
        fromCpu.Position = 0;
        gpu3.LoadCheckpoint(fromCpu);
        foreach (float[] g in grads[2..])
        {
            gpu3.Step(q, g);
        }

        ParityTests.AssertBitIdentical(pAll, q, $"{rule}: GPU after a CPU checkpoint");
    }

    /// <summary>
    /// Adam-mini with one second moment per row, declared (<see cref="DeclaredRowAdamMini"/>, on the device) and
    /// hand-written (the catalog <see cref="AdamMini"/> with BlockSize 0, one block per row, on the CPU): the same
    /// parameters and per-row second moments within float32 rounding (the CPU test's bound for the block variant).
    /// </summary>
    [Fact]
    public void DeclaredRowAdamMiniMatchesTheCatalogAdamMini()
    {
        ParameterLayout layout = Layout();
        var random = new Random(17);
        float[] p0 = Values(random, layout.TotalLength, 1);
        using var gpu = new GpuOptimizer(Create("adam_mini_rows", layout), _accelerator);
        var written = new AdamMini(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-8, WeightDecay = 0.1, BlockSize = 0 };
        float[] a = (float[])p0.Clone(), b = (float[])p0.Clone();
        for (int step = 0; step < 6; step++)
        {
            float[] g = Values(random, layout.TotalLength, 0.1);
            gpu.Step(a, g);
            written.Step(b, g);
        }

        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6 * (1 + Math.Abs(b[i])), $"element {i}: {a[i]:R} vs {b[i]:R}");
        }

        gpu.SynchronizeHostState();
        float[] v = gpu.Optimizer.GetState("V").ToArray(), expected = written.BlockSecondMoment.ToArray();
        Assert.Equal(expected.Length, v.Length); // one per row: 700 + 1 + 90 + 99 + 1 + 1
        for (int i = 0; i < v.Length; i++)
        {
            Assert.True(Math.Abs(v[i] - expected[i]) <= 1e-6 * expected[i], $"v[{i}]: {v[i]:R} vs {expected[i]:R}");
        }
    }

    /// <summary>
    /// Compact state stored as bfloat16 on both backends: the device rounds where the CPU rounds, to the same bits. The
    /// factored rule's mean(r) and over_states' norm(b), sum(b), maxabs(c), mean(c) reduce the stored (rounded) compact
    /// states, as the CPU's segment loop does.
    /// </summary>
    [Theory]
    [InlineData("adam_mini")]
    [InlineData("factored")]
    [InlineData("factored_kept_mean")]
    [InlineData("over_states")]
    [InlineData("novograd")]
    public void BFloat16StateIsTheCpusBits(string rule)
    {
        ParameterLayout layout = Layout();
        var random = new Random(61);
        float[] p0 = Values(random, layout.TotalLength, 1);
        ReductionOptimizer cpu = Create(rule, layout), host = Create(rule, layout);
        cpu.ChangeStatePrecision(StatePrecision.BFloat16);
        host.ChangeStatePrecision(StatePrecision.BFloat16);
        using var gpu = new GpuOptimizer(host, _accelerator);
        float[] pc = (float[])p0.Clone(), pg = (float[])p0.Clone();
        for (int step = 0; step < 6; step++)
        {
            float[] g = Values(random, layout.TotalLength, 0.1);
            cpu.Step(pc, g);
            gpu.Step(pg, g);
        }

        ParityTests.AssertBitIdentical(pc, pg, $"{rule} parameters with bfloat16 state");
        gpu.SynchronizeHostState();
        foreach (StateDescriptor state in cpu.Descriptor.States)
        {
            for (int j = 0; j < layout.TensorCount; j++)
            {
                float[] expected = new float[cpu.StateLength(state.Name, j)], actual = new float[expected.Length];
                cpu.CopyState(state.Name, j, expected);
                host.CopyState(state.Name, j, actual);
                ParityTests.AssertBitIdentical(expected, actual, $"{rule} {state.Name} of tensor {j}");
            }
        }
    }

    /// <summary>Rows with no columns, columns with no rows and empty tensors: the same bits as the CPU (an empty mean is 0).</summary>
    [Theory]
    [InlineData("factored")]
    [InlineData("factored_kept_mean")]
    [InlineData("scope_kinds")]
    [InlineData("group_global")]
    [InlineData("over_states")]
    public void EmptyRowsColumnsAndTensorsAreTheCpusBits(string rule)
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[0, 4], [3, 0], [5], [0], [2, 3]]);
        var random = new Random(3);
        ReductionOptimizer cpu = Create(rule, layout), host = Create(rule, layout);
        using var gpu = new GpuOptimizer(host, _accelerator);
        float[] pc = Values(random, layout.TotalLength, 1), pg = (float[])pc.Clone();
        for (int step = 0; step < 3; step++)
        {
            float[] g = Values(random, layout.TotalLength, 1);
            cpu.Step(pc, g);
            gpu.Step(pg, g);
        }

        ParityTests.AssertBitIdentical(pc, pg, $"{rule} parameters");
        gpu.SynchronizeHostState();
        foreach (StateDescriptor state in cpu.Descriptor.States)
        {
            ParityTests.AssertBitIdentical(cpu.GetState(state.Name).ToArray(), host.GetState(state.Name).ToArray(), $"{rule} {state.Name}");
        }
    }

    /// <summary>
    /// Gradients whose double sums depend on the order of their additions: a large value ±B (2^30 … 2^50) early in a
    /// sum and its negation later, small values around (lost while the partial sum is large). Step 1 puts them at the
    /// first and the middle row of each column (so a column's unit partials, and a tensor's units, must be added as
    /// the CPU adds them), step 2 at the first and last element of each row (runs, lanes and the lanes' fold). Every scoped sum
    /// is kept as a compact state by <see cref="ScopeOrderProbe"/>, so its float32 value is compared after each step:
    /// adding the lanes' fold, a column's units or a tensor's units in another order fails this test.
    /// </summary>
    [Fact]
    public void ReductionsAddInTheCpusOrder()
    {
        // A matrix over 4 work units, a long vector, short rows; a stack, a short vector, one element.
        int[][][] groups = [[[700, 70], [5000], [90, 5]], [[3, 33, 40], [17], [1]]];
        int[][] shapes = groups.SelectMany(g => g).ToArray();
        ParameterLayout layout = ParameterLayout.FromShapes(groups.Select(g => (IReadOnlyList<int[]>)g).ToArray());
        var random = new Random(71);
        var cpu = new ScopeOrderProbe(layout);
        var host = new ScopeOrderProbe(layout);
        using var gpu = new GpuOptimizer(host, _accelerator);
        float[] pc = Values(random, layout.TotalLength, 1), pg = (float[])pc.Clone();
        foreach (bool columns in new[] { true, false })
        {
            float[] g = Values(random, layout.TotalLength, 1);
            for (int j = 0, start = 0; j < shapes.Length; start += layout.LengthOf(j), j++)
            {
                (int matrices, int rows, int n) = layout.MatrixShapeOf(j);
                for (int m = 0; m < matrices && (columns ? rows : n) > 1; m++)
                {
                    for (int line = 0; line < (columns ? n : rows); line++)
                    {
                        float big = (random.Next(2) == 0 ? -1 : 1) * MathF.ScaleB(1, 30 + random.Next(21));
                        int first = columns ? line : line * n, last = columns ? (rows / 2 * n) + line : (line * n) + n - 1;
                        g[start + (m * rows * n) + first] = big;
                        g[start + (m * rows * n) + last] = -big;
                    }
                }
            }

            cpu.Step(pc, g);
            gpu.Step(pg, g);
            gpu.SynchronizeHostState();
            foreach (StateDescriptor state in cpu.Descriptor.States)
            {
                ParityTests.AssertBitIdentical(cpu.GetState(state.Name).ToArray(), host.GetState(state.Name).ToArray(), $"{state.Name} with large values along the {(columns ? "columns" : "rows")}");
            }
        }

        ParityTests.AssertBitIdentical(pc, pg, "parameters");
    }

    /// <summary>
    /// bfloat16 parameters, gradients and state with stochastic rounding: the compact and per-element states are
    /// rounded where the CPU rounds them, and the parameters draw the CPU's random bits (every parameter the same).
    /// </summary>
    [Theory]
    [InlineData("adam_mini")]
    [InlineData("factored")]
    [InlineData("factored_kept_mean")]
    [InlineData("scope_kinds")]
    [InlineData("group_global")]
    [InlineData("over_states")]
    public void SixteenBitStorageIsTheCpusBits(string rule)
    {
        ParameterLayout layout = Layout();
        ReductionOptimizer cpu = Create(rule, layout), host = Create(rule, layout);
        cpu.ChangeStatePrecision(StatePrecision.BFloat16);
        host.ChangeStatePrecision(StatePrecision.BFloat16);
        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(51);
        BFloat16[] pc = Values(random, layout.TotalLength, 1).Select(x => (BFloat16)x).ToArray();
        using MemoryBuffer1D<BFloat16, Stride1D.Dense> pg = _accelerator.Allocate1D(pc);
        using MemoryBuffer1D<BFloat16, Stride1D.Dense> gg = _accelerator.Allocate1D<BFloat16>(pc.Length);
        var options = new StepOptions { StochasticRounding = true, RoundingSeed = 3 };
        for (int t = 0; t < 5; t++)
        {
            BFloat16[] g = Values(random, layout.TotalLength, 0.1).Select(x => (BFloat16)x).ToArray();
            cpu.Step(pc, g, options);
            gg.CopyFromCPU(g);
            gpu.Step(pg.View, gg.View, options);
        }

        ParityTests.AssertBitIdentical(pc.Select(x => (float)x).ToArray(), pg.GetAsArray1D().Select(x => (float)x).ToArray(), $"{rule} bfloat16 parameters");
    }

    /// <summary>Ten parameter groups (more than are passed by value: the kernels read the device table), each with its own learning rate.</summary>
    [Theory]
    [InlineData("adam_mini")]
    [InlineData("group_global")]
    [InlineData("factored_kept_mean")]
    public void ManyGroupsAreTheCpusBits(string rule)
    {
        ParameterLayout layout = ParameterLayout.FromShapes(Enumerable.Range(0, 10).Select(k => (IReadOnlyList<int[]>)new[] { new[] { 3 + k, 20 + k }, new[] { 7 * (k + 1) } }).ToArray());
        ReductionOptimizer cpu = Create(rule, layout), host = Create(rule, layout);
        for (int k = 0; k < 10; k++)
        {
            cpu.Groups[k]["Lr"] = host.Groups[k]["Lr"] = LearningRate * (k + 1);
        }

        using var gpu = new GpuOptimizer(host, _accelerator);
        var random = new Random(8);
        float[] pc = Values(random, layout.TotalLength, 1), pg = (float[])pc.Clone();
        for (int t = 0; t < 4; t++)
        {
            float[] g = Values(random, layout.TotalLength, 0.5);
            cpu.Step(pc, g);
            gpu.Step(pg, g);
        }

        ParityTests.AssertBitIdentical(pc, pg, $"{rule} parameters over 10 groups");
        gpu.SynchronizeHostState();
        foreach (StateDescriptor state in cpu.Descriptor.States)
        {
            ParityTests.AssertBitIdentical(cpu.GetState(state.Name).ToArray(), host.GetState(state.Name).ToArray(), $"{rule} {state.Name}");
        }
    }

    /// <summary>A layout of empty tensors only: the device has no chunks; a step counts and changes nothing, as on the CPU.</summary>
    [Fact]
    public void ALayoutOfEmptyTensorsSteps()
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[0, 3], [0]]);
        ReductionOptimizer cpu = Create("factored_kept_mean", layout), host = Create("factored_kept_mean", layout);
        using var gpu = new GpuOptimizer(host, _accelerator);
        cpu.Step([], []);
        gpu.Step([], []);
        Assert.Equal(1, gpu.StepCount);
        gpu.SynchronizeHostState();
        ParityTests.AssertBitIdentical(cpu.GetState("C").ToArray(), host.GetState("C").ToArray(), "C");
        ParityTests.AssertBitIdentical(cpu.GetState("S").ToArray(), host.GetState("S").ToArray(), "S");
    }

    private static float[] Values(Random random, int length, double scale) =>
        Enumerable.Range(0, length).Select(_ => (float)(scale * ((2 * random.NextDouble()) - 1))).ToArray();
}

/// <summary>
/// Each scoped sum of g kept as a compact state, so that a test sees the reductions' values themselves (rounded to
/// float32) rather than through an update that another term dominates.
/// </summary>
[Optimizer(Name = "Scope order probe")]
[Hyperparameter("Lr", 0.5)]
[State("r")]
[State("c")]
[State("b")]
[State("w")]
[State("q")]
[State("h")]
[Update("r = row_sum(g)")]
[Update("c = col_sum(g)")]
[Update("b = block_sum(g, 24)")]
[Update("w = sum(g)")]
[Update("q = global_sum(g)")]
[Update("h = group_mean(g)")]
[Update("p = p - Lr * g")]
public sealed partial class ScopeOrderProbe;
