// `--blockwise-probe`: the blockwise step's pieces and whole steps, each the least of many short samples (the
// machine is shared: the least sample is the one no other process preempted). Prints ns per element.
// `--only piece,ambig,step` (default: all three), `instr` (AVX-512 latencies/throughputs), `clock`, `scal`
// (two-core scaling); `--sizes n,m` (8-bit Adam, fp32 Adam and the memory-only yardstick at n elements, 1 and 2
// threads); `--64m`; `--samples N`.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Runtime.Intrinsics;
using System.Threading;
using OptGen.Kernels;

namespace OptGen.Benchmarks;

/// <summary>
/// The blockwise step in pieces (dequantize, absmax, quantize per codebook, over 65536 values in blocks, L2-resident)
/// and whole (8-bit and 4-bit Adam, RMSprop, Lion against float32 state, 65536 elements, 1 thread; optionally 64M on
/// 1 and 2 threads), each the least of <c>--samples</c> samples; and how often the 8-bit code lines leave a group
/// of 64 ambiguous (the exact search redoes it).
/// </summary>
internal static class BlockwiseProbe
{
    public static int Run(string[] args)
    {
        int samples = Option(args, "--samples", 400);
        int n = Option(args, "--elements", 1 << 16);
        bool big = args.Contains("--64m");
        string only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault() ?? "";
        long built = Stopwatch.GetTimestamp();
        GC.KeepAlive(BlockwiseCodebook.Int8Signed);
        Console.WriteLine($"# codebooks built (and proved) in {Stopwatch.GetElapsedTime(built).TotalMilliseconds:F0} ms");
        Console.WriteLine($"# blockwise probe: {n} elements, least of {samples} samples, load {LoadAverage()}");
        if (only.Length == 0 || only.Contains("piece", StringComparison.Ordinal))
        {
            Pieces(n, samples);
        }

        if (only.Length == 0 || only.Contains("ambig", StringComparison.Ordinal))
        {
            Ambiguity();
        }

        if (only.Length == 0 || only.Contains("step", StringComparison.Ordinal))
        {
            Steps(n, samples);
        }

        if (only.Contains("instr", StringComparison.Ordinal))
        {
            InstructionThroughput.Run(Least);
        }

        if (only.Contains("clock", StringComparison.Ordinal))
        {
            Clock();
        }

        if (only.Contains("scal", StringComparison.Ordinal))
        {
            Scaling(samples);
        }

        if (big)
        {
            Big(Math.Max(5, samples / 40));
        }

        if (args.SkipWhile(a => a != "--sizes").Skip(1).FirstOrDefault() is { } sizes)
        {
            foreach (string size in sizes.Split(','))
            {
                Sized(int.Parse(size, CultureInfo.InvariantCulture), samples);
            }
        }

        Console.WriteLine($"# load {LoadAverage()}");
        return 0;
    }

