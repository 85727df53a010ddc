using System;
using System.Collections.Generic;
using System.Linq;
using OptGen.Runtime.Tests.Conformance;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// The catalog rules with reductions (<see cref="Lamb"/>, <see cref="Lars"/>, <see cref="Adafactor"/>,
/// <see cref="AdamMini"/>, <see cref="AdamWScheduleFree"/>) against the float64 references of this folder, on
/// layouts of several shaped tensors, one of them spanning several 16384-element pieces, and of two groups; every
/// reduction bit-identical for any thread count; schedule-free's x from Eval against the reference's x and Train back
/// to y bit for bit. (Checkpoint resumption and eval-mode refusal: MultiPassEngineTests.)
/// </summary>
public sealed class ReductionFamilyTests(ITestOutputHelper output)
{
    /// <summary>The families, with non-default hyperparameters so that every term of each rule acts.</summary>
    public static TheoryData<string> Families() => new(ReductionReferences.Keys.Keys);

    /// <summary>Three tensors: a 130 × 300 matrix (39000 elements, three pieces), a vector of 7, a 5 × 3 matrix.</summary>
    private static readonly int[][] Pieces = [[130, 300], [7], [5, 3]];

    /// <summary>Enough elements (about 4.6 · 2¹⁷) for a step to use up to four threads, a 3-D tensor and a short vector among them.</summary>
    private static readonly int[][] Large = [[600, 1000], [1000], [2, 3, 4], [3, 5]];

    private const double LearningRate = 0.01;

