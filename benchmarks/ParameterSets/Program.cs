// 200 mixed-size tensors stepped in one call vs one tensor of the same total size, with AdamW.
// Usage: dotnet run -c Release --project benchmarks/ParameterSets [-- totalElementsInMillions]
// Prints the minimum time per step over interleaved rounds, per configuration, and the ratio many/one.

using System;
using System.Diagnostics;
using System.Linq;
using OptGen;

double millions = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 4;
var random = new Random(42);

// 200 log-uniform sizes from 16 to 64Ki elements (biases, norms, small and large matrices), scaled to the total.
double[] raw = [.. Enumerable.Range(0, 200).Select(_ => Math.Exp(Math.Log(16) + (random.NextDouble() * (Math.Log(65536) - Math.Log(16)))))];
double factor = millions * 1e6 / raw.Sum();
int[] lengths = [.. raw.Select(x => Math.Max(1, (int)(x * factor)))];
int total = lengths.Sum();
Console.WriteLine($"200 tensors, {total:N0} elements in all (smallest {lengths.Min():N0}, largest {lengths.Max():N0}); {Environment.ProcessorCount} cores");

var many = new ParameterLayout(lengths[..150], lengths[150..]);
var one = ParameterLayout.Single(total);
float[] parameters = [.. Enumerable.Range(0, total).Select(_ => (float)random.NextDouble())];
float[] gradients = [.. Enumerable.Range(0, total).Select(_ => (float)(random.NextDouble() - 0.5))];
Memory<float>[] parameterTensors = [.. Enumerable.Range(0, many.TensorCount).Select(j => new Memory<float>(parameters, many.ArenaOffsetOf(j), many.LengthOf(j)))];
ReadOnlyMemory<float>[] gradientTensors = [.. Enumerable.Range(0, many.TensorCount).Select(j => new ReadOnlyMemory<float>(gradients, many.ArenaOffsetOf(j), many.LengthOf(j)))];

foreach (int threads in new[] { 1, Environment.ProcessorCount }.Distinct())
{
    foreach (bool clip in new[] { false, true })
    {
        var options = new StepOptions { MaxDegreeOfParallelism = threads, MaxGradientNorm = clip ? 1.0 : double.PositiveInfinity };
        var a = new AdamW(one);
        var b = new AdamW(many);
        var c = new AdamW(many);
        (double tOne, double tArena, double tTensors) = Interleaved(
            () => a.Step(parameters, gradients, options),
            () => b.Step(parameters, gradients, options),
            () => c.Step(parameterTensors, gradientTensors, options));
        string what = $"{threads} thread(s){(clip ? ", clip (norm pass)" : string.Empty)}";
        Console.WriteLine($"{what,-32} one tensor {tOne * 1e3,8:F3} ms | 200 in an arena {tArena * 1e3,8:F3} ms ({tArena / tOne:F3}x) | 200 buffers {tTensors * 1e3,8:F3} ms ({tTensors / tOne:F3}x)");
    }
}

// The fixed cost per tensor: 200 tensors of 16 elements against one tensor of 3200.
{
    int[] tiny = [.. Enumerable.Repeat(16, 200)];
    var a = new AdamW(ParameterLayout.Single(3200));
    var b = new AdamW(new ParameterLayout(tiny));
    float[] p = new float[3200], g = new float[3200];
    Memory<float>[] pt = [.. Enumerable.Range(0, 200).Select(j => new Memory<float>(p, 16 * j, 16))];
    ReadOnlyMemory<float>[] gt = [.. Enumerable.Range(0, 200).Select(j => new ReadOnlyMemory<float>(g, 16 * j, 16))];
    (double tOne, double tArena, double tTensors) = Interleaved(
        () => a.Step(p, g, null),
        () => b.Step(p, g, null),
        () => b.Step(pt, gt));
    Console.WriteLine($"200 x 16 elements vs 1 x 3200: one {tOne * 1e6:F1} us, arena {tArena * 1e6:F1} us, buffers {tTensors * 1e6:F1} us => {(tArena - tOne) / 199 * 1e9:F0} ns (arena) / {(tTensors - tOne) / 199 * 1e9:F0} ns (buffers) per extra tensor");
}

// Minimum time per step of each action over rounds that interleave them (robust on a shared, noisy machine).
static (double, double, double) Interleaved(Action x, Action y, Action z)
{
    Action[] actions = [x, y, z];
    double[] best = [double.MaxValue, double.MaxValue, double.MaxValue];
    foreach (Action action in actions)
    {
        for (int i = 0; i < 30; i++)
        {
            action();
        }
    }

    for (int round = 0; round < 60; round++)
    {
        for (int k = 0; k < actions.Length; k++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < 3; i++)
            {
                actions[k]();
            }

            best[k] = Math.Min(best[k], Stopwatch.GetElapsedTime(start).TotalSeconds / 3);
        }
    }

    return (best[0], best[1], best[2]);
}
