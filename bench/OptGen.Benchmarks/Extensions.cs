// Pairs over the training runtime's APIs: many tensors (parameter sets) and BFloat16 state.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;

namespace OptGen.Benchmarks;

/// <summary>
/// The <c>many-tensors</c>, <c>bf16-state</c> and <c>training</c> pairs, for Adam (skipped when <c>--rule</c> excludes Adam), at every
/// thread count of <see cref="QuickOptions.Threads"/>, measured interleaved by <see cref="QuickRunner.Measure"/>.
/// </summary>
internal static class Extensions
{
    /// <summary>The tensor mix of the many-tensors pair: (count, elements), 200 tensors in all.</summary>
    private static readonly (int Count, int Elements)[] Mix = [(100, 4 << 10), (80, 256 << 10), (20, 1 << 20)];

    /// <summary>The size of the bf16-state pair.</summary>
    private const int Bf16Elements = 1 << 26;

    /// <summary>The extra pairs.</summary>
    public static IEnumerable<PairResult> Measure(QuickOptions options)
    {
        if (options.RuleFilter is not null && !"Adam".Contains(options.RuleFilter, StringComparison.OrdinalIgnoreCase))
        {
            yield break;
        }

        foreach (Func<QuickOptions, IEnumerable<PairResult>> pairs in new Func<QuickOptions, IEnumerable<PairResult>>[] { ManyTensors, Bf16State, Training, BlockwiseStatePairs.Measure, BlockwiseStatePairs.Breakdown })
        {
            foreach (PairResult result in pairs(options))
            {
                yield return result;
            }

            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
        }
    }

    /// <summary>The extra pairs' code paths (parameter sets, BFloat16 state) 60 times each at 1 and 2 threads, on small tensors.</summary>
    public static void WarmUp(int elements)
    {
        var many = new Adam(new ParameterLayout(new[] { 4 << 10, elements }));
        (PinnedBuffer p, PinnedBuffer g) = Arenas(many, (4 << 10) + elements);
        Memory<float>[] parameters = [p.Memory[..(4 << 10)], p.Memory[(4 << 10)..]];
        ReadOnlyMemory<float>[] gradients = [g.Memory[..(4 << 10)], g.Memory[(4 << 10)..]];
        var bf16 = new Adam(elements);
        bf16.ChangeStatePrecision(StatePrecision.BFloat16);
        var training = new Adam(new ParameterLayout(new[] { 4 << 10 }, new[] { elements }));
        training.SetSchedule("LearningRate", Schedule.Cosine(1e-3, 1_000_000));
        var plain = new Adam(elements);
        for (int i = 0; i < 60; i++)
        {
            foreach (int threads in new[] { 1, 2 })
            {
                var stepOptions = new StepOptions { MaxDegreeOfParallelism = threads };
                many.Step(parameters, gradients, stepOptions);
                bf16.Step(p.Span[..elements], g.Span[..elements], stepOptions);
                training.Step(p.Span, g.Span, new StepOptions { MaxDegreeOfParallelism = threads, MaxGradientNorm = 1, SkipNonFinite = true });
                plain.MaxDegreeOfParallelism = threads;
                plain.Step(p.Span[..elements], g.Span[..elements]);
            }
        }
    }

