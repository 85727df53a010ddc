using System;
using System.Collections.Generic;
using System.Linq;
using OptGen.Runtime.Tests.Conformance;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// Expression rules with row, column and block reductions and compact state (DeclaredScopes.cs): each against a
/// float64 reference written from its definition (the declared Adam-mini against the catalog family's
/// <see cref="AdamMiniReference"/> with the same block length); the compact state sizes (the declared Adam-mini's
/// equal the catalog <see cref="AdamMini"/>'s); bit-identical at 1, 2 and 3 threads; no allocation after warm-up;
/// checkpoints.
/// </summary>
[Collection(nameof(AllocationCollection))]
public sealed class DeclaredScopeTests
{
    private const double LearningRate = 1e-2;

    // A matrix, a vector with a scalar tail (one row of 257 columns), a stack of 3 matrices, one element, and a
    // matrix whose rows are shorter than a vector (5 columns).
    private static readonly int[][] Shapes = [[40, 30], [257], [3, 5, 7], [1], [11, 5]];

    public static TheoryData<string> Rules() => new() { "adam_mini", "factored", "scope_kinds", "novograd", "compact_choices", "group_global", "over_states" };

    [Theory]
    [MemberData(nameof(Rules))]
    public void MatchesTheFloat64ReferenceOverSeveralTensors(string rule)
    {
        (float[] p0, float[][] grads) = DeclaredRuleChecks.Data(Shapes, steps: 8, seed: 13);
        ReductionOptimizer optimizer = Create(rule, ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes));
        ReductionReference reference = Reference(rule, Shapes, p0);
        float[] p = DeclaredRuleChecks.MatchesTheReference(rule, optimizer, reference, p0, grads, LearningRate);
    }

    [Fact]
    public void CompactStateHasTheFamilysSize()
    {
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        (float[] p0, _) = DeclaredRuleChecks.Data(Shapes, steps: 1, seed: 1);

        // Adam-mini: m per element, v one per block of 16 — the catalog AdamMini's lengths with BlockSize = 16.
        var declared = new DeclaredAdamMini(layout);
        var catalog = new AdamMini(layout) { BlockSize = 16 };
        var reference = new AdamMiniReference(Shapes, p0, 0.9, 0.999, 1e-8, 0, 16);
        catalog.Step(new float[layout.TotalLength], new float[layout.TotalLength]); // reshapes v to the new BlockSize
        Assert.Equal(layout.TotalLength, declared.M.Length);
        Assert.Equal(reference.BlockCount, declared.V.Length);
        Assert.Equal(catalog.BlockSecondMoment.Length, declared.V.Length);
        for (int j = 0; j < layout.TensorCount; j++)
        {
            Assert.Equal(catalog.StateLength("BlockSecondMoment", j), declared.StateLength("V", j));
        }

        Assert.Equal(catalog.StateBytesPerParameter, declared.StateBytesPerParameter);

        // The factored rule: m + n per matrix (R, C), as the catalog's Adafactor (mean(R) is reduced from R between
        // the passes, not kept); the vector of 257 is one row of 257 columns.
        var factored = new DeclaredFactored(layout);
        var factoredReference = new FactoredReference(Shapes, p0, -0.8, 1e-30);
        Assert.Equal(["R", "C"], factored.Descriptor.States.Select(s => s.Name));
        Assert.Equal(factoredReference.StateLength, factored.R.Length + factored.C.Length);
        Assert.Equal(40, factored.StateLength("R", 0));
        Assert.Equal(30, factored.StateLength("C", 0));
        Assert.Equal(1, factored.StateLength("R", 1));
        Assert.Equal(257, factored.StateLength("C", 1));
        Assert.Equal(15, factored.StateLength("R", 2));
        Assert.Equal(21, factored.StateLength("C", 2));

        // Reductions of compact states keep them compact: ⌈n/5⌉ blocks and the columns per tensor, nothing more.
        var overStates = new DeclaredOverStates(layout);
        Assert.Equal(new OverStatesReference(Shapes, p0).StateLength, overStates.B.Length + overStates.C.Length);

        // NovoGrad's second moment is one value per tensor.
        var novo = new DeclaredNovoGrad(layout);
        Assert.Equal(layout.TensorCount, novo.V.Length);
    }

    [Fact]
    public void DeclaredAdamMiniMatchesTheCatalogAdamMini()
    {
        // The same rule declared and hand-written, BlockSize 16: within float32 rounding the same parameters and
        // the same per-block second moments, value for value.
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        (float[] p0, float[][] grads) = DeclaredRuleChecks.Data(Shapes, steps: 6, seed: 17);
        var declared = (DeclaredAdamMini)Create("adam_mini", layout);
        var written = new AdamMini(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-8, WeightDecay = 0.1, BlockSize = 16 };
        float[] a = (float[])p0.Clone(), b = (float[])p0.Clone();
        foreach (float[] g in grads)
        {
            declared.Step(a, g);
            written.Step(b, g);
        }

        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6 * (1 + Math.Abs(b[i])), $"element {i}: {a[i]:R} vs {b[i]:R}");
        }

        Assert.Equal(written.BlockSecondMoment.Length, declared.V.Length);
        for (int i = 0; i < declared.V.Length; i++)
        {
            Assert.True(Math.Abs(declared.V[i] - written.BlockSecondMoment[i]) <= 1e-6 * written.BlockSecondMoment[i], $"v[{i}]: {declared.V[i]:R} vs {written.BlockSecondMoment[i]:R}");
        }
    }

    [Fact]
    public void ThePassesMoveOnlyThePerElementStreams()
    {
        // Adam-mini: pass 1 reduces g and keeps m (its update needs no reduction); pass 2 reads p and m and writes p:
        // 24 bytes per element, as the catalog's (which updates m in pass 2 instead). v is not a stream.
        var mini = new DeclaredAdamMini(10);
        Assert.Equal(["g", "m"], mini.Passes[0].Reads);
        Assert.Equal(["m"], mini.Passes[0].Writes);
        Assert.Equal(["p", "m"], mini.Passes[1].Reads);
        Assert.Equal(["p"], mini.Passes[1].Writes);
        Assert.Equal(new AdamMini(10).Passes.Sum(p => p.BytesPerElement), mini.Passes.Sum(p => p.BytesPerElement));

        // The factored rule: g, then p and g: 16 bytes, as the catalog Adafactor's first and last passes.
        var factored = new DeclaredFactored(10);
        Assert.Equal(["g"], factored.Passes[0].Reads);
        Assert.Equal(["p", "g"], factored.Passes[1].Reads);
        Assert.Equal(["p"], factored.Passes[1].Writes);
        Assert.Contains("compact states (r, c, updated once per row, column between the passes, then mean (mean_2) of them)", factored.Passes[1].Description, StringComparison.Ordinal);
        Assert.DoesNotContain("mean_2", factored.Passes[0].Description, StringComparison.Ordinal);
    }

    [Fact]
    public void GroupAndGlobalReductionsMatchTheFloat64Reference()
    {
        // Two groups: the matrix and the vector, then the stack and the scalar; the global norm spans both.
        int[][][] groups = [[[40, 30], [257]], [[3, 5, 7], [1]]];
        int[][] shapes = groups.SelectMany(x => x).ToArray();
        ParameterLayout layout = ParameterLayout.FromShapes(groups.Select(x => (IReadOnlyList<int[]>)x).ToArray());
        (float[] p0, float[][] grads) = DeclaredRuleChecks.Data(shapes, steps: 6, seed: 23);
        var rule = new DeclaredGroupGlobal(layout) { Lr = LearningRate, MaxNorm = 2 };
        var reference = new GroupGlobalReference(shapes, p0, [0, 0, 1, 1], 2);
        float[] p = (float[])p0.Clone();
        var errors = new ErrorAccumulator();
        for (int t = 0; t < grads.Length; t++)
        {
            rule.Step(p, grads[t]);
            reference.Take(grads[t], LearningRate);
            errors.Add(ReductionReferences.ToFloat(reference.Parameters), p, t + 1);
        }

        Assert.True(errors.Passed(5e-6), $"{errors.RelativeError:E2} at {errors.Where}");
        Assert.Equal(4, rule.S.Length);             // one s per tensor
        Assert.Equal(rule.S[0], rule.S[1]);         // the same within a group
        Assert.Equal(rule.S[2], rule.S[3]);
        Assert.NotEqual(rule.S[0], rule.S[2]);
    }

    [Fact]
    public void AStateReadBeforeItsLastAssignmentStaysPerElement()
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[6, 4], [9]]);
        var rule = new DeclaredCompactChoices(layout);
        Assert.Equal(1, rule.StateLength("S", 0));
        Assert.Equal(6, rule.StateLength("R", 0));
        Assert.Equal(1, rule.StateLength("R", 1));   // a vector is one row
        Assert.Equal(24, rule.StateLength("O", 0));
        Assert.Equal(9, rule.StateLength("O", 1));
        Assert.Contains("o", rule.Passes[1].Reads);
        Assert.Contains("o", rule.Passes[1].Writes);
        Assert.DoesNotContain("r", rule.Passes[1].Reads);
    }

    [Fact]
    public void EmptyRowsColumnsAndTensorsStepAndKeepTheirShape()
    {
        // [0, 4]: no rows, 4 empty columns; [3, 0]: 3 empty rows (mean 0), no columns; [0]: an empty vector.
        ParameterLayout layout = ParameterLayout.FromShapes([[0, 4], [3, 0], [5], [0]]);
        var rule = new DeclaredFactored(layout);
        Assert.Equal(0, rule.StateLength("R", 0));
        Assert.Equal(4, rule.StateLength("C", 0));
        Assert.Equal(3, rule.StateLength("R", 1));
        Assert.Equal(0, rule.StateLength("C", 1));
        Assert.Equal(1, rule.StateLength("R", 3));
        Assert.Equal(0, rule.StateLength("C", 3));
        float[] p = [1, 2, 3, 4, 5];
        float[] g = [0.5f, -1, 2, 0, 1];
        var reference = new FactoredReference([[5]], p, -0.8, 1e-30);
        rule.Step(p, g);
        reference.Take(g, 1e-2);
        for (int i = 0; i < p.Length; i++)
        {
            Assert.Equal(reference.Parameters[i], p[i], 5e-6);
        }

        Assert.Equal(0f, rule.C[0]); // an empty column's mean is 0 (w = 1 at t = 1)
    }

    [Fact]
    public void AReductionOfABFloat16CompactStateReadsTheStoredValues()
    {
        // mean(r) with r stored in bfloat16: pass 2 reads r and c as stored, so mean(r) must be the mean of the
        // stored (rounded) r too. One step from zero state, checked against p0 − η·g/√(R_i·C_j/mean(R)) in float64
        // from the state read back (the mean of the unrounded r would be off by the rounding, up to 2⁻⁹).
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        (float[] p0, float[][] grads) = DeclaredRuleChecks.Data(Shapes, steps: 1, seed: 29);
        var rule = new DeclaredFactored(layout) { Lr = LearningRate, Decay = -0.8, Eps1 = 1e-30 };
        rule.ChangeStatePrecision(StatePrecision.BFloat16);
        float[] p = (float[])p0.Clone();
        rule.Step(p, grads[0]);
        (int Start, int Length)[] spans = TensorSpans.Of(Shapes);
        for (int j = 0; j < Shapes.Length; j++)
        {
            float[] r = new float[rule.StateLength("R", j)], c = new float[rule.StateLength("C", j)];
            rule.CopyState("R", j, r);
            rule.CopyState("C", j, c);
            TensorGrid grid = TensorGrid.Of(Shapes[j], spans[j]);
            double meanR = r.Select(x => (double)x).Average();
            for (int i = 0; i < grid.Length; i++)
            {
                int k = grid.Start + i;
                double update = LearningRate * grads[0][k] / Math.Sqrt(r[grid.RowOf(i)] * (double)c[grid.ColumnOf(i)] / meanR);
                double actual = (double)p0[k] - p[k];
                Assert.True(Math.Abs(actual - update) <= (2e-6 * Math.Abs(update)) + (1e-7 * Math.Abs(p0[k])), $"tensor {j} element {i}: {actual:E6} vs {update:E6}");
            }
        }
    }

    [Fact]
    public void CompactStateInBFloat16FollowsTheFloat32Run()
    {
        ParameterLayout layout = ParameterLayout.FromShapes((IReadOnlyList<int[]>)Shapes);
        (float[] p0, float[][] grads) = DeclaredRuleChecks.Data(Shapes, steps: 4, seed: 21);
        var full = new DeclaredAdamMini(layout) { Lr = LearningRate };
        var half = new DeclaredAdamMini(layout) { Lr = LearningRate };
        half.ChangeStatePrecision(StatePrecision.BFloat16);
        float[] a = (float[])p0.Clone(), b = (float[])p0.Clone();
        foreach (float[] g in grads)
        {
            full.Step(a, g);
            half.Step(b, g);
        }

        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 0.05 * LearningRate * grads.Length, $"element {i}: {a[i]} vs {b[i]}");
        }

        for (int j = 0; j < layout.TensorCount; j++)
        {
            Assert.Equal(full.StateLength("V", j), half.StateLength("V", j));
            float[] expected = new float[full.StateLength("V", j)], actual = new float[expected.Length];
            full.CopyState("V", j, expected);
            half.CopyState("V", j, actual);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 0.01 * Math.Abs(expected[i]), $"tensor {j} v[{i}]: {expected[i]} vs {actual[i]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void BitIdenticalAtOneTwoAndThreeThreads(string rule) =>
        // Tensors over several work units: long rows, a long vector, a stack, rows of 5.
        DeclaredRuleChecks.BitIdenticalAtOneTwoAndThreeThreads(rule, layout => Create(rule, layout), [[300, 170], [70_001], [4, 33, 80], [17], [9000, 5]]);

    [Theory]
    [MemberData(nameof(Rules))]
    public void WarmedUpStepAllocatesNothing(string rule) => DeclaredRuleChecks.WarmedUpStepAllocatesNothing(layout => Create(rule, layout));

    [Theory]
    [MemberData(nameof(Rules))]
    public void ACheckpointResumesBitForBit(string rule) => DeclaredRuleChecks.ACheckpointResumesBitForBit(rule, layout => Create(rule, layout), LearningRate);

    private static ReductionOptimizer Create(string rule, ParameterLayout layout) => DeclaredScopeRules.Create(rule, layout, LearningRate);

    private static ReductionReference Reference(string rule, int[][] shapes, float[] p0) => DeclaredScopeRules.Reference(rule, shapes, p0);
}
