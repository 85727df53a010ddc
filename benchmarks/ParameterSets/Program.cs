// 200 mixed-size tensors stepped in one call vs one tensor of the same total size, with AdamW.
// Usage: dotnet run -c Release --project benchmarks/ParameterSets [-- totalElementsInMillions]
// Prints the median time per step over repeated runs, per configuration, and the ratio many/one.

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
        double tOne = Median(() => a.Step(parameters, gradients, options));
        double tArena = Median(() => b.Step(parameters, gradients, options));
        double tTensors = Median(() => c.Step(parameterTensors, gradientTensors, options));
        string what = $"{threads} thread(s){(clip ? ", clip (norm pass)" : string.Empty)}";
        Console.WriteLine($"{what,-32} one tensor {tOne * 1e3,8:F3} ms | 200 in an arena {tArena * 1e3,8:F3} ms ({tArena / tOne:F3}x) | 200 buffers {tTensors * 1e3,8:F3} ms ({tTensors / tOne:F3}x)");
    }
}

static double Median(Action step)
{
    for (int i = 0; i < 10; i++)
    {
        step();
    }

    var times = new double[41];
    for (int r = 0; r < times.Length; r++)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < 5; i++)
        {
            step();
        }

        times[r] = Stopwatch.GetElapsedTime(start).TotalSeconds / 5;
    }

    Array.Sort(times);
    return times[times.Length / 2];
}
