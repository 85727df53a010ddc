using System;
using System.IO;
using System.Linq;
using OptGen.Runtime.Tests.Reductions;
using Xunit;
using Xunit.Abstractions;
using static OptGen.Runtime.Tests.BlockwiseStateChecks;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// <see cref="DeclaredAdamMini"/> with one second moment per block of 65521 elements (a prime: lcm(65521, 256) is
/// 16.8M elements).
/// </summary>
[Optimizer(Name = "Declared prime-block Adam-mini")]
[Hyperparameter("Lr", 1e-3)]
[Hyperparameter("Beta1", 0.9)]
[Hyperparameter("Beta2", 0.999)]
[Hyperparameter("Eps", 1e-8)]
[Hyperparameter("Wd", 0.0)]
[State("m")]
[State("v")]
[StepScalar("bc1", "1 - pow(Beta1, t)")]
[StepScalar("bc2", "1 - pow(Beta2, t)")]
[Update("v = Beta2 * v + (1 - Beta2) * block_mean(g * g, 65521)")]
[Update("m = Beta1 * m + (1 - Beta1) * g")]
[Update("p = p * (1 - Lr * Wd) - Lr * (m / bc1) / (sqrt(v / bc2) + Eps)")]
public sealed partial class DeclaredPrimeBlockAdamMini;

/// <summary>
/// <see cref="DeclaredRowAdamMini"/> with one second moment per column (v_c ← β₂v_c + (1 − β₂)·mean over the column
/// of g², stored one per column): its units keep partial column sums, at most 64 per matrix.
/// </summary>
[Optimizer(Name = "Declared column Adam-mini")]
[Hyperparameter("Lr", 1e-3)]
[Hyperparameter("Beta1", 0.9)]
[Hyperparameter("Beta2", 0.999)]
[Hyperparameter("Eps", 1e-8)]
[Hyperparameter("Wd", 0.0)]
[State("m")]
[State("v")]
[StepScalar("bc1", "1 - pow(Beta1, t)")]
[StepScalar("bc2", "1 - pow(Beta2, t)")]
[Update("v = Beta2 * v + (1 - Beta2) * col_mean(g * g)")]
[Update("m = Beta1 * m + (1 - Beta1) * g")]
[Update("p = p * (1 - Lr * Wd) - Lr * (m / bc1) / (sqrt(v / bc2) + Eps)")]
public sealed partial class DeclaredColumnAdamMini;

