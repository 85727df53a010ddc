// `--reductions`: the catalog's rules with reductions (LAMB, LARS, Adam-mini, Adafactor, schedule-free AdamW) against
// their own multi-pass memory-only yardstick and an unfused TensorPrimitives composition.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace OptGen.Benchmarks;

/// <summary>Runs the reduction rules' pairs and prints ratio lines and a Markdown table.</summary>
internal static class ReductionBench
{
    public static int Run(string[] args)
    {
        QuickOptions options = QuickOptions.Parse(args.Where(a => a is not ("--reductions" or "--bits" or "--blockwise")).ToArray());
        int[] sizes = args.Contains("--sizes") ? options.Sizes : [1 << 24, 1 << 26];
        int[] baselineSizes = args.Contains("--baseline-sizes") ? options.BaselineSizes : [1 << 24];
        Console.WriteLine($"# OptGen reduction rules, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, Vector512 {(Vector512.IsHardwareAccelerated ? "on" : "off")}");
        Console.WriteLine("# roofline = generated / memory-only passes (the rule's Passes: same streams, same bytes); unfused = TensorPrimitives / generated");
        if (args.Contains("--bits"))
        {
            return PrintBits();
        }

        var results = new List<PairResult>();
        foreach (string rule in new[] { "lamb", "lamb_declared", "lars", "adam_mini", "adafactor", "adamw_schedulefree" })
        {
            if (options.RuleFilter is not null && !rule.Contains(options.RuleFilter, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            foreach (int elements in sizes)
            {
                var setup = new Setup(rule, elements);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"# traffic {rule}: {string.Join(" + ", setup.Optimizer.Passes.Select(p => $"{p.BytesPerElement} B ({string.Join(",", p.Reads)} → {string.Join(",", p.Writes)})"))} per element"));
                foreach (int threads in options.Threads)
                {
                    results.Add(QuickRunner.Measure($"roofline/{rule}/{elements}/{threads}", "generated", "memory-only",
                        () => setup.Step(threads), () => setup.MemoryOnly(threads), null, options));
                }

                if (rule == "lamb_declared")
                {
                    // The same rule declared as an expression rule (generated passes) and hand-written (catalog Lamb).
                    var handWritten = new Setup("lamb", elements);
                    foreach (int threads in options.Threads)
                    {
                        results.Add(QuickRunner.Measure($"declared/lamb/{elements}/{threads}", "generated", "hand-written",
                            () => setup.Step(threads), () => handWritten.Step(threads), null, options));
                    }
                }

                if (baselineSizes.Contains(elements))
                {
                    (int bytes, int writeOnly) = UnfusedTraffic(rule);
                    int ruleBytes = setup.Optimizer.Passes.Sum(p => p.BytesPerElement);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"# unfused {rule}: {bytes} B per element by the same accounting ({bytes + (4 * writeOnly)} B with the line reads of {writeOnly} write-only temporaries) vs {ruleBytes} B: a memory-bound ceiling of {(double)bytes / ruleBytes:F2}x ({(double)(bytes + (4 * writeOnly)) / ruleBytes:F2}x)"));
                    Action unfused = setup.Unfused();
                    results.Add(QuickRunner.Measure($"unfused/{rule}/{elements}/1", "TensorPrimitives", "generated",
                        unfused, () => setup.Step(1), null, options));
                }

                if (rule == "adafactor")
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"# state adafactor/{elements}: the algorithm's factored state {Adafactor.StateFloats(setup.Optimizer.Layout)} floats = {4.0 * Adafactor.StateFloats(setup.Optimizer.Layout) / elements:F5} B per parameter; allocated by this version: {setup.Optimizer.Descriptor.States.Count} planes = {4 * setup.Optimizer.Descriptor.States.Count} B per parameter (Adam: 8)"));
                }
            }
        }

        if (args.Contains("--blockwise"))
        {
            results.AddRange(BlockwiseReductionPairs.Measure(options, sizes));
        }

        Console.WriteLine();
        Console.WriteLine("| pair | generated ms | other ms | ratio | IQR |");
        Console.WriteLine("| --- | ---: | ---: | ---: | --- |");
        foreach (PairResult r in results)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {(r.Numerator == "generated" ? r.NumeratorMs : r.DenominatorMs):F2} | {(r.Numerator == "generated" ? r.DenominatorMs : r.NumeratorMs):F2} | {r.Ratio:F3} | {r.Low:F3}–{r.High:F3} |"));
        }

        return 0;
    }

    /// <summary>
    /// <c>--reductions --bits</c>: a hash of each rule's parameters and state after three steps on two threads (odd
    /// shapes, every tail). The passes add their reductions' lanes in one order on every vector width, so the hashes
    /// are the same with <c>DOTNET_EnableAVX512=0</c> and <c>DOTNET_EnableAVX2=0</c> as with AVX-512.
    /// </summary>
    private static int PrintBits()
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[300, 517], [70_003], [3, 11]], [[200, 250], [17]]);
        Console.WriteLine($"# Vector512 {(Vector512.IsHardwareAccelerated ? "on" : "off")}, Vector256 {(Vector256.IsHardwareAccelerated ? "on" : "off")}");
        foreach (string rule in new[] { "lamb", "lars", "adam_mini", "adafactor", "adamw_schedulefree" })
        {
            MultiPassOptimizer optimizer = rule switch
            {
                "lamb" => new Lamb(layout),
                "lars" => new Lars(layout),
                "adam_mini" => new AdamMini(layout),
                "adafactor" => new Adafactor(layout),
                _ => new AdamWScheduleFree(layout),
            };
            optimizer.MaxDegreeOfParallelism = 2;
            var random = new Random(3);
            float[] p = Enumerable.Range(0, layout.TotalLength).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
            for (int step = 0; step < 3; step++)
            {
                float[] g = Enumerable.Range(0, layout.TotalLength).Select(_ => (float)((random.NextDouble() - 0.5) * 0.01)).ToArray();
                optimizer.Step(p, g);
            }

            ulong hash = 14695981039346656037UL; // FNV-1a over the bits
            foreach (float x in p.Concat(optimizer.Descriptor.States.SelectMany(s => optimizer.GetState(s.Name).ToArray())))
            {
                hash = (hash ^ (uint)BitConverter.SingleToInt32Bits(x)) * 1099511628211UL;
            }

            Console.WriteLine($"bits {rule} {hash:X16}");
        }

        return 0;
    }

    /// <summary>
    /// The bytes per element the unfused composition (<see cref="Setup.Unfused"/>) moves, counted as the rules' passes
    /// are (each input stream read 4 B, each output written 4 B; an operand that stays in cache, such as a 16 KB row
    /// reused by the next call or a per-row scalar, not counted), and how many of its outputs are write-only
    /// temporaries (which a cache also reads before writing). Kept beside the compositions: change both together.
    /// </summary>
    private static (int Bytes, int WriteOnly) UnfusedTraffic(string rule) => rule switch
    {
        // Lerp m 12, g·g 8, Lerp v 12, ·c 8, Sqrt 8, +ε 8, ·c 8, ÷ 12, MultiplyAdd r 12, Norm p 4, Norm r 4, MultiplyAdd p 12.
        "lamb" or "lamb_declared" => (108, 3),

        // Norm p 4, Norm g 4, MultiplyAdd 12, ·c 8, MultiplyAdd b 12, Subtract p 12.
        "lars" => (52, 1),

        // Lerp m 12, per row SumOfSquares 4 and ÷ 8, p·c 8, MultiplyAdd p 12.
        "adam_mini" => (44, 1),

        // Norm p 4, g·g 8, row sums 4, column adds 4, per row u (C·s, Max, 1/√, ·g on a cached row) 8, Norm u 4, MultiplyAdd p 12.
        "adafactor" => (44, 2),

        // g·g 8, Lerp v 12, ·c 8, Sqrt 8, +ε 8, ÷ 12, Lerp p 12, MultiplyAdd p 12, MultiplyAdd z 12.
        _ => (92, 2),
    };

    /// <summary>One rule at one size: the optimizer, its buffers, the yardstick's streams.</summary>
    private sealed class Setup
    {
        private readonly float[] _p;
        private readonly float[] _g;
        private readonly Dictionary<string, ArraySegment<float>> _streams = new(StringComparer.Ordinal);
        private readonly string _rule;

        public Setup(string rule, int elements)
        {
            _rule = rule;
            int side = (int)Math.Sqrt(elements);
            ParameterLayout layout = rule is "adafactor" or "adam_mini"
                ? ParameterLayout.FromShapes([[side, elements / side]])
                : ParameterLayout.Single(elements);
            Optimizer = rule switch
            {
                "lamb" => new Lamb(layout),
                "lamb_declared" => new DeclaredLambBench(layout),
                "lars" => new Lars(layout),
                "adam_mini" => new AdamMini(layout),
                "adafactor" => new Adafactor(layout),
                _ => (MultiPassOptimizer)new AdamWScheduleFree(layout),
            };
            _p = Fill(elements, 1.0f, 1);
            _g = Fill(elements, 0.005f, 2);
            _streams["p"] = _p;
            _streams["g"] = _g;
            foreach (PassTraffic pass in Optimizer.Passes)
            {
                foreach (string stream in pass.Reads)
                {
                    if (!_streams.ContainsKey(stream))
                    {
                        _streams[stream] = Aligned(Fill(elements + 16, 0.01f, 3 + _streams.Count), elements);
                    }
                }
            }

            Optimizer.Step(_p, _g);
        }

        public MultiPassOptimizer Optimizer { get; }

        public void Step(int threads)
        {
            Optimizer.MaxDegreeOfParallelism = threads;
            Optimizer.Step(_p, _g);
        }

        /// <summary>Every pass of <see cref="MultiPassOptimizer.Passes"/> as a memory-only kernel over the same number of streams.</summary>
        public void MemoryOnly(int threads)
        {
            foreach (PassTraffic pass in Optimizer.Passes)
            {
                ArraySegment<float>[] reads = pass.Reads.Select(s => _streams[s]).ToArray();
                ArraySegment<float>[] writes = pass.Writes.Select(s => _streams[s]).ToArray();
                int n = _p.Length;
                int chunks = threads == 1 ? 1 : threads * 8;
                int chunk = ((n / chunks) + 15) / 16 * 16;
                Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
                {
                    int start = Math.Min(n, c * chunk);
                    int end = c == chunks - 1 ? n : Math.Min(n, start + chunk);
                    MemoryPass(reads, writes, start, end);
                });
            }
        }

        /// <summary>The rule as one TensorPrimitives call per operation (scratch allocated once, outside the timing).</summary>
        public Action Unfused()
        {
            int n = _p.Length;
            float[] t1 = new float[n], t2 = new float[n];
            float[] p = _p, g = _g;
            ArraySegment<float> s0 = _streams.Count > 2 ? _streams.Values.ElementAt(2) : new float[n];
            ArraySegment<float> s1 = _streams.Count > 3 ? _streams.Values.ElementAt(3) : new float[n];
            const float b1 = 0.9f, b2 = 0.999f, eps = 1e-6f, lr = 1e-3f, wd = 0.01f;
            return _rule switch
            {
                "lamb" or "lamb_declared" => () =>
                {
                    TensorPrimitives.Lerp(s0, g, 1 - b1, s0);                 // m
                    TensorPrimitives.Multiply(g, g, t1);
                    TensorPrimitives.Lerp(s1, t1, 1 - b2, s1);                // v
                    TensorPrimitives.Multiply(s1, 1 / 0.5f, t2);
                    TensorPrimitives.Sqrt(t2, t2);
                    TensorPrimitives.Add(t2, eps, t2);
                    TensorPrimitives.Multiply(s0, 1 / 0.5f, t1);
                    TensorPrimitives.Divide(t1, t2, t1);
                    TensorPrimitives.MultiplyAdd(p, wd, t1, t1);              // r
                    float trust = TensorPrimitives.Norm(p) / TensorPrimitives.Norm(t1);
                    TensorPrimitives.MultiplyAdd(t1, -lr * trust, p, p);
                },
                "lars" => () =>
                {
                    float pn = TensorPrimitives.Norm(p), gn = TensorPrimitives.Norm(g);
                    float local = 0.001f * pn / (gn + (wd * pn));
                    TensorPrimitives.MultiplyAdd(p, wd, g, t1);
                    TensorPrimitives.Multiply(t1, lr * local, t1);
                    TensorPrimitives.MultiplyAdd(s0, 0.9f, t1, s0);           // b
                    TensorPrimitives.Subtract(p, s0, p);
                },
                "adam_mini" => () =>
                {
                    int columns = Optimizer.Layout.MatrixShapeOf(0).Columns;
                    TensorPrimitives.Lerp(s0, g, 1 - b1, s0);                 // m
                    for (int row = 0; row * columns < n; row++)
                    {
                        ReadOnlySpan<float> gr = g.AsSpan(row * columns, columns);
                        float mean = TensorPrimitives.SumOfSquares(gr) / columns;
                        s1[row] = (b2 * s1[row]) + ((1 - b2) * mean);
                        TensorPrimitives.Divide(s0.AsSpan(row * columns, columns), MathF.Sqrt(s1[row] / 0.5f) + eps, t1.AsSpan(row * columns, columns));
                    }

                    TensorPrimitives.Multiply(p, 1 - (lr * wd), p);
                    TensorPrimitives.MultiplyAdd(t1, -lr / 0.5f, p, p);
                },
                "adafactor" => () =>
                {
                    (_, int rows, int columns) = Optimizer.Layout.MatrixShapeOf(0);
                    float alpha = Math.Max(1e-3f, TensorPrimitives.Norm(p) / MathF.Sqrt(n)) * 0.01f;
                    TensorPrimitives.Multiply(g, g, t1);
                    for (int row = 0; row < rows; row++)
                    {
                        s0[row] = float.Lerp(s0[row], TensorPrimitives.Sum(t1.AsSpan(row * columns, columns)) / columns, 0.1f);
                    }

                    Array.Clear(t2, 0, columns);
                    for (int row = 0; row < rows; row++)
                    {
                        TensorPrimitives.Add(t2.AsSpan(0, columns), t1.AsSpan(row * columns, columns), t2.AsSpan(0, columns));
                    }

                    TensorPrimitives.Multiply(t2.AsSpan(0, columns), 1f / rows, t2.AsSpan(0, columns));
                    TensorPrimitives.Lerp(s1.AsSpan(0, columns), t2.AsSpan(0, columns), 0.1f, s1.AsSpan(0, columns));
                    float rowMean = Math.Max(TensorPrimitives.Sum(s0.AsSpan(0, rows)) / rows, 1e-7f);
                    for (int row = 0; row < rows; row++)
                    {
                        Span<float> u = t1.AsSpan(row * columns, columns);
                        TensorPrimitives.Multiply(s1.AsSpan(0, columns), s0[row] / rowMean, u);
                        TensorPrimitives.Max(u, 1e-14f, u);
                        TensorPrimitives.ReciprocalSqrt(u, u);
                        TensorPrimitives.Multiply(u, g.AsSpan(row * columns, columns), u);
                    }

                    float denom = Math.Max(1f, TensorPrimitives.Norm(t1) / MathF.Sqrt(n));
                    TensorPrimitives.MultiplyAdd(t1, -alpha / denom, p, p);
                },
                _ => () =>
                {
                    ArraySegment<float> z = s0, v = s1;
                    TensorPrimitives.Multiply(g, g, t1);
                    TensorPrimitives.Lerp(v, t1, 1 - b2, v);
                    TensorPrimitives.Multiply(v, 1 / 0.5f, t1);
                    TensorPrimitives.Sqrt(t1, t1);
                    TensorPrimitives.Add(t1, 1e-8f, t1);
                    TensorPrimitives.Divide(g, t1, t1);                       // normalized
                    TensorPrimitives.Lerp(p, z, 0.1f, p);
                    TensorPrimitives.MultiplyAdd(t1, lr * ((0.9f * 0.9f) - 1), p, p);
                    TensorPrimitives.MultiplyAdd(t1, -lr, z, z);
                },
            };
        }

        /// <summary>
        /// <paramref name="n"/> elements of <paramref name="buffer"/> (pinned) from its first 64-byte boundary: the
        /// yardstick's state streams start on a cache line as the rule's state planes do (StateStorage), so neither
        /// side pays for loads split across lines that the other does not.
        /// </summary>
        private static unsafe ArraySegment<float> Aligned(float[] buffer, int n)
        {
            nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
            int offset = (int)((64 - (address & 63)) & 63) / sizeof(float);
            return new ArraySegment<float>(buffer, offset, n);
        }

        private static float[] Fill(int n, float scale, int seed)
        {
            float[] a = GC.AllocateArray<float>(n, pinned: true);
            for (int i = 0; i < n; i++)
            {
                uint h = (uint)(i * 2654435761u) ^ (uint)(seed * 40503);
                a[i] = scale * (((h >> 8) / 16777216f) - 0.5f);
            }

            return a;
        }

        /// <summary>
        /// acc = Σ read streams (up to 4); each written stream (up to 3) x ← x + c·acc (c tiny, so nothing folds away); a
        /// read-only pass folds acc into a sink stored once at the end. 512-bit lanes where the rules' passes use them
        /// (<see cref="Vector512.IsHardwareAccelerated"/>), else 256-bit: the yardstick is never narrower than the step.
        /// </summary>
        private static void MemoryPass(ArraySegment<float>[] reads, ArraySegment<float>[] writes, int start, int end)
        {
            int nr = reads.Length, nw = writes.Length;
            ref float r0 = ref MemoryMarshal.GetReference(reads[0].AsSpan());
            ref float r1 = ref MemoryMarshal.GetReference(reads[Math.Min(1, nr - 1)].AsSpan());
            ref float r2 = ref MemoryMarshal.GetReference(reads[Math.Min(2, nr - 1)].AsSpan());
            ref float r3 = ref MemoryMarshal.GetReference(reads[Math.Min(3, nr - 1)].AsSpan());
            ref float w0 = ref MemoryMarshal.GetReference((writes.Length > 0 ? writes[0] : reads[0]).AsSpan());
            ref float w1 = ref MemoryMarshal.GetReference((writes.Length > 1 ? writes[1] : reads[0]).AsSpan());
            ref float w2 = ref MemoryMarshal.GetReference((writes.Length > 2 ? writes[2] : reads[0]).AsSpan());
            nuint i = (nuint)start, stop = (nuint)end;
            float sink = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                var c = Vector512.Create(1e-30f);
                Vector512<float> total = Vector512<float>.Zero;
                for (; i + 16 <= stop; i += 16)
                {
                    Vector512<float> acc = Vector512.LoadUnsafe(ref r0, i);
                    if (nr > 1)
                    {
                        acc += Vector512.LoadUnsafe(ref r1, i);
                    }

                    if (nr > 2)
                    {
                        acc += Vector512.LoadUnsafe(ref r2, i);
                    }

                    if (nr > 3)
                    {
                        acc += Vector512.LoadUnsafe(ref r3, i);
                    }

                    acc *= c;
                    if (nw > 0)
                    {
                        Vector512.StoreUnsafe(Vector512.LoadUnsafe(ref w0, i) + acc, ref w0, i);
                    }

                    if (nw > 1)
                    {
                        Vector512.StoreUnsafe(Vector512.LoadUnsafe(ref w1, i) + acc, ref w1, i);
                    }

                    if (nw > 2)
                    {
                        Vector512.StoreUnsafe(Vector512.LoadUnsafe(ref w2, i) + acc, ref w2, i);
                    }

                    total += acc;
                }

                sink += Vector512.Sum(total);
            }
            else
            {
                var c = Vector256.Create(1e-30f);
                Vector256<float> total = Vector256<float>.Zero;
                for (; i + 8 <= stop; i += 8)
                {
                    Vector256<float> acc = Vector256.LoadUnsafe(ref r0, i);
                    if (nr > 1)
                    {
                        acc += Vector256.LoadUnsafe(ref r1, i);
                    }

                    if (nr > 2)
                    {
                        acc += Vector256.LoadUnsafe(ref r2, i);
                    }

                    if (nr > 3)
                    {
                        acc += Vector256.LoadUnsafe(ref r3, i);
                    }

                    acc *= c;
                    if (nw > 0)
                    {
                        Vector256.StoreUnsafe(Vector256.LoadUnsafe(ref w0, i) + acc, ref w0, i);
                    }

                    if (nw > 1)
                    {
                        Vector256.StoreUnsafe(Vector256.LoadUnsafe(ref w1, i) + acc, ref w1, i);
                    }

                    if (nw > 2)
                    {
                        Vector256.StoreUnsafe(Vector256.LoadUnsafe(ref w2, i) + acc, ref w2, i);
                    }

                    total += acc;
                }

                sink += Vector256.Sum(total);
            }

            for (int k = (int)i; k < end; k++)
            {
                float acc = 0;
                foreach (ArraySegment<float> r in reads)
                {
                    acc += r[k];
                }

                foreach (ArraySegment<float> w in writes)
                {
                    w[k] += 1e-30f * acc;
                }

                sink += acc;
            }

            // Keeps a read-only pass from being removed (never a meaningful value).
            Sink = sink;
        }
    }

    private static float Sink { get; set; }
}

/// <summary>LAMB declared as an expression rule with two norms (docs/expressions.md#reductions), beside the catalog's hand-written Lamb.</summary>
[Optimizer(Name = "bench.lamb_declared")]
[Hyperparameter("Lr", 1e-3)]
[Hyperparameter("Beta1", 0.9)]
[Hyperparameter("Beta2", 0.999)]
[Hyperparameter("Eps", 1e-6)]
[Hyperparameter("Wd", 0.01)]
[State("m")]
[State("v")]
[StepScalar("bc1", "1 - pow(Beta1, t)")]
[StepScalar("bc2", "1 - pow(Beta2, t)")]
[Update("m = Beta1 * m + (1 - Beta1) * g")]
[Update("v = Beta2 * v + (1 - Beta2) * g * g")]
[Update("let r = (m / bc1) / (sqrt(v / bc2) + Eps) + Wd * p")]
[Update("let trust = norm(p) > 0 ? (norm(r) > 0 ? norm(p) / norm(r) : 1) : 1")]
[Update("p = p - Lr * trust * r")]
internal sealed partial class DeclaredLambBench;
