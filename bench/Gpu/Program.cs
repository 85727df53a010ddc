// The fused Adam step on a GPU: achieved bandwidth against a device-to-device copy and against a kernel that moves
// exactly Adam's bytes, all in one run on one device. See docs/gpu-benchmark.md.
//
//   OptGen.Bench.Gpu [--device cuda|cpu] [--sizes 16M,256M] [--steps 100] [--warmup 10] [--json results.json]
//
// Exit codes: 0 done, 2 no such device, 3 bad arguments, 4 the results are not finite.

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
        Console.WriteLine("| elements | Adam step (ms) | Adam GB/s | same-bytes kernel GB/s | D2D copy GB/s | Adam / same-bytes | Adam / copy |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");

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
            $"| {n:N0} | {adamSeconds * 1e3:F3} | {adamGBs:F0} | {sameGBs:F0} | {copyGBs:F0} | {adamGBs / sameGBs:F2} | {adamGBs / copyGBs:F2} |"));
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
        };
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

    private sealed record Options(string Device, long[] Sizes, int Steps, int Warmup, string? Json)
    {
        public static Options Parse(string[] args)
        {
            var options = new Options("cuda", new[] { 16L << 20, 256L << 20 }, 100, 10, null);
            for (int i = 0; i < args.Length; i++)
            {
                string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
                options = args[i] switch
                {
                    "--device" when value is "cuda" or "cpu" => options with { Device = value },
                    "--sizes" => options with { Sizes = value.Split(',').Select(ParseSize).ToArray() },
                    "--steps" => options with { Steps = int.Parse(value, CultureInfo.InvariantCulture) },
                    "--warmup" => options with { Warmup = int.Parse(value, CultureInfo.InvariantCulture) },
                    "--json" => options with { Json = value },
                    _ => throw new ArgumentException($"Unknown option {args[i]} {value}. Options: --device cuda|cpu, --sizes 16M,256M, --steps N, --warmup N, --json FILE."),
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