    private static void Pieces(int n, int samples)
    {
        var run = typeof(BlockwiseBlock).GetMethod("RunPieceOverBlocks", BindingFlags.NonPublic | BindingFlags.Static)!
            .CreateDelegate<Action<BlockwiseCodebook, float[], byte[], float[], int, int>>();
        var random = new Random(17);
        foreach (BlockwiseCodebook book in new[] { BlockwiseCodebook.Int8Signed, BlockwiseCodebook.Int8Unsigned, BlockwiseCodebook.Int4Signed, BlockwiseCodebook.Int4Unsigned })
        {
            float[] values = Values(book, n, random);
            float[] original = (float[])values.Clone();
            byte[] codes = new byte[n];
            float[] absmax = new float[n / book.BlockLength];
            run(book, values, codes, absmax, 1, 0);
            run(book, values, codes, absmax, 2, 0);
            foreach ((int piece, string name) in new[] { (0, "dequantize"), (3, "dequant-ch"), (1, "absmax"), (2, "quantize") })
            {
                original.CopyTo(values, 0);
                run(book, values, codes, absmax, 1, 0);
                double ns = Least(samples, () => run(book, values, codes, absmax, piece, 0)) / n;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"piece {book.Name,-24} {name,-11} {ns:F4} ns/value"));
            }
        }
    }

    /// <summary>Adam-like values: first moments ~ N(0, 1), second moments their squares.</summary>
    private static float[] Values(BlockwiseCodebook book, int n, Random random)
    {
        float[] values = new float[n];
        for (int i = 0; i < n; i++)
        {
            double gauss = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            values[i] = (float)(book.IsSigned ? gauss : gauss * gauss);
        }

        return values;
    }

    private static void Ambiguity()
    {
        var random = new Random(5);
        foreach (BlockwiseCodebook book in new[] { BlockwiseCodebook.Int8Signed, BlockwiseCodebook.Int8Unsigned })
        {
            var lines = typeof(BlockwiseCodebook).GetMethod("QuantizeByLines", BindingFlags.NonPublic | BindingFlags.Instance)!
                .CreateDelegate<Func<float, int>>(book);
            const int n = 1 << 20;
            float[] values = Values(book, n, random);
            int ambiguousValues = 0, ambiguousGroups = 0;
            for (int b = 0; b < n; b += 256)
            {
                float absmax = 0;
                for (int i = b; i < b + 256; i++)
                {
                    absmax = Math.Max(absmax, Math.Abs(values[i]));
                }

                for (int gr = b; gr < b + 256; gr += 64)
                {
                    bool any = false;
                    for (int i = gr; i < gr + 64; i++)
                    {
                        if (lines(values[i] * (1f / absmax)) < 0)
                        {
                            ambiguousValues++;
                            any = true;
                        }
                    }

                    ambiguousGroups += any ? 1 : 0;
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ambiguous {book.Name,-24} values {ambiguousValues / (double)n:P4}, groups of 64 redone {ambiguousGroups / (n / 64.0):P3}"));
        }
    }

    private static void Steps(int n, int samples)
    {
        foreach ((string rule, Func<int, Optimizer> create) in new (string, Func<int, Optimizer>)[] { ("Adam", e => new Adam(e)), ("RMSprop", e => new RmsProp(e)), ("Lion", e => new Lion(e)) })
        {
            Optimizer full = create(n);
            (PinnedBuffer p, PinnedBuffer g) = Extensions.Arenas(full, n);
            var options = new StepOptions { MaxDegreeOfParallelism = 1 };
            double fp32 = Least(samples, () => full.Step(p.Span, g.Span, options)) / n;
            var line = new List<string> { string.Create(CultureInfo.InvariantCulture, $"fp32 {fp32:F4}") };
            foreach ((StatePrecision precision, string name) in new[] { (StatePrecision.Int8Blockwise, "int8"), (StatePrecision.Int4Blockwise, "int4") })
            {
                Optimizer quantized = create(n);
                quantized.ChangeStatePrecision(precision);
                double ns = Least(samples, () => quantized.Step(p.Span, g.Span, options)) / n;
                line.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {ns:F4}"));
            }

            Console.WriteLine($"step {rule,-8} {n} x1: {string.Join(", ", line)} ns/element");
        }
    }

    /// <summary>
    /// Whether the two cores compute independently: the 8-bit signed quantizer over 16K values (L1/L2) on one thread,
    /// then on two threads at once (each its own buffers, started together by a barrier); and the 8-bit Adam step at
    /// 1M elements (L3) on 1 and 2 threads.
    /// </summary>
    private static void Scaling(int samples)
    {
        var run = typeof(BlockwiseBlock).GetMethod("RunPieceOverBlocks", BindingFlags.NonPublic | BindingFlags.Static)!
            .CreateDelegate<Action<BlockwiseCodebook, float[], byte[], float[], int, int>>();
        BlockwiseCodebook book = BlockwiseCodebook.Int8Signed;
        const int n = 1 << 14;
        var random = new Random(3);
        var buffers = new (float[] Values, byte[] Codes, float[] Absmax)[2];
        for (int t = 0; t < 2; t++)
        {
            buffers[t] = (Values(book, n, random), new byte[n], new float[n / 256]);
            run(book, buffers[t].Values, buffers[t].Codes, buffers[t].Absmax, 1, 0);
        }

        const int repeat = 64;
        void Work(int t)
        {
            for (int r = 0; r < repeat; r++)
            {
                run(book, buffers[t].Values, buffers[t].Codes, buffers[t].Absmax, 2, 0);
            }
        }

        double one = Least(samples / 4, () => Work(0)) / (repeat * n);
        // Two threads: a dedicated second thread, released by a barrier per sample; the sample is the slower one.
        using var start = new System.Threading.Barrier(2);
        using var end = new System.Threading.Barrier(2);
        bool stop = false;
        var other = new System.Threading.Thread(() =>
        {
            while (true)
            {
                start.SignalAndWait();
                if (Volatile.Read(ref stop))
                {
                    return;
                }

                Work(1);
                end.SignalAndWait();
            }
        });
        other.Start();
        double two = Least(samples / 4, () =>
        {
            start.SignalAndWait();
            Work(0);
            end.SignalAndWait();
        }) / (repeat * n);
        Volatile.Write(ref stop, true);
        start.SignalAndWait();
        other.Join();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"scaling quantize 8-bit signed: 1 thread {one:F4} ns/value, 2 threads at once {two:F4} ns/value per thread ({one / two:F2}x per thread)"));

        foreach (int elements in new[] { 1 << 18, 1 << 20 })
        {
            Optimizer full = new Adam(elements);
            Optimizer quantized = new Adam(elements);
            quantized.ChangeStatePrecision(StatePrecision.Int8Blockwise);
            (PinnedBuffer p, PinnedBuffer g) = Extensions.Arenas(full, elements);
            foreach (int threads in new[] { 1, 2 })
            {
                var options = new StepOptions { MaxDegreeOfParallelism = threads };
                double a = Least(samples / 4, () => quantized.Step(p.Span, g.Span, options)) / elements;
                double b = Least(samples / 4, () => full.Step(p.Span, g.Span, options)) / elements;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"scaling Adam {elements} x{threads}: int8 {a:F4}, fp32 {b:F4} ns/element"));
            }
        }
    }

    /// <summary>The core clock: a chain of dependent vector adds (one cycle each), eight per iteration.</summary>
    private static void Clock()
    {
        static System.Runtime.Intrinsics.Vector128<int> Chain(System.Runtime.Intrinsics.Vector128<int> v, int count)
        {
            var one = System.Runtime.Intrinsics.Vector128<int>.One;
            for (int i = 0; i < count; i++)
            {
                v = System.Runtime.Intrinsics.X86.Sse2.Add(v, one);
                v = System.Runtime.Intrinsics.X86.Sse2.Add(v, one);
                v = System.Runtime.Intrinsics.X86.Sse2.Add(v, one);
                v = System.Runtime.Intrinsics.X86.Sse2.Add(v, one);
                v = System.Runtime.Intrinsics.X86.Sse2.Add(v, one);
                v = System.Runtime.Intrinsics.X86.Sse2.Add(v, one);
                v = System.Runtime.Intrinsics.X86.Sse2.Add(v, one);
                v = System.Runtime.Intrinsics.X86.Sse2.Add(v, one);
            }

            return v;
        }

        const int count = 1 << 20;
        var sink = System.Runtime.Intrinsics.Vector128<int>.Zero;
        double ns = Least(200, () => sink = Chain(sink, count));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"clock: {8.0 * count / ns:F2} GHz if vpaddd has latency 1 (sink {sink.GetElement(0)})"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"clock: {InstructionThroughput.Clock(Least):F2} GHz (dependent xor/add chain)"));
    }

    /// <summary>8-bit Adam, fp32 Adam and the memory-only yardstick of the 8-bit step at <paramref name="n"/> elements, 1 and 2 threads.</summary>
    private static void Sized(int n, int samples)
    {
        Optimizer full = new Adam(n);
        Optimizer quantized = new Adam(n);
        quantized.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        (PinnedBuffer p, PinnedBuffer g) = Extensions.Arenas(full, n);
        var yardstick = new BlockwiseYardstick(n, 2, 8, p, g);
        int count = Math.Max(5, (int)Math.Min(samples, 4e8 / n));
        foreach (int threads in new[] { 1, 2 })
        {
            var options = new StepOptions { MaxDegreeOfParallelism = threads };
            double a = Least(count, () => quantized.Step(p.Span, g.Span, options)) / n;
            double b = Least(count, () => full.Step(p.Span, g.Span, options)) / n;
            double m = Least(count, () => yardstick.Run(threads)) / n;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"size Adam {n} x{threads}: int8 {a:F4}, fp32 {b:F4}, memory-only {m:F4} ns/element; int8/fp32 {a / b:F3} ({a * n / 1e6:F2} ms)"));
        }
    }

    private static void Big(int samples)
    {
        const int n = 1 << 26;
        Optimizer full = new Adam(n);
        Optimizer quantized = new Adam(n);
        quantized.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        (PinnedBuffer p, PinnedBuffer g) = Extensions.Arenas(full, n);
        foreach (int threads in new[] { 1, 2 })
        {
            var options = new StepOptions { MaxDegreeOfParallelism = threads };
            double a = Least(samples, () => quantized.Step(p.Span, g.Span, options)) / 1e6;
            double b = Least(samples, () => full.Step(p.Span, g.Span, options)) / 1e6;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step Adam 64M x{threads}: int8 {a:F2} ms, fp32 {b:F2} ms, ratio {a / b:F3}"));
        }
    }

    /// <summary>The least time of one call (ns) over <paramref name="samples"/> samples, after a warm-up.</summary>
    private static double Least(int samples, Action action)
    {
        // Warm-up by time: the tiered JIT compiles the optimized code in the background after ~100 ms.
        long warm = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(warm).TotalMilliseconds < 1000)
        {
            action();
        }

        double least = double.MaxValue;
        for (int s = 0; s < samples; s++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            long end = Stopwatch.GetTimestamp();
            least = Math.Min(least, (end - start) * (1e9 / Stopwatch.Frequency));
        }

        return least;
    }

    private static int Option(string[] args, string name, int fallback)
    {
        int k = Array.IndexOf(args, name);
        return k >= 0 && k + 1 < args.Length ? int.Parse(args[k + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string LoadAverage() =>
        System.IO.File.Exists("/proc/loadavg") ? System.IO.File.ReadAllText("/proc/loadavg").Trim() : "?";
}
