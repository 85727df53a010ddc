// `--reductions --blockwise`: LAMB and LARS with 8-bit and 4-bit blockwise state against the same rule with float32
// state (bitsandbytes ships 8-bit LAMB and LARS).

using System;
using System.Collections.Generic;

namespace OptGen.Benchmarks;

/// <summary>
/// <c>int8-state/&lt;rule&gt;/&lt;n&gt;/&lt;threads&gt;</c> and <c>int4-state/…</c> for the multi-pass rules: the rule with blockwise
/// state ÷ the same rule with float32 state, through <c>Step(Span&lt;float&gt;, ReadOnlySpan&lt;float&gt;, StepOptions)</c> on
/// pinned, page-staggered p and g. The blockwise step stages each work unit's state in a per-thread float32 buffer and
/// replays the first pass in the last (state written once per step), so it reads the codes twice.
/// </summary>
internal static class BlockwiseReductionPairs
{
    public static IEnumerable<PairResult> Measure(QuickOptions options, int[] sizes)
    {
        foreach ((string rule, Func<int, Optimizer> create) in new (string, Func<int, Optimizer>)[] { ("lamb", n => new Lamb(n)), ("lars", n => new Lars(n)) })
        {
            if (options.RuleFilter is not null && !rule.Contains(options.RuleFilter, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            foreach (int elements in sizes)
            {
                Optimizer full = create(elements);
                (PinnedBuffer p, PinnedBuffer g) = Extensions.Arenas(full, elements);
                foreach ((StatePrecision precision, string name) in new[] { (StatePrecision.Int8Blockwise, "int8"), (StatePrecision.Int4Blockwise, "int4") })
                {
                    Optimizer quantized = create(elements);
                    quantized.ChangeStatePrecision(precision);
                    Console.WriteLine($"# {name}-state {rule}/{elements}: {quantized.StateBytesPerParameter:F3} B of state per parameter (float32: {full.StateBytesPerParameter:F3})");
                    foreach (int threads in options.Threads)
                    {
                        var stepOptions = new StepOptions { MaxDegreeOfParallelism = threads };
                        yield return QuickRunner.Measure(
                            $"{name}-state/{rule}/{elements}/{threads}", "generated", "fp32 state",
                            () => quantized.Step(p.Span, g.Span, stepOptions),
                            () => full.Step(p.Span, g.Span, stepOptions),
                            null, options);
                    }
                }

                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
            }
        }
    }
}