    [Theory]
    [MemberData(nameof(Families))]
    public void MatchesTheReferenceOnSeveralTensorsAcrossPieces(string family)
    {
        int[][] shapes = [.. Pieces];
        (float[] p0, float[][] grads) = Data(shapes, steps: 8, seed: family.GetHashCode(StringComparison.Ordinal) & 0xFFFF);
        Optimizer optimizer = Create(family, shapes);
        ReductionReference reference = Reference(family, shapes, p0);
        float[] p = (float[])p0.Clone();
        var errors = new ErrorAccumulator();
        var eval = new ErrorAccumulator();
        for (int t = 0; t < grads.Length; t++)
        {
            optimizer.Step(p, grads[t]);
            reference.Take(grads[t], LearningRate);
            errors.Add(ReductionReferences.ToFloat(reference.Parameters), p, t + 1);
            if (optimizer is AdamWScheduleFree scheduleFree)
            {
                float[] y = (float[])p.Clone();
                scheduleFree.Eval(p);
                eval.Add(ReductionReferences.ToFloat(((ScheduleFreeReference)reference).Eval), p, t + 1);
                scheduleFree.Train(p);
                Assert.Equal(y, p);
            }
        }

        output.WriteLine($"{family}: max err {errors.RelativeError:E2} at {errors.Where}; eval {eval.RelativeError:E2}");
        Assert.True(errors.Passed(2e-6), $"{family}: {errors.RelativeError:E2} at {errors.Where}");
        Assert.True(eval.Passed(2e-6), $"{family} eval: {eval.RelativeError:E2} at {eval.Where}");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void EveryThreadCountGivesTheSameBits(string family)
    {
        int[][] shapes = [.. Large];
        Assert.True(TensorSpans.Of(shapes).Sum(s => s.Length) >= 4 * Kernels.ParallelUpdate.MinimumElementsPerThread, "too few elements for four threads");
        (float[] p0, float[][] grads) = Data(shapes, steps: 3, seed: 7);
        (float[] P, float[][] State)? first = null;
        foreach (int threads in new[] { 1, 2, 3, 4 })
        {
            Optimizer optimizer = Create(family, shapes);
            optimizer.MaxDegreeOfParallelism = threads;
            float[] p = (float[])p0.Clone();
            foreach (float[] g in grads)
            {
                optimizer.Step(p, g);
            }

            float[][] state = optimizer.Descriptor.States.Select(s => optimizer.GetState(s.Name).ToArray()).ToArray();
            if (first is null)
            {
                first = (p, state);
                Assert.All(p, v => Assert.True(float.IsFinite(v)));
                continue;
            }

            Assert.True(first.Value.P.AsSpan().SequenceEqual(p), $"{family}: parameters differ between 1 and {threads} threads");
            for (int s = 0; s < state.Length; s++)
            {
                Assert.True(first.Value.State[s].AsSpan().SequenceEqual(state[s]), $"{family}: state {optimizer.Descriptor.States[s].Name} differs between 1 and {threads} threads");
            }
        }
    }

    [Fact]
    public void TheLargeLayoutAlsoMatchesTheReference()
    {
        // One step of each family on the layout of the thread test, so that its bits are also the right bits.
        int[][] shapes = [.. Large];
        (float[] p0, float[][] grads) = Data(shapes, steps: 2, seed: 11);
        foreach (string family in ReductionReferences.Keys.Keys)
        {
            Optimizer optimizer = Create(family, shapes);
            optimizer.MaxDegreeOfParallelism = 4;
            ErrorAccumulator errors = Run(optimizer, Reference(family, shapes, p0), p0, grads);
            output.WriteLine($"{family}: max err {errors.RelativeError:E2}");
            Assert.True(errors.Passed(2e-6), $"{family}: {errors.RelativeError:E2} at {errors.Where}");
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void EachGroupUsesItsOwnHyperparametersAndScalars(string family)
    {
        // Two groups: the reductions stay inside each tensor and the per-step scalars (schedule-free's lr_max and
        // weight sum among them) inside each group, so each group must be its own reference.
        int[][] first = [[20, 30], [10]], second = [[7, 9]];
        (float[] p0, float[][] grads) = Data([.. first, .. second], steps: 10, seed: 5);
        int split = 20 * 30 + 10;
        Optimizer optimizer = Create(family, ParameterLayout.FromShapes(first, second));
        optimizer.Groups[1]["LearningRate"] = 3 * LearningRate;
        optimizer.Groups[1]["WeightDecay"] = 0.1;
        ReductionReference a = Reference(family, first, p0[..split]);
        ReductionReference b = Reference(family, second, p0[split..], weightDecay: 0.1);
        float[] p = (float[])p0.Clone();
        var errors = new ErrorAccumulator();
        for (int t = 0; t < grads.Length; t++)
        {
            optimizer.Step(p, grads[t]);
            a.Take(grads[t][..split], LearningRate);
            b.Take(grads[t][split..], 3 * LearningRate);
            errors.Add(ReductionReferences.ToFloat([.. a.Parameters, .. b.Parameters]), p, t + 1);
        }

        output.WriteLine($"{family}: max err {errors.RelativeError:E2}");
        Assert.True(errors.Passed(2e-6), $"{family}: {errors.RelativeError:E2} at {errors.Where}");
    }

    [Theory]
    [InlineData(new[] { 12, 5 })]
    [InlineData(new[] { 29 })]
    [InlineData(new[] { 4, 3, 6 })]
    public void AdafactorOnALoneMatrixVectorOrStack(int[] shape)
    {
        int[][] shapes = [shape];
        (float[] p0, float[][] grads) = Data(shapes, steps: 20, seed: shape.Sum());
        var optimizer = (Adafactor)Create("adafactor", shapes);
        var reference = (AdafactorReference)Reference("adafactor", shapes, p0);
        ErrorAccumulator errors = Run(optimizer, reference, p0, grads);
        Assert.True(errors.Passed(2e-6), $"[{string.Join(", ", shape)}]: {errors.RelativeError:E2} at {errors.Where}");
        Assert.Equal(reference.StateLength, Adafactor.StateFloats(ShapedLayout(shapes)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(12)]
    [InlineData(96)]
    [InlineData(5000)]
    public void AdamMiniBlocksIncludingShortLastOnes(int block)
    {
        int[][] shapes = [[8, 12], [20], [130, 300]];
        (float[] p0, float[][] grads) = Data(shapes, steps: 10, seed: block);
        var optimizer = (AdamMini)Create("adam_mini", shapes);
        optimizer.BlockSize = block;
        var reference = new AdamMiniReference(shapes, p0, 0.9, 0.99, 1e-8, 0.01, block);
        ErrorAccumulator errors = Run(optimizer, reference, p0, grads);
        output.WriteLine($"block {block}: max err {errors.RelativeError:E2}, {reference.BlockCount} blocks");
        Assert.True(errors.Passed(2e-6), $"block {block}: {errors.RelativeError:E2} at {errors.Where}");
    }

    [Fact]
    public void AdafactorCapsTheUpdateOnWideRowsAsTheReferenceDoes()
    {
        // Rows wide enough for the 512-bit loops (40 and 35 columns: 32 + 8 + tail, 32 + tail), one row and one column
        // of each matrix with gradients of 1e-9: there V̂ = R·C/mean R falls below ε₁² and U = g/ε₁ (the cap) decides
        // the update; the other rows take the loops without the min. Wrong capping shows as an RMS(U) of 1e8.
        int[][] shapes = [[24, 40], [9, 35]];
        (float[] p0, float[][] grads) = Data(shapes, steps: 3, seed: 19);
        (int Start, int Length)[] spans = TensorSpans.Of(shapes);
        foreach (float[] g in grads)
        {
            for (int k = 0; k < shapes.Length; k++)
            {
                int columns = shapes[k][1];
                for (int i = 0; i < spans[k].Length; i++)
                {
                    if (i / columns == 3 || i % columns == 17)
                    {
                        g[spans[k].Start + i] = 1e-9f;
                    }
                }
            }
        }

        var adafactor = new Adafactor(ShapedLayout(shapes)) { LearningRate = LearningRate, WeightDecay = 0.01 };
        var reference = new AdafactorReference(shapes, p0, -0.8, null, 1e-3, 1, 0.01, maximize: false);
        ErrorAccumulator errors = Run(adafactor, reference, p0, grads);
        output.WriteLine($"max err {errors.RelativeError:E2} at {errors.Where}");
        Assert.True(errors.Passed(2e-6), $"{errors.RelativeError:E2} at {errors.Where}");
    }

    /// <summary>Steps the rule and the reference side by side from p₀ and measures the rule against the reference after every step.</summary>
    private static ErrorAccumulator Run(Optimizer optimizer, ReductionReference reference, float[] p0, float[][] grads)
    {
        float[] p = (float[])p0.Clone();
        var errors = new ErrorAccumulator();
        for (int t = 0; t < grads.Length; t++)
        {
            optimizer.Step(p, grads[t]);
            reference.Take(grads[t], LearningRate);
            errors.Add(ReductionReferences.ToFloat(reference.Parameters), p, t + 1);
        }

        return errors;
    }

    /// <summary>The catalog rule of <paramref name="family"/> on a one-group layout of these shapes, hyperparameters matching <see cref="Reference"/>.</summary>
    private static Optimizer Create(string family, int[][] shapes) => Create(family, ShapedLayout(shapes));

    /// <summary>The catalog rule of <paramref name="family"/> on <paramref name="layout"/>, every group with the same hyperparameters.</summary>
    private static Optimizer Create(string family, ParameterLayout layout) => family switch
    {
        "lamb" => new Lamb(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-6, WeightDecay = 0.01 },
        "lars" => new Lars(layout) { LearningRate = LearningRate, Momentum = 0.9, WeightDecay = 0.01, TrustCoefficient = 0.02 },
        "adafactor" => new Adafactor(layout) { LearningRate = LearningRate, Beta2Decay = -0.8, Epsilon1 = AdafactorReference.Float32Epsilon, Epsilon2 = 1e-3, ClipThreshold = 1, WeightDecay = 0.01 },
        "adam_mini" => new AdamMini(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-8, WeightDecay = 0.01, BlockSize = 96 },
        "adamw_schedulefree" => new AdamWScheduleFree(layout) { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-8, WeightDecay = 0.01, WarmupSteps = 3, R = 0.5, WeightLrPower = 2 },
        _ => throw new ArgumentException(family, nameof(family)),
    };

    /// <summary>The reference of <paramref name="family"/> with the hyperparameters of <see cref="Create(string, ParameterLayout)"/>.</summary>
    private static ReductionReference Reference(string family, int[][] shapes, float[] p0, double weightDecay = 0.01) => family switch
    {
        "lamb" => new LambReference(shapes, p0, 0.9, 0.99, 1e-6, weightDecay),
        "lars" => new LarsReference(shapes, p0, 0.9, weightDecay, 0.02),
        "adafactor" => new AdafactorReference(shapes, p0, -0.8, null, 1e-3, 1, weightDecay, maximize: false),
        "adam_mini" => new AdamMiniReference(shapes, p0, 0.9, 0.99, 1e-8, weightDecay, 96),
        "adamw_schedulefree" => new ScheduleFreeReference(shapes, p0, 0.9, 0.99, 1e-8, weightDecay, warmupSteps: 3, r: 0.5, weightLrPower: 2),
        _ => throw new ArgumentException(family, nameof(family)),
    };

    private static ParameterLayout ShapedLayout(int[][] shapes) => ParameterLayout.FromShapes((IReadOnlyList<int[]>)shapes);

    /// <summary>p₀ and gradients ~ U(−1, 1), fixed by the seed; each tensor's gradients get their own scale so that the per-tensor reductions differ.</summary>
    private static (float[] P0, float[][] Grads) Data(int[][] shapes, int steps, int seed)
    {
        var random = new Random(seed);
        (int Start, int Length)[] spans = TensorSpans.Of(shapes);
        int n = spans.Sum(s => s.Length);
        float[] p0 = Enumerable.Range(0, n).Select(_ => (float)((2 * random.NextDouble()) - 1)).ToArray();
        float[][] grads = new float[steps][];
        for (int t = 0; t < steps; t++)
        {
            grads[t] = new float[n];
            for (int k = 0; k < spans.Length; k++)
            {
                float scale = MathF.Pow(3, k - 1);
                for (int i = spans[k].Start; i < spans[k].Start + spans[k].Length; i++)
                {
                    grads[t][i] = scale * (float)((2 * random.NextDouble()) - 1);
                }
            }
        }

        return (p0, grads);
    }
}
