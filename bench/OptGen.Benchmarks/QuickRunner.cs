// Quick mode: every pair measured interleaved in one process (A, B, B, A, …), reported as the median of paired ratios.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Threading;
using OptGen.Kernels;

namespace OptGen.Benchmarks;

/// <summary>Quick-mode settings.</summary>
public sealed record QuickOptions
{
    /// <summary>Tensor sizes, in elements.</summary>
    public int[] Sizes { get; init; } = [1 << 20, 1 << 24, 1 << 26];

    /// <summary>Thread counts for the roofline pairs.</summary>
    public int[] Threads { get; init; } = [1, 2];

    /// <summary>Sizes at which the unfused and scalar baselines are measured (they are single-threaded).</summary>
    public int[] BaselineSizes { get; init; } = [1 << 20, 1 << 24];

    /// <summary>Measurement time per pair, in milliseconds (rounds adapt to it, within <see cref="MinRounds"/>..<see cref="MaxRounds"/>).</summary>
    public double PairBudgetMs { get; init; } = 1000;

    /// <summary>The fewest interleaved rounds per pair.</summary>
    public int MinRounds { get; init; } = 5;

    /// <summary>The most interleaved rounds per pair.</summary>
    public int MaxRounds { get; init; } = 41;

    /// <summary>Also measure the page-stagger experiment (equal page offsets ÷ staggered) at these sizes.</summary>
    public int[] StaggerSizes { get; init; } = [];

    /// <summary>Also measure the pre-broadcast experiment (generated Adam ÷ Adam with hoisted broadcasts) at these sizes.</summary>
    public int[] HoistedSizes { get; init; } = [];

    /// <summary>Only rules whose name contains this (case-insensitive), or all.</summary>
    public string? RuleFilter { get; init; }

    /// <summary>Only the extra pairs (<c>many-tensors</c>, <c>bf16-state</c>, <c>training</c>) whose name starts with this, or all.</summary>
    public string? PairFilter { get; init; }

    /// <summary>
    /// Parses <c>--sizes 1M,16M --threads 1,2 --baseline-sizes 16M --budget-ms 800 --rule adam --stagger 16M --hoisted 1M --full</c>,
    /// and <c>--pairs training</c>: only the extra pairs whose name starts with the prefix, and no per-rule pairs
    /// unless <c>--sizes</c> follows.
    /// </summary>
    public static QuickOptions Parse(string[] args)
    {
        var options = new QuickOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--quick" => options,
                "--full" => options with { BaselineSizes = options.Sizes, PairBudgetMs = 3000, MinRounds = 11 },
                "--sizes" => options with { Sizes = ParseSizes(Next()) },
                "--threads" => options with { Threads = Next().Split(',').Select(int.Parse).ToArray() },
                "--baseline-sizes" => options with { BaselineSizes = ParseSizes(Next()) },
                "--budget-ms" => options with { PairBudgetMs = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--rule" => options with { RuleFilter = Next() },
                "--stagger" => options with { StaggerSizes = ParseSizes(Next()) },
                "--hoisted" => options with { HoistedSizes = ParseSizes(Next()) },
                "--pairs" => options with { PairFilter = Next(), Sizes = [] },
                _ => throw new ArgumentException($"Unknown quick-mode option '{args[i]}'."),
            };
        }

        return options;
    }

    private static int[] ParseSizes(string text) => text.Split(',').Select(s => s.Trim().ToUpperInvariant() switch
    {
        var m when m.EndsWith('M') => int.Parse(m[..^1], CultureInfo.InvariantCulture) << 20,
        var k when k.EndsWith('K') => int.Parse(k[..^1], CultureInfo.InvariantCulture) << 10,
        var n => int.Parse(n, CultureInfo.InvariantCulture),
    }).ToArray();
}

/// <summary>The result of one interleaved pair.</summary>
/// <param name="Name">The ratio's name: kind/rule/elements/threads.</param>
/// <param name="Numerator">What the ratio's numerator timed.</param>
/// <param name="Denominator">What the ratio's denominator timed.</param>
/// <param name="NumeratorMs">Median milliseconds per step of the numerator.</param>
/// <param name="DenominatorMs">Median milliseconds per step of the denominator.</param>
/// <param name="Ratio">The median of the paired ratios.</param>
/// <param name="Low">The first quartile of the paired ratios.</param>
/// <param name="High">The third quartile of the paired ratios.</param>
/// <param name="Rounds">Interleaved rounds.</param>
/// <param name="GeneratedGBps">Bandwidth of the generated step, from the rule's traffic accounting.</param>
public sealed record PairResult(string Name, string Numerator, string Denominator, double NumeratorMs, double DenominatorMs, double Ratio, double Low, double High, int Rounds, double GeneratedGBps);