    /// <summary>
    /// many-tensors/Adam/&lt;total&gt;/&lt;threads&gt;: one step over 200 tensors of mixed sizes ÷ one step over one tensor
    /// of the same total size; both through the parameter-set API
    /// (<c>Step(ReadOnlySpan&lt;Memory&lt;float&gt;&gt;, ReadOnlySpan&lt;ReadOnlyMemory&lt;float&gt;&gt;, StepOptions)</c>) with the same
    /// options. On both sides p and g are slices of pinned arenas, 64-byte aligned and staggered in the page against
    /// that optimizer's state (as in <see cref="Workload"/>), so every tensor meets its state at the same page offsets
    /// on both sides and the ratio is the per-tensor overhead alone. With plain arrays it swung between 0.6 and 1.05
    /// from process to process: one 170 MB array either does or does not alias the state in the page.
    /// </summary>
    private static IEnumerable<PairResult> ManyTensors(QuickOptions options)
    {
        if (!Selected(options, "many-tensors"))
        {
            yield break;
        }

        int[] lengths = Mix.SelectMany(m => Enumerable.Repeat(m.Elements, m.Count)).ToArray();
        int total = lengths.Sum();
        var many = new Adam(new ParameterLayout(lengths));
        (PinnedBuffer manyP, PinnedBuffer manyG) = Arenas(many, total);
        var manyParameters = new Memory<float>[lengths.Length];
        var manyGradients = new ReadOnlyMemory<float>[lengths.Length];
        int offset = 0;
        for (int j = 0; j < lengths.Length; j++)
        {
            manyParameters[j] = manyP.Memory.Slice(offset, lengths[j]);
            manyGradients[j] = manyG.Memory.Slice(offset, lengths[j]);
            offset += lengths[j];
        }

        var one = new Adam(new ParameterLayout(new[] { total }));
        (PinnedBuffer oneP, PinnedBuffer oneG) = Arenas(one, total);
        Memory<float>[] oneParameters = [oneP.Memory];
        ReadOnlyMemory<float>[] oneGradients = [oneG.Memory];

        foreach (int threads in options.Threads)
        {
            var stepOptions = new StepOptions { MaxDegreeOfParallelism = threads };
            yield return QuickRunner.Measure(
                $"many-tensors/Adam/{total}/{threads}", "200 tensors", "one tensor",
                () => many.Step(manyParameters, manyGradients, stepOptions),
                () => one.Step(oneParameters, oneGradients, stepOptions),
                null, options);
        }
    }

    /// <summary>
    /// bf16-state/Adam/67108864/&lt;threads&gt;: Adam with BFloat16 state ÷ Adam with float32 state, over the same
    /// float32 p and g, both through <c>Step(Span&lt;float&gt;, ReadOnlySpan&lt;float&gt;, StepOptions)</c>. p and g are
    /// pinned, 64-byte aligned and continue the float32 state's page stagger, as in <see cref="Workload"/>: plain
    /// arrays of this size start 16 bytes into a page, both at the same offset, so every vector load would straddle
    /// two cache lines and p and g would alias in the page, which varied the ratio from process to process.
    /// </summary>
    private static IEnumerable<PairResult> Bf16State(QuickOptions options)
    {
        if (!Selected(options, "bf16-state"))
        {
            yield break;
        }

        var fp32 = new Adam(Bf16Elements);
        var bf16 = new Adam(Bf16Elements);
        bf16.ChangeStatePrecision(StatePrecision.BFloat16);
        (PinnedBuffer p, PinnedBuffer g) = Arenas(fp32, Bf16Elements);
        foreach (int threads in options.Threads)
        {
            var stepOptions = new StepOptions { MaxDegreeOfParallelism = threads };
            yield return QuickRunner.Measure(
                $"bf16-state/Adam/{Bf16Elements}/{threads}", "bf16 state", "fp32 state",
                () => bf16.Step(p.Span, g.Span, stepOptions),
                () => fp32.Step(p.Span, g.Span, stepOptions),
                null, options);
        }
    }

    /// <summary>The tensor mix of the training pair: 200 tensors, 16M elements in all.</summary>
    private static readonly (int Count, int Elements)[] TrainingMix = [(100, 4 << 10), (80, 128 << 10), (19, 300_000), (1, 181_856)];

