// A TorchSharp MLP trained with TorchSharp's own Adam and with OptGen's Adam behind OptGen.TorchSharp, from the same
// weights on the same batches: the loss curves agree within float32 noise, and the optimizer step is faster.
// Also a rule TorchSharp does not have, declared below with OptGen attributes, in the same loop.
// Usage: dotnet run -c Release --project samples/TorchSharp [-- --steps 400]

using System;
using System.Globalization;
using System.Linq;
using OptGen;
using OptGen.Samples.TorchSharpSample;
using OptGen.TorchSharp;
using TorchSharp;

int steps = args.Length == 2 && args[0] == "--steps" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 400;
torch.set_num_threads(1);

TrainingRun reference = SideBySide.Train("torch.optim.Adam", model => torch.optim.Adam(model.parameters(), lr: 3e-3), steps);
TrainingRun fused = SideBySide.Train(
    "OptGen Adam",
    model =>
    {
        var optimizer = FusedOptimizer.Create(model.named_parameters(), layout => new OptGen.Adam(layout) { LearningRate = 3e-3 });
        optimizer.Optimizer.MaxDegreeOfParallelism = 1;
        return optimizer;
    },
    steps);
TrainingRun declared = SideBySide.Train(
    "OptGen MyLion (declared below)",
    model => FusedOptimizer.Create(model.parameters(), layout => new MyLion(layout) { LearningRate = 3e-4 }),
    steps);

Console.WriteLine($"Three spirals, 2-128-128-3 tanh MLP, batches of 256, {steps} steps, one thread.");
Console.WriteLine();
Console.WriteLine("| step | torch.optim.Adam loss | OptGen Adam loss | OptGen MyLion loss |");
Console.WriteLine("| ---: | ---: | ---: | ---: |");
foreach (int step in new[] { 0, 1, 2, 5, 10, 20, 50, 100, 200, 400, 800, 1600 }.Where(s => s < steps).Append(steps - 1).Distinct())
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {step + 1} | {reference.Losses[step]:F6} | {fused.Losses[step]:F6} | {declared.Losses[step]:F6} |"));
}

Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"Largest relative difference between the two Adam loss curves: {SideBySide.LargestRelativeDifference(reference, fused):E2} (float32 rounding, grown by training)"));
foreach (TrainingRun run in new[] { reference, fused, declared })
{
    double[] times = run.StepMilliseconds.Skip(10).Order().ToArray();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{run.Optimizer,-36} step: median {times[times.Length / 2] * 1000:F0} µs, min {times[0] * 1000:F0} µs"));
}

/// <summary>Lion (Chen et al. 2023), which torch.optim does not have, declared as update expressions.</summary>
[Optimizer]
[Hyperparameter("LearningRate", 1e-4)]
[Hyperparameter("Beta1", 0.9)]
[Hyperparameter("Beta2", 0.99)]
[State("m")]
[Update("let c = lerp(m, g, 1 - Beta1)")]
[Update("p = p - LearningRate * sign(c)")]
[Update("m = lerp(m, g, 1 - Beta2)")]
internal sealed partial class MyLion;