/// <summary>
/// Declared rules with row, column and block scopes and 8-/4-bit state: a quantized tensor's units are whole blocks of the
/// codec, about a piece each, whatever the row or block length (not lcm(length, 256) elements, which each thread
/// staged). The allocation is counted on a fresh thread (so no buffer of another test is reused), in
/// <see cref="AllocationCollection"/> with the other allocation tests.
/// </summary>
[Collection(nameof(AllocationCollection))]
public sealed class BlockwiseScopedUnitTests(ITestOutputHelper output)
{
    public static TheoryData<string, int[], StatePrecision> Cases() => new()
    {
        { "declared-row-adam-mini", [512, 2047], StatePrecision.Int8Blockwise },      // rows of 2047: lcm 524 032, the whole tensor
        { "declared-row-normalized", [512, 2047], StatePrecision.Int4Blockwise },     // the first pass reads m (the last replays it)
        { "declared-column-adam-mini", [512, 2047], StatePrecision.Int8Blockwise },   // units cut rows; column sums per unit
        { "declared-prime-block", [1 << 20], StatePrecision.Int8Blockwise },          // blocks of 65521 longer than a unit
        { "declared-prime-block", [1 << 20], StatePrecision.Int4Blockwise },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void QuantizedScopedRuleStagesPieceSizedUnitsForAnyScopeLength(string rule, int[] shape, StatePrecision precision)
    {
        ParameterLayout layout = ParameterLayout.FromShapes([shape]);
        int bits = precision == StatePrecision.Int8Blockwise ? 8 : 4;
        int block = rule == "declared-prime-block" ? 65521 : shape[^1];
        Func<int, int> blockOf = rule == "declared-column-adam-mini" ? i => i % block : i => i / block;
        var random = new Random(12);
        float[] p = Random(random, layout.TotalLength, 0.1);
        float[][] grads = [.. Enumerable.Range(0, 4).Select(_ => Random(random, layout.TotalLength, 0.01))];
        float[] first = (float[])p.Clone(), second = (float[])p.Clone();
        Optimizer optimizer = Create(rule, layout);
        optimizer.MaxDegreeOfParallelism = 1;
        optimizer.ChangeStatePrecision(precision);
        optimizer.SaveCheckpoint(Stream.Null);
        long firstStep = 0, freshThread = 0, laterStep = 0;
        var thread = new System.Threading.Thread(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            optimizer.Step(first, grads[0]);
            firstStep = GC.GetAllocatedBytesForCurrentThread() - before;
        });
        thread.Start();
        thread.Join();

        // A second fresh thread allocates nothing: no staging buffer (they are the optimizer's, claimed per unit: a
        // thread new to the step, a pool thread included, allocated 131 584 bytes here before), no boxed thread-static
        // window (312 bytes before), no units or sums.
        thread = new System.Threading.Thread(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            optimizer.Step(first, grads[1]);
            freshThread = GC.GetAllocatedBytesForCurrentThread() - before;
            optimizer.Step(first, grads[2]);

            // Later steps on this thread: a twin stepped here as often, then the least of three windows (a one-time
            // cost of the process — seen once in a full suite run, 7864 bytes in one window — is not the step's).
            Optimizer twin = Create(rule, layout);
            twin.MaxDegreeOfParallelism = 1;
            twin.ChangeStatePrecision(precision);
            float[] twinParameters = (float[])p.Clone();
            twin.Step(twinParameters, grads[0]);
            twin.Step(twinParameters, grads[1]);
            laterStep = long.MaxValue;
            for (int window = 0; window < 3; window++)
            {
                before = GC.GetAllocatedBytesForCurrentThread();
                twin.Step(twinParameters, grads[2 + (window % 2)]);
                laterStep = Math.Min(laterStep, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        });
        thread.Start();
        thread.Join();
        output.WriteLine($"{rule} {precision}, {string.Join(" × ", shape)}: the first step allocates {firstStep} bytes on its thread, the next on a fresh thread {freshThread}, a later one {laterStep}");
        Assert.True(freshThread == 0, $"a fresh thread's step allocated {freshThread} bytes (a staging buffer per thread? a thread static of a struct type?)");
        // The first step also cuts the units and allocates their sums once per optimizer: with column reductions a
        // unit's partial column sums too (units × columns doubles, at most 64 units per matrix, as with float32 state).
        Assert.True(firstStep < (rule == "declared-column-adam-mini" ? 2048 : 512) * 1024, $"the first step allocated {firstStep} bytes");
        Assert.Equal(0, laterStep);

        // The fourth step against the float64 reference of the quantized algorithm, from the optimizer's own state.
        var reference = new BlockwiseCompactStateTests.CompactReference(layout, bits, _ => blockOf, BlockwiseCompactStateTests.RuleOf(rule));
        reference.Load(optimizer);
        float[] expected = (float[])first.Clone();
        optimizer.Step(first, grads[3]);
        reference.Step(expected, grads[3], 4);
        int quantized = layout.TotalLength;
        int same = reference.CompareCodes(optimizer, (tensor, i, actual, code) =>
            Assert.True(Math.Abs(actual - code) <= 1, $"element {i}: code {actual} vs {code}"));
        double worst = first.Zip(expected, (a, b) => Math.Abs(a - (double)b)).Max();
        output.WriteLine($"step 4: {same} of {quantized} codes identical, largest |p − p_ref| {worst:E2}");
        Assert.True(same >= 0.999 * quantized, $"only {same} of {quantized} codes identical");
        Assert.True(worst <= 2e-6, $"parameters differ by {worst:E2}");

        // Three threads: the same bits; and resumed from the checkpoint after three steps, the same fourth step.
        Optimizer parallel = Create(rule, layout);
        parallel.MaxDegreeOfParallelism = 3;
        parallel.ChangeStatePrecision(precision);
        for (int t = 0; t < 3; t++)
        {
            parallel.Step(second, grads[t]);
        }

        byte[] saved = Checkpoint(parallel);
        float[] resumedParameters = (float[])second.Clone();
        parallel.Step(second, grads[3]);
        AssertBitwiseEqual(first, second, "parameters with 1 and 3 threads");
        AssertBitwiseEqual(BlockwiseCompactStateTests.State(optimizer, 1, 0), BlockwiseCompactStateTests.State(parallel, 1, 0), "v with 1 and 3 threads");
        Assert.Equal(Checkpoint(optimizer), Checkpoint(parallel));

        Optimizer resumed = Create(rule, layout);
        resumed.MaxDegreeOfParallelism = 2;
        resumed.ChangeStatePrecision(precision);
        resumed.LoadCheckpoint(new MemoryStream(saved));
        resumed.Step(resumedParameters, grads[3]);
        AssertBitwiseEqual(first, resumedParameters, "parameters resumed from the checkpoint");
        Assert.Equal(Checkpoint(optimizer), Checkpoint(resumed));
    }

    private static Optimizer Create(string rule, ParameterLayout layout) => rule switch
    {
        "declared-prime-block" => new DeclaredPrimeBlockAdamMini(layout),
        "declared-column-adam-mini" => new DeclaredColumnAdamMini(layout),
        _ => BlockwiseCompactStateTests.Create(rule, layout),
    };
}
