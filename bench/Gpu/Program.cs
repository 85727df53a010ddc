// The fused Adam step on a GPU: achieved bandwidth against a device-to-device copy and against a kernel that moves
// exactly Adam's bytes, and 200 mixed-size tensors in one launch against one tensor of the same total size, all in
// one run on one device. See docs/gpu-benchmark.md.
//
//   OptGen.Bench.Gpu [--device cuda|cpu] [--sizes 16M,256M] [--tensors 200] [--steps 100] [--warmup 10] [--json results.json] [--check]
//
// --check first compares the device backend with the CPU engine (docs/gpu-benchmark.md, "Correctness on the GPU").
// Exit codes: 0 done, 2 no such device, 3 bad arguments, 4 the results are not finite, 5 the check failed.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using OptGen;
using OptGen.Gpu;

internal static class Program
{
    private const int AdamBytesPerElement = 28; // reads p, g, m, v; writes p, m, v (float32)
    private const int CopyBytesPerElement = 8;  // reads 4, writes 4

    private static int Main(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 3;
        }

        using Context context = Context.Create(builder =>
        {
            builder.Optimize(OptimizationLevel.O2);
            if (options.Device == "cuda")
            {
                builder.Cuda();
            }
            else
            {
                builder.DefaultCPU();
            }
        });

        if (options.Device == "cuda" && context.GetCudaDevices().Count == 0)
        {
            Console.Error.WriteLine("No CUDA device found (needs an NVIDIA GPU and its driver's libcuda.so). Use --device cpu for a smoke run.");
            return 2;
        }

        using Accelerator accelerator = options.Device == "cuda" ? context.CreateCudaAccelerator(0) : context.CreateCPUAccelerator(0);
        Console.WriteLine($"device: {accelerator.Name} ({accelerator.AcceleratorType}), memory {accelerator.MemorySize / (1L << 30)} GiB");
        Console.WriteLine($"date (UTC): {DateTime.UtcNow:yyyy-MM-dd HH:mm}; .NET {Environment.Version}; ILGPU {typeof(Context).Assembly.GetName().Version}");
        Console.WriteLine($"steps: {options.Steps} timed after {options.Warmup} warm-up; bandwidth in GB/s (10^9 bytes/s); Adam moves {AdamBytesPerElement} B/element, a copy {CopyBytesPerElement} B/element");
        Console.WriteLine();
        if (options.Check && !Check(accelerator, options.Device == "cuda" ? 1 << 20 : 1 << 14))
        {
            return 5;
        }

        Console.WriteLine($"| elements | Adam step (ms) | Adam GB/s | same-bytes kernel GB/s | D2D copy GB/s | Adam / same-bytes | Adam / copy | {options.Tensors} tensors step (ms) | {options.Tensors} tensors / one | 8-bit state / float32 | 4-bit state / float32 |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");

        var rows = new List<Dictionary<string, object>>();
        foreach (long n in options.Sizes)
        {
            Dictionary<string, object>? row = Measure(accelerator, checked((int)n), options);
            if (row is null)
            {
                return 4;
            }

            rows.Add(row);
        }