    /// <summary>
    /// training/Adam/16777216/&lt;threads&gt;: a training step ÷ the plain step of the same size. The training step is
    /// one arena of 200 tensors of mixed sizes in 2 groups (weight decay in one), a cosine schedule on the learning
    /// rate, global-norm clipping and skipping non-finite gradients (so a read-only norm pass over g before the
    /// update), through <c>Step(Span&lt;float&gt;, ReadOnlySpan&lt;float&gt;, StepOptions)</c>; the plain step is one
    /// tensor through <c>Step(Span&lt;float&gt;, ReadOnlySpan&lt;float&gt;)</c> with the optimizer's
    /// MaxDegreeOfParallelism. Both on pinned, staggered arenas (see <see cref="ManyTensors"/>). The ratio is the
    /// engine's overhead (planning, pieces, schedule) plus the norm pass: g read once more, 4 of Adam's 28 bytes per
    /// element.
    /// </summary>
    private static IEnumerable<PairResult> Training(QuickOptions options)
    {
        if (!Selected(options, "training"))
        {
            yield break;
        }

        int[] lengths = TrainingMix.SelectMany(m => Enumerable.Repeat(m.Elements, m.Count)).ToArray();
        int total = lengths.Sum();
        var training = new Adam(new ParameterLayout(lengths[..120], lengths[120..]));
        training.Groups[1]["WeightDecay"] = 0.01;
        training.SetSchedule("LearningRate", Schedule.Cosine(1e-3, 1_000_000));
        (PinnedBuffer trainingP, PinnedBuffer trainingG) = Arenas(training, total);

        var plain = new Adam(total);
        (PinnedBuffer plainP, PinnedBuffer plainG) = Arenas(plain, total);
        var clipped = new Adam(total);
        foreach (int threads in options.Threads)
        {
            var stepOptions = new StepOptions { MaxDegreeOfParallelism = threads, MaxGradientNorm = 1, SkipNonFinite = true };
            var noClip = new StepOptions { MaxDegreeOfParallelism = threads };
            plain.MaxDegreeOfParallelism = threads;
            yield return QuickRunner.Measure(
                $"training/Adam/{total}/{threads}", "200 tensors, 2 groups, cosine, clip + skip", "plain one tensor",
                () => training.Step(trainingP.Span, trainingG.Span, stepOptions),
                () => plain.Step(plainP.Span, plainG.Span),
                null, options);

            // The two parts of that ratio: the engine without the norm pass, and the norm pass alone.
            yield return QuickRunner.Measure(
                $"training-no-clip/Adam/{total}/{threads}", "200 tensors, 2 groups, cosine", "plain one tensor",
                () => training.Step(trainingP.Span, trainingG.Span, noClip),
                () => plain.Step(plainP.Span, plainG.Span),
                null, options);
            yield return QuickRunner.Measure(
                $"clip-skip/Adam/{total}/{threads}", "one tensor, clip + skip", "plain one tensor",
                () => clipped.Step(plainP.Span, plainG.Span, stepOptions),
                () => plain.Step(plainP.Span, plainG.Span),
                null, options);
        }
    }

    private static bool Selected(QuickOptions options, string pair) =>
        options.PairFilter is null || pair.StartsWith(options.PairFilter, StringComparison.OrdinalIgnoreCase);

    /// <summary>Pinned p and g arenas filled as <see cref="Workload"/> fills them, continuing the state's page stagger.</summary>
    internal static (PinnedBuffer P, PinnedBuffer G) Arenas(Optimizer optimizer, int total)
    {
        int stateBase = (int)(PinnedBuffer.Address(ref MemoryMarshal.GetReference(optimizer.GetState(optimizer.Descriptor.States[0].Name))) % 4096);
        int states = optimizer.Descriptor.States.Count;
        var p = new PinnedBuffer(total, stateBase + (1088 * states));
        var g = new PinnedBuffer(total, stateBase + (1088 * (states + 1)));
        Fill(p.Span, g.Span, 0);
        return (p, g);
    }

    /// <summary>p in [−1, 1) and g in [−0.005, 0.005) from a hash of the global index (as <see cref="Workload"/>).</summary>
    private static void Fill(Span<float> p, Span<float> g, int start)
    {
        for (int i = 0; i < p.Length; i++)
        {
            uint h = unchecked((uint)(start + i) * 2654435761u);
            p[i] = ((h >> 8) * (2f / (1 << 24))) - 1f;
            uint k = unchecked(h * 2246822519u) ^ (h >> 13);
            g[i] = (((k >> 8) * (1f / (1 << 24))) - 0.5f) * 1e-2f;
        }
    }
}
