// The arithmetic floor: how fast each rule's kernel runs when no byte has to come from beyond L2.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;

namespace OptGen.Benchmarks;

/// <summary>
/// Measures the generated step with every buffer resident in L2 (<see cref="Elements"/> elements, one thread), where
/// memory costs next to nothing and the time per element is the rule's arithmetic: for a rule with a denominator,
/// one √ and one division, which share a single unit on x86. Set against the memory-only kernel's time per element
/// at 1M (from the roofline pairs of the same run), it bounds <c>roofline/&lt;rule&gt;/1048576/1</c>
/// from below: no schedule of these exact IEEE operations can make the step faster than its arithmetic.
/// </summary>
internal static class ComputeFloor
{
    /// <summary>Elements per buffer: 8192 × (p, g and up to 3 states) × 4 bytes stays well inside a 1 MiB L2.</summary>
    public const int Elements = 8192;

    /// <summary>Prints one <c># floor</c> line per 1M roofline pair in <paramref name="results"/>.</summary>
    public static void Report(IReadOnlyList<Rule> rules, IReadOnlyList<PairResult> results)
    {
        const int Million = 1 << 20;
        Console.WriteLine("# floor: arithmetic = generated step in L2 (8192 elements, 1 thread, least of 25 samples), ns/element; memory = memory-only kernel at 1M on T threads, ns/element (same run); floor = max(1, arithmetic/T ÷ memory), the least roofline/<rule>/1048576/T the arithmetic allows (each core has its own divider)");
        foreach (Rule rule in rules)
        {
            List<PairResult> atMillion = results.Where(r => r.Name.StartsWith($"roofline/{rule.Name}/{Million}/", StringComparison.Ordinal)).ToList();
            if (atMillion.Count == 0)
            {
                continue;
            }

            double arithmetic = InCacheNanoseconds(rule);
            foreach (PairResult pair in atMillion)
            {
                int threads = int.Parse(pair.Name[(pair.Name.LastIndexOf('/') + 1)..], CultureInfo.InvariantCulture);
                double memory = pair.DenominatorMs * 1e6 / Million;
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"# floor {rule.Name}/{threads}: arithmetic {arithmetic:F3} ns/element, memory {memory:F3} ns/element, floor {Math.Max(1, arithmetic / threads / memory):F2}, measured {pair.Ratio:F3}"));
            }
        }
    }

    /// <summary>
    /// The generated step's time per element with its buffers in L2, on one thread: the least of 25 samples of
    /// ~2 ms each, since another process's interference only ever adds time.
    /// </summary>
    private static double InCacheNanoseconds(Rule rule)
    {
        const int Reps = 800;
        var work = new Workload(rule, Elements);
        for (int i = 0; i < 200; i++)
        {
            work.Generated(1);
        }

        double best = double.MaxValue;
        for (int sample = 0; sample < 25; sample++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < Reps; i++)
            {
                work.Generated(1);
            }

            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalNanoseconds / Reps / Elements);
        }

        return best;
    }
}