/// <summary>Runs quick mode.</summary>
public static class QuickRunner
{
    /// <summary>Runs every pair and prints ratio lines and the table; returns the exit code.</summary>
    public static int Run(QuickOptions options)
    {
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"# OptGen quick benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"# machine: {CpuModel()}, {Environment.ProcessorCount} cores, load average {LoadAverage()}, .NET {Environment.Version}, Vector512 {(Vector512.IsHardwareAccelerated ? "on" : "off")}");
        Console.WriteLine("# ratio roofline = generated / memory-only kernel (same bytes, same buffers); unfused = TensorPrimitives / generated; scalar = scalar loop / generated");

        IReadOnlyList<Rule> rules = Rule.All.Where(r => options.RuleFilter is null || r.Name.Contains(options.RuleFilter, StringComparison.OrdinalIgnoreCase)).ToList();
        bool ok = Check(rules);
        WarmUp(rules);

        var results = new List<PairResult>();
        foreach (int elements in options.Sizes)
        {
            foreach (Rule rule in rules)
            {
                var work = new Workload(rule, elements);
                string pattern = work.Pattern.ToString();
                foreach (int threads in options.Threads)
                {
                    results.Add(Measure(
                        $"roofline/{rule.Name}/{elements}/{threads}", "generated", "memory-only",
                        () => work.Generated(threads), () => work.MemoryOnly(threads), work, options));
                }

                if (options.BaselineSizes.Contains(elements))
                {
                    Baseline unfused = rule.Unfused(elements);
                    results.Add(Measure(
                        $"unfused/{rule.Name}/{elements}/1", "TensorPrimitives", "generated",
                        () => unfused.Step(work.Parameters, work.Gradients), () => work.Generated(1), work, options));
                    if (elements == options.BaselineSizes[0])
                    {
                        Console.WriteLine(string.Create(
                            CultureInfo.InvariantCulture,
                            $"# traffic unfused/{rule.Name}: {unfused.BytesPerElement} B/element in its passes vs {work.Pattern.BytesPerElement} fused, bytes ratio {unfused.BytesPerElement / (double)work.Pattern.BytesPerElement:F2}"));
                    }

                    unfused = null!;
                    Baseline scalar = rule.Scalar(elements);
                    results.Add(Measure(
                        $"scalar/{rule.Name}/{elements}/1", "scalar loop", "generated",
                        () => scalar.Step(work.Parameters, work.Gradients), () => work.Generated(1), work, options));
                    scalar = null!;
                }

                work = null!;
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
            }
        }

        ComputeFloor.Report(rules, results);

        foreach (int elements in options.StaggerSizes)
        {
            foreach (int threads in options.Threads)
            {
                results.Add(StaggerExperiment.Measure(elements, threads, options));
                GC.Collect();
            }
        }

        foreach (int elements in options.HoistedSizes)
        {
            foreach (int threads in options.Threads)
            {
                results.Add(HoistedAdamExperiment.Measure(elements, threads, options));
                GC.Collect();
            }
        }

        foreach (PairResult extra in Extensions.Measure(options))
        {
            results.Add(extra);
        }

        PrintTable(results);
        Console.WriteLine($"# done: {results.Count} ratios in {clock.Elapsed.TotalSeconds:F0} s{(ok ? string.Empty : "; BASELINE CHECK FAILED")}");
        return ok ? 0 : 1;
    }

    /// <summary>
    /// Runs every measured code path 60 times on tensors just large enough to split over two threads, then gives the
    /// runtime's background JIT time to finish. Without it the first pair to use a path paid for its tier-up: the
    /// runtime recompiles methods called 30 times on a background thread, which on 2 cores took a core from the
    /// 2-thread measurement of whichever rule came first (Adam at 2 threads read 1.15–1.5 where AdamW read 1.00;
    /// with tiered compilation off, or the thread counts reversed, Adam read 1.00 too).
    /// </summary>
    private static void WarmUp(IReadOnlyList<Rule> rules)
    {
        const int Elements = 2 * ParallelUpdate.MinimumElementsPerThread;
        foreach (Rule rule in rules)
        {
            var work = new Workload(rule, Elements);
            Baseline unfused = rule.Unfused(Elements);
            Baseline scalar = rule.Scalar(Elements);
            for (int i = 0; i < 60; i++)
            {
                work.Generated(1);
                work.Generated(2);
                work.MemoryOnly(1);
                work.MemoryOnly(2);
                unfused.Step(work.Parameters, work.Gradients);
                scalar.Step(work.Parameters, work.Gradients);
            }
        }

        Extensions.WarmUp(Elements);
        GC.Collect();
        Thread.Sleep(500);
    }

    /// <summary>Samples of A and B per round; a round's ratio compares their minima.</summary>
    private const int SamplesPerRound = 3;