        if (options.Json is not null)
        {
            var document = new Dictionary<string, object>
            {
                ["benchmark"] = "optgen-ilgpu-adam",
                ["device"] = accelerator.Name,
                ["acceleratorType"] = accelerator.AcceleratorType.ToString(),
                ["dateUtc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
                ["dotnet"] = Environment.Version.ToString(),
                ["ilgpu"] = typeof(Context).Assembly.GetName().Version?.ToString() ?? string.Empty,
                ["steps"] = options.Steps,
                ["tensors"] = options.Tensors,
                ["results"] = rows,
            };
            File.WriteAllText(options.Json, JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine();
            Console.WriteLine($"wrote {options.Json}");
        }

        return 0;
    }

    private static Dictionary<string, object>? Measure(Accelerator accelerator, int n, Options options)
    {
        Action<AcceleratorStream, Index1D, ArrayView<float>, uint> fill = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, uint>(Fill);
        Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> sameBytes =
            accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(SameBytes);

        using MemoryBuffer1D<float, Stride1D.Dense> p = accelerator.Allocate1D<float>(n);
        using MemoryBuffer1D<float, Stride1D.Dense> g = accelerator.Allocate1D<float>(n);
        using MemoryBuffer1D<float, Stride1D.Dense> copy = accelerator.Allocate1D<float>(n);
        fill(accelerator.DefaultStream, n, p.View, 1u);
        fill(accelerator.DefaultStream, n, g.View, 2u);

        // The fused Adam step (catalog Adam: PyTorch's defaults, lr 1e-3).
        var adam = new Adam(n);
        using var gpu = new GpuOptimizer(adam, accelerator);
        double adamSeconds = Time(accelerator, options, () => gpu.Step(p.View, g.View));

        // A kernel that reads p, g, m, v and writes p, m, v like Adam, with no arithmetic to speak of: the roofline
        // for an in-place update (same launch shape as the Adam kernel).
        ArrayView<float> m = gpu.GetState("FirstMoment");
        ArrayView<float> v = gpu.GetState("SecondMoment");
        double sameBytesSeconds = Time(accelerator, options, () => sameBytes(accelerator.DefaultStream, gpu.Threads, p.View, g.View, m, v, gpu.Threads));

        // The driver's device-to-device copy of one buffer.
        double copySeconds = Time(accelerator, options, () => p.View.CopyTo(copy.View));
        gpu.Dispose();

        // The same total size as many mixed-size tensors in two groups, one launch per step over the arenas.
        var layout = MixedLayout(n, options.Tensors);
        using var many = new GpuOptimizer(new Adam(layout), accelerator);
        double manySeconds = Time(accelerator, options, () => many.Step(p.View, g.View));

        // The same one-tensor Adam step with 8-bit and 4-bit blockwise state (the bytes floor: 0.57 and 0.52 of float32).
        double[] blockwiseSeconds = new double[2];
        foreach ((int index, StatePrecision precision) in new[] { (0, StatePrecision.Int8Blockwise), (1, StatePrecision.Int4Blockwise) })
        {
            var quantized = new Adam(n);
            quantized.ChangeStatePrecision(precision);
            using var device = new GpuOptimizer(quantized, accelerator);
            blockwiseSeconds[index] = Time(accelerator, options, () => device.Step(p.View, g.View));
        }

        float[] sample = new float[Math.Min(n, 1024)];
        p.View.SubView(0, sample.Length).CopyToCPU(sample);
        if (!sample.All(float.IsFinite))
        {
            Console.Error.WriteLine("The parameters are not finite after the benchmark: the kernel is broken.");
            return null;
        }

        double adamGBs = AdamBytesPerElement * (double)n / adamSeconds / 1e9;
        double sameGBs = AdamBytesPerElement * (double)n / sameBytesSeconds / 1e9;
        double copyGBs = CopyBytesPerElement * (double)n / copySeconds / 1e9;
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"| {n:N0} | {adamSeconds * 1e3:F3} | {adamGBs:F0} | {sameGBs:F0} | {copyGBs:F0} | {adamGBs / sameGBs:F2} | {adamGBs / copyGBs:F2} | {manySeconds * 1e3:F3} | {manySeconds / adamSeconds:F2} | {blockwiseSeconds[0] / adamSeconds:F2} | {blockwiseSeconds[1] / adamSeconds:F2} |"));
        return new Dictionary<string, object>
        {
            ["elements"] = n,
            ["threads"] = gpu.Threads,
            ["adamStepMs"] = adamSeconds * 1e3,
            ["adamGBs"] = adamGBs,
            ["sameBytesKernelGBs"] = sameGBs,
            ["copyGBs"] = copyGBs,
            ["adamOverSameBytes"] = adamGBs / sameGBs,
            ["adamOverCopy"] = adamGBs / copyGBs,
            ["tensorsStepMs"] = manySeconds * 1e3,
            ["tensorsOverOne"] = manySeconds / adamSeconds,
            ["int8StateStepMs"] = blockwiseSeconds[0] * 1e3,
            ["int8StateOverFloat32"] = blockwiseSeconds[0] / adamSeconds,
            ["int4StateStepMs"] = blockwiseSeconds[1] * 1e3,
            ["int4StateOverFloat32"] = blockwiseSeconds[1] / adamSeconds,
        };
    }

    /// <summary>
    /// <paramref name="count"/> tensors of mixed sizes summing to <paramref name="n"/>: weight wⱼ = 1 + (j·2654435761 mod 2³²)
    /// mod 1000, length ⌊n·wⱼ/Σw⌋, the remainder to the last; the first half in group 0, the rest in group 1.
    /// torch_adam.py builds the same lengths.
    /// </summary>
    private static ParameterLayout MixedLayout(int n, int count)
    {
        long[] weights = Enumerable.Range(0, count).Select(j => 1 + (((uint)j * 2654435761u) % 1000)).Select(w => (long)w).ToArray();
        long total = weights.Sum();
        int[] lengths = weights.Select(w => (int)(n * w / total)).ToArray();
        lengths[^1] += n - lengths.Sum();
        return new ParameterLayout(lengths[..(count / 2)], lengths[(count / 2)..]);
    }

    /// <summary>
    /// The device backend against the CPU engine on this accelerator: several rules × parameter precisions × state
    /// precisions on 200 mixed tensors (<paramref name="n"/> elements) in 2 groups with a schedule, clipping and unscaling, 20 steps. Prints the
    /// largest difference of the parameters relative to their magnitude, and of the gradient norm; fails above 10⁻³
    /// (a GPU may fuse multiply-adds, so the runs drift apart by a few ULP per step; a broken kernel is off by far more).
    /// </summary>
    private static bool Check(Accelerator accelerator, int n)
    {
        Console.WriteLine("| check: rule | parameters | state | steps | max |Δp|/max|p| | max relative Δ norm | bit-identical parameters |");
        Console.WriteLine("| --- | --- | --- | ---: | ---: | ---: | --- |");
        bool ok = true;
        ParameterLayout layout = MixedLayout(n, 200);
        foreach (string rule in new[] { "Adam", "AdamW", "SgdMomentum", "RmsProp", "NAdam" })
        {
            foreach (string kind in new[] { "float32", "bfloat16" })
            {
                foreach (StatePrecision state in new[] { StatePrecision.Float32, StatePrecision.BFloat16, StatePrecision.Int8Blockwise, StatePrecision.Int4Blockwise })
                {
                    ok &= CheckOne(accelerator, layout, rule, kind, state);
                }
            }
        }

        Console.WriteLine(ok ? "check: passed" : "check: FAILED");
        Console.WriteLine();
        return ok;
    }

    private static bool CheckOne(Accelerator accelerator, ParameterLayout layout, string rule, string kind, StatePrecision state)
    {
        const int steps = 20;
        Optimizer Create()
        {
            Optimizer optimizer = rule switch
            {
                "Adam" => new Adam(layout),
                "AdamW" => new AdamW(layout),
                "SgdMomentum" => new SgdMomentum(layout),
                "RmsProp" => new RmsProp(layout),
                _ => new NAdam(layout),
            };
            optimizer.ChangeStatePrecision(state);
            optimizer.Groups[1]["LearningRate"] = optimizer["LearningRate"] * 0.5;
            optimizer.SetSchedule("LearningRate", Schedule.Cosine(optimizer["LearningRate"], steps));
            return optimizer;
        }

        Optimizer cpu = Create();
        using var gpu = new GpuOptimizer(Create(), accelerator);
        int n = layout.TotalLength;
        var random = new Random(1);
        float[] p = Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        float[] g = new float[n];
        var options = new StepOptions { GradientScale = 0.5, MaxGradientNorm = 50 };
        double normError = 0;
        float[] result;
        if (kind == "float32")
        {
            using MemoryBuffer1D<float, Stride1D.Dense> dp = accelerator.Allocate1D(p);
            using MemoryBuffer1D<float, Stride1D.Dense> dg = accelerator.Allocate1D<float>(n);
            for (int step = 0; step < steps; step++)
            {
                Fill(random, g);
                StepResult expected = cpu.Step(p, g, options);
                dg.CopyFromCPU(g);
                gpu.Step(dp.View, dg.View, options);
                normError = Math.Max(normError, Math.Abs(gpu.LastResult.GradientNorm - expected.GradientNorm) / expected.GradientNorm);
            }

            result = dp.GetAsArray1D();
        }
        else
        {
            BFloat16[] pb = p.Select(x => (BFloat16)x).ToArray();
            BFloat16[] gb = new BFloat16[n];
            using MemoryBuffer1D<BFloat16, Stride1D.Dense> dp = accelerator.Allocate1D(pb);
            using MemoryBuffer1D<BFloat16, Stride1D.Dense> dg = accelerator.Allocate1D<BFloat16>(n);
            for (int step = 0; step < steps; step++)
            {
                Fill(random, g);
                for (int i = 0; i < n; i++)
                {
                    gb[i] = (BFloat16)g[i];
                }

                StepResult expected = cpu.Step(pb, gb, options);
                dg.CopyFromCPU(gb);
                gpu.Step(dp.View, dg.View, options);
                normError = Math.Max(normError, Math.Abs(gpu.LastResult.GradientNorm - expected.GradientNorm) / expected.GradientNorm);
            }

            p = pb.Select(x => (float)x).ToArray();
            result = dp.GetAsArray1D().Select(x => (float)x).ToArray();
        }

        double scale = p.Max(x => Math.Abs((double)x));
        double error = 0;
        bool identical = true;
        for (int i = 0; i < n; i++)
        {
            error = Math.Max(error, Math.Abs((double)result[i] - p[i]) / scale);
            identical &= BitConverter.SingleToInt32Bits(result[i]) == BitConverter.SingleToInt32Bits(p[i]);
        }

        bool ok = error <= 1e-3 && normError <= 1e-6 && gpu.StepCount == cpu.StepCount;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {rule} | {kind} | {state} | {steps} | {error:E2} | {normError:E2} | {(identical ? "yes" : "no")} |{(ok ? string.Empty : " FAILED")}"));
        return ok;
    }

    private static void Fill(Random random, float[] g)
    {
        for (int i = 0; i < g.Length; i++)
        {
            g[i] = (float)(((random.NextDouble() * 2) - 1) * Math.Pow(10, random.Next(-3, 2)));
        }
    }

    /// <summary>Seconds per call: <see cref="Options.Warmup"/> untimed calls, then the mean over <see cref="Options.Steps"/>.</summary>
    private static double Time(Accelerator accelerator, Options options, Action step)
    {
        for (int i = 0; i < options.Warmup; i++)
        {
            step();
        }

        accelerator.Synchronize();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < options.Steps; i++)
        {
            step();
        }

        accelerator.Synchronize();
        return Stopwatch.GetElapsedTime(start).TotalSeconds / options.Steps;
    }

    /// <summary>Values in [−1, 1) from a hash of the index (no host round trip at 256M elements).</summary>
    private static void Fill(Index1D index, ArrayView<float> values, uint seed)
    {
        uint x = ((uint)index.X * 747796405u) + (seed * 2891336453u);
        x ^= x >> 16;
        x *= 0x7feb352du;
        x ^= x >> 15;
        values[index] = ((x >> 8) * (1f / 8388608f)) - 1f;
    }

    /// <summary>Adam's memory traffic without its arithmetic, in the same grid-stride loop.</summary>
    private static void SameBytes(Index1D index, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, int stride)
    {
        for (long i = index; i < p.Length; i += stride)
        {
            float gi = g[i];
            p[i] = p[i] - (1e-30f * gi);
            m[i] = m[i] + (1e-30f * gi);
            v[i] = v[i] + (1e-30f * gi);
        }
    }

    private sealed record Options(string Device, long[] Sizes, int Tensors, int Steps, int Warmup, string? Json, bool Check)
    {
        public static Options Parse(string[] args)
        {
            var options = new Options("cuda", new[] { 16L << 20, 256L << 20 }, 200, 100, 10, null, false);
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i] == "--check")
                {
                    options = options with { Check = true };
                    continue;
                }

                string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
                options = args[i] switch
                {
                    "--device" when value is "cuda" or "cpu" => options with { Device = value },
                    "--sizes" => options with { Sizes = value.Split(',').Select(ParseSize).ToArray() },
                    "--tensors" when int.TryParse(value, CultureInfo.InvariantCulture, out int tensors) && tensors >= 2 => options with { Tensors = tensors },
                    "--steps" => options with { Steps = int.Parse(value, CultureInfo.InvariantCulture) },
                    "--warmup" => options with { Warmup = int.Parse(value, CultureInfo.InvariantCulture) },
                    "--json" => options with { Json = value },
                    _ => throw new ArgumentException($"Unknown option {args[i]} {value}. Options: --device cuda|cpu, --sizes 16M,256M, --tensors 200, --steps N, --warmup N, --json FILE, --check."),
                };
                i++;
            }

            return options;
        }

        /// <summary>"16M" = 16·2²⁰ elements, "1K" = 1024, or a plain count.</summary>
        private static long ParseSize(string text)
        {
            text = text.Trim();
            long unit = char.ToUpperInvariant(text[^1]) switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1 };
            long count = long.Parse(unit == 1 ? text : text[..^1], CultureInfo.InvariantCulture) * unit;
            return count is > 0 and <= int.MaxValue ? count : throw new ArgumentException($"Size {text} is not 1 to {int.MaxValue} elements.");
        }
    }
}
