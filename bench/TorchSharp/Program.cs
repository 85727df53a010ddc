// TorchSharp's torch.optim.Adam ÷ OptGen.TorchSharp's FusedOptimizer over OptGen's Adam, on the same parameters and
// gradients, interleaved in one process: each round takes three samples of each, interleaved (a sample repeats a step
// until at least 20 ms have passed), and its ratio is min(torch) ÷ min(OptGen); the result is the median over rounds
// with the spread of the round ratios. One thread for both (torch.set_num_threads(1), MaxDegreeOfParallelism = 1)
// unless --threads N. Then, per model, the adapter's cost: the same FusedOptimizer step ÷ OptGen's Adam stepping one
// float[] arena of the model's total length (no tensors, no native calls, one piece list), interleaved the same way.
// Usage: dotnet run -c Release --project bench/TorchSharp [-- --rounds 9 --threads 1 --models 42M,1M,200x64]

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using OptGen;
using OptGen.TorchSharp;
using TorchSharp;
using TorchSharp.Modules;

int rounds = 9;
int threads = 1;
string[] models = ["42M", "1M"];
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--rounds": rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--threads": threads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--models": models = args[++i].Split(','); break;
        default: throw new ArgumentException($"Unknown option '{args[i]}'.");
    }
}

torch.set_num_threads(threads);
Console.WriteLine($"# TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch threads {torch.get_num_threads()}, OptGen MaxDegreeOfParallelism {threads}, {Environment.ProcessorCount} cores");
Console.WriteLine("| model (interleaved, one process) | tensors | elements | torch.optim.Adam step | OptGen step | ratio (median) | round ratios (min–max) |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
var overheads = new List<string>();
foreach (string model in models)
{
    long[][] shapes = model switch
    {
        "42M" => LogUniformShapes(200, 42_000_000, seed: 42),
        // A 784-512-512-740 MLP plus an embedding-sized remainder: 1,048,576 elements in 7 tensors.
        "1M" => [[512, 784], [512], [512, 512], [512], [740, 512], [740], [4_380]],
        // 200 tensors of 64 elements: the per-tensor costs of each side, with next to no arithmetic.
        "200x64" => Enumerable.Repeat(new long[] { 64 }, 200).ToArray(),
        _ => throw new ArgumentException($"Unknown model '{model}' (42M, 1M or 200x64)."),
    };
    overheads.Add(Measure(model, shapes, rounds, threads));
}

Console.WriteLine();
Console.WriteLine("| model (interleaved, one process) | OptGen.TorchSharp step over the tensors | OptGen Adam over one arena | ratio (median) | round ratios (min–max) |");
Console.WriteLine("| --- | --- | --- | --- | --- |");
overheads.ForEach(Console.WriteLine);

static string Measure(string model, long[][] shapes, int rounds, int threads)
{
    torch.random.manual_seed(1);
    Parameter[] parameters = shapes.Select(s => new Parameter(torch.rand(s) * 2 - 1)).ToArray();
    foreach (Parameter p in parameters)
    {
        p.grad = (torch.rand(p.shape) - 0.5) * 0.01;
    }

    using var reference = torch.optim.Adam(parameters, lr: 1e-3);
    using var fused = FusedOptimizer.Create(parameters, layout => new OptGen.Adam(layout) { LearningRate = 1e-3 });
    fused.Optimizer.MaxDegreeOfParallelism = threads;
    for (int i = 0; i < 3; i++)
    {
        reference.step();
        fused.step();
    }

    (double torchTime, double fusedTime, List<double> ratios) = Interleave(() => reference.step(), () => fused.step(), rounds);
    long elements = shapes.Sum(s => s.Aggregate(1L, (x, y) => x * y));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {model} | {shapes.Length} | {elements:N0} | {torchTime:F2} ms | {fusedTime:F2} ms | **{ratios[ratios.Count / 2]:F1}x** | {ratios[0]:F1}–{ratios[^1]:F1} |"));

    // The adapter's cost: the same step over one arena of the same length (the same gradient values, laid end to end).
    float[] arena = new float[elements];
    float[] arenaGradient = parameters.SelectMany(p => p.grad!.data<float>().ToArray()).ToArray();
    var single = new OptGen.Adam((int)elements) { LearningRate = 1e-3, MaxDegreeOfParallelism = threads };
    (double tensorsTime, double arenaTime, List<double> overhead) = Interleave(() => fused.step(), () => single.Step(arena, arenaGradient), rounds);
    foreach (Parameter p in parameters)
    {
        p.Dispose();
    }

    return string.Create(CultureInfo.InvariantCulture,
        $"| {model} | {tensorsTime:F3} ms | {arenaTime:F3} ms | {overhead[overhead.Count / 2]:F2}x | {overhead[0]:F2}–{overhead[^1]:F2} |");
}

// Rounds of three samples of each side, interleaved (A B B A A B, or the mirror), the least of each side per round: a
// sample another process preempted only ever looks slower (the method of bench/OptGen.Benchmarks' quick mode).
// Returns the least time of each side over all rounds and the sorted round ratios a ÷ b.
static (double A, double B, List<double> Ratios) Interleave(Action first, Action second, int rounds)
{
    var aTimes = new List<double>();
    var bTimes = new List<double>();
    var ratios = new List<double>();
    for (int r = 0; r < rounds; r++)
    {
        double a = double.MaxValue, b = double.MaxValue;
        for (int k = 0; k < 6; k++)
        {
            if (((k + (k / 2) + r) % 2) == 0)
            {
                a = Math.Min(a, Time(first));
            }
            else
            {
                b = Math.Min(b, Time(second));
            }
        }

        aTimes.Add(a);
        bTimes.Add(b);
        ratios.Add(a / b);
    }

    ratios.Sort();
    return (aTimes.Min(), bTimes.Min(), ratios);
}

// Milliseconds per step: repeats the step until at least 20 ms have passed.
static double Time(Action step)
{
    var watch = Stopwatch.StartNew();
    int count = 0;
    do
    {
        step();
        count++;
    }
    while (watch.Elapsed.TotalMilliseconds < 20);
    return watch.Elapsed.TotalMilliseconds / count;
}

// count tensor sizes, log-uniform between 48 and 1M elements, scaled to total elements in all.
static long[][] LogUniformShapes(int count, long total, int seed)
{
    var random = new Random(seed);
    double[] raw = Enumerable.Range(0, count).Select(_ => Math.Exp(Math.Log(48) + (random.NextDouble() * (Math.Log(1 << 20) - Math.Log(48))))).ToArray();
    double scale = total / raw.Sum();
    long[] sizes = raw.Select(x => Math.Max(1, (long)(x * scale))).ToArray();
    sizes[^1] += total - sizes.Sum();
    return sizes.Select(n => new[] { n }).ToArray();
}