    /// <summary>
    /// Measures A/B interleaved. A round times A and B alternately (A B, then B A, …) <see cref="SamplesPerRound"/>
    /// times each, each sample about a millisecond or more, and takes min(A)/min(B): a sample that another process
    /// preempted only ever looks slower, so the minimum of a few adjacent samples is the least disturbed one. The
    /// pair's ratio is the median of the rounds' ratios.
    /// </summary>
    internal static PairResult Measure(string name, string numerator, string denominator, Action a, Action b, Workload? work, QuickOptions options)
    {
        // Warm-up: JIT tiers, page faults, thread-pool workers.
        for (int w = 0; w < 3; w++)
        {
            a();
            b();
        }

        double single = Math.Min(TimeMs(a, 1), TimeMs(a, 1)) + Math.Min(TimeMs(b, 1), TimeMs(b, 1));
        int reps = Math.Max(1, (int)Math.Ceiling(2.0 / Math.Max(single, 1e-3)));
        int rounds = Math.Clamp((int)(options.PairBudgetMs / Math.Max(single * reps * SamplesPerRound, 1e-3)), options.MinRounds, options.MaxRounds);
        var ratios = new double[rounds];
        var ta = new double[rounds];
        var tb = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            double minA = double.MaxValue, minB = double.MaxValue;
            for (int j = 0; j < SamplesPerRound; j++)
            {
                if ((r + j) % 2 == 0)
                {
                    minA = Math.Min(minA, TimeMs(a, reps));
                    minB = Math.Min(minB, TimeMs(b, reps));
                }
                else
                {
                    minB = Math.Min(minB, TimeMs(b, reps));
                    minA = Math.Min(minA, TimeMs(a, reps));
                }
            }

            ta[r] = minA;
            tb[r] = minB;
            ratios[r] = minA / minB;
        }

        Array.Sort(ratios);
        double median = Quantile(ratios, 0.5);
        double generatedMs = numerator == "generated" ? Median(ta) / reps : Median(tb) / reps;
        double gbps = work is null ? double.NaN : work.Pattern.BytesPerElement * (double)work.Elements / (generatedMs * 1e6);
        var result = new PairResult(name, numerator, denominator, Median(ta) / reps, Median(tb) / reps, median, Quantile(ratios, 0.25), Quantile(ratios, 0.75), rounds, gbps);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio {name} {median:F3}"));
        return result;
    }

    private static double TimeMs(Action action, int reps)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < reps; i++)
        {
            action();
        }

        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static double Median(double[] values)
    {
        double[] sorted = (double[])values.Clone();
        Array.Sort(sorted);
        return Quantile(sorted, 0.5);
    }

    private static double Quantile(double[] sorted, double q)
    {
        double at = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(at);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + ((at - lo) * (sorted[hi] - sorted[lo]));
    }

    /// <summary>The baselines must compute the same rule: 5 steps on 4099 elements, compared with the generated step.</summary>
    private static bool Check(IReadOnlyList<Rule> rules)
    {
        const int n = 4099;
        bool ok = true;
        foreach (Rule rule in rules)
        {
            var random = new Random(7);
            float[] p0 = new float[n];
            float[][] gs = new float[5][];
            for (int i = 0; i < n; i++)
            {
                p0[i] = (float)((random.NextDouble() * 2) - 1);
            }

            for (int s = 0; s < gs.Length; s++)
            {
                gs[s] = new float[n];
                for (int i = 0; i < n; i++)
                {
                    gs[s][i] = (float)(random.NextDouble() - 0.5);
                }
            }

            float[] generated = (float[])p0.Clone();
            Optimizer optimizer = rule.Create(n);
            foreach (float[] g in gs)
            {
                optimizer.Step(generated, g);
            }

            foreach ((string kind, Baseline baseline) in new[] { ("unfused", rule.Unfused(n)), ("scalar", rule.Scalar(n)) })
            {
                float[] p = (float[])p0.Clone();
                foreach (float[] g in gs)
                {
                    baseline.Step(p, g);
                }

                // Relative to the size of the update (p − p0), so a wrong rule cannot hide behind large |p|.
                double worst = 0;
                for (int i = 0; i < n; i++)
                {
                    double scale = Math.Max(Math.Abs(generated[i] - p0[i]), 1e-6);
                    worst = Math.Max(worst, Math.Abs(p[i] - generated[i]) / scale);
                }

                bool good = worst < 1e-3;
                ok &= good;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# check {kind}/{rule.Name}: max |Δp| / |update| = {worst:E1} {(good ? "ok" : "MISMATCH")}"));
            }
        }

        return ok;
    }

    private static void PrintTable(List<PairResult> results)
    {
        Console.WriteLine();
        Console.WriteLine("| pair (kind/rule/elements/threads) | numerator | denominator | num ms | den ms | ratio (median) | IQR | rounds | generated GB/s |");
        Console.WriteLine("| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: |");
        foreach (PairResult r in results)
        {
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Numerator} | {r.Denominator} | {r.NumeratorMs:F3} | {r.DenominatorMs:F3} | **{r.Ratio:F3}** | {r.Low:F3}–{r.High:F3} | {r.Rounds} | {r.GeneratedGBps:F1} |"));
        }
    }

    private static string CpuModel()
    {
        try
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }
}
