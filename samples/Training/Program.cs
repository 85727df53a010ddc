// OptGen's training sample: a small MLP (forward and backward by hand) on two spirals (classification) and a 1-D
// regression, trained with catalog optimizers and one user-declared optimizer (LectureAdamW in CustomOptimizer.cs).
// Each optimizer is a generated fused SIMD kernel; the loop calls Step once per mini-batch on one flat parameter
// vector. Prints a summary table and writes PNGs of the loss curves.
//
//   dotnet run -c Release --project samples/Training [-- --optimizer all|adam|... --steps N --task all|spirals|regression --out DIR]
//   mpirun -np 2 dotnet samples/Training/bin/Release/net10.0/OptGen.Samples.Training.dll --mpi [same options]
//     data-parallel: each rank takes half of every batch, the optimizer state is sharded (docs/distributed.md)

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using OptGen.Samples.Training;
using ScottPlot;
using Spectre.Console;

string optimizerKey = "all";
string taskKey = "all";
int steps = 1500;
string output = Path.Combine("artifacts", "samples");
bool mpi = false;
for (int i = 0; i < args.Length; i++)
{
    string arg = args[i];
    string? value = i + 1 < args.Length ? args[i + 1] : null;
    switch (arg)
    {
        case "--optimizer" or "-o" when value is not null:
            optimizerKey = value;
            i++;
            break;
        case "--steps" or "-s" when value is not null:
            if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out steps) || steps < 1)
            {
                Console.Error.WriteLine($"--steps must be a positive integer, got '{value}'.");
                return 2;
            }

            i++;
            break;
        case "--task" or "-t" when value is not null:
            taskKey = value;
            i++;
            break;
        case "--out" when value is not null:
            output = value;
            i++;
            break;
        case "--mpi":
            mpi = true;
            break;
        case "--help" or "-h":
            PrintUsage();
            return 0;
        default:
            Console.Error.WriteLine($"Unknown or incomplete option '{arg}'.");
            PrintUsage();
            return 2;
    }
}

OptimizerChoice[] choices = optimizerKey == "all" ? Trainer.Choices : Trainer.Choices.Where(c => c.Key == optimizerKey).ToArray();
Problem[] problems = taskKey == "all" ? Trainer.Problems() : Trainer.Problems().Where(p => p.Name == taskKey).ToArray();
if (choices.Length == 0 || problems.Length == 0)
{
    Console.Error.WriteLine(choices.Length == 0 ? $"Unknown optimizer '{optimizerKey}'." : $"Unknown task '{taskKey}'.");
    PrintUsage();
    return 2;
}

if (mpi)
{
    // Data-parallel over Open MPI: final losses only (no progress bars or plots), printed by rank 0.
    using var world = OptGen.Distributed.MpiCommunicator.Initialize();
    foreach (Problem p in problems)
    {
        // The sharded optimizer takes gradients only: rules that also read per-example squares stay single-process.
        foreach (OptimizerChoice c in choices.Where(c => !c.Create(1).Descriptor.ReadsPerExampleSquares))
        {
            (double loss, long bytes, long unsharded) = DataParallel.Run(world, p, c, steps, seed: 42);
            if (world.Rank == 0)
            {
                Console.WriteLine($"{p.Name} / {c.Display}: final training loss {loss:G4} on {world.Size} ranks; optimizer state {bytes} bytes on rank 0 ({unsharded} on one process)");
            }
        }
    }

    return 0;
}

bool plain = Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive;
if (plain)
{
    AnsiConsole.Profile.Width = 140;
}

Console.WriteLine($"Training {problems.Length} problem(s) × {choices.Length} optimizer(s), {steps} steps each:");
foreach (Problem p in problems)
{
    Console.WriteLine($"  {p.Name}: MLP {string.Join("-", p.Layers)} ({new Mlp(p.Loss, p.Layers).ParameterCount} parameters), batch {p.BatchSize}, {p.Train.Count} training / {p.Test.Count} test examples");
}

var results = new List<RunResult>();
if (plain)
{
    // Redirected output: no live bar, one completion line per run.
    foreach (Problem problem in problems)
    {
        foreach (OptimizerChoice choice in choices)
        {
            RunResult r = Trainer.Run(problem, choice, steps, seed: 42);
            results.Add(r);
            Console.WriteLine($"  done {problem.Name} / {choice.Display}: {steps} steps, loss {r.FinalLoss:G4}, {r.MetricName} {FormatMetric(r)} ({r.Seconds:F1} s)");
        }
    }
}
else
{
    AnsiConsole.Progress()
        .AutoClear(false)
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
        .Start(context =>
        {
            var tasks = new List<(Problem, OptimizerChoice, ProgressTask)>();
            foreach (Problem problem in problems)
            {
                foreach (OptimizerChoice choice in choices)
                {
                    tasks.Add((problem, choice, context.AddTask(Markup.Escape($"{problem.Name} / {choice.Display}"), autoStart: false, maxValue: steps)));
                }
            }

            foreach ((Problem problem, OptimizerChoice choice, ProgressTask task) in tasks)
            {
                task.StartTask();
                results.Add(Trainer.Run(problem, choice, steps, seed: 42, step => task.Value = step));
                task.StopTask();
            }
        });
}

var table = new Table().Border(TableBorder.Rounded).Title("Summary");
table.AddColumn("problem");
table.AddColumn("optimizer");
table.AddColumn(new TableColumn("η").RightAligned());
table.AddColumn(new TableColumn("final train loss").RightAligned());
table.AddColumn(new TableColumn("test metric").RightAligned());
table.AddColumn(new TableColumn("bytes/param/step").RightAligned());
table.AddColumn(new TableColumn("time").RightAligned());
foreach (RunResult r in results)
{
    table.AddRow(
        r.Problem.Name,
        Markup.Escape(r.Optimizer.Display),
        r.Optimizer.LearningRate.ToString("G3", CultureInfo.InvariantCulture),
        r.FinalLoss.ToString("G4", CultureInfo.InvariantCulture),
        $"{r.MetricName} {FormatMetric(r)}",
        r.BytesPerParameter.ToString(CultureInfo.InvariantCulture),
        $"{r.Seconds:F1} s");
}

AnsiConsole.Write(table);

Directory.CreateDirectory(output);
foreach (Problem problem in problems)
{
    var plot = new Plot();
    plot.Title($"{problem.Name}: MLP {string.Join("-", problem.Layers)}, training loss");
    plot.XLabel("step");
    plot.YLabel("log₁₀ training loss (full set)");
    foreach (RunResult r in results.Where(r => r.Problem == problem))
    {
        var scatter = plot.Add.Scatter(r.Steps, r.TrainLoss.Select(Math.Log10).ToArray());
        scatter.LegendText = r.Optimizer.Display;
        scatter.MarkerSize = 0;
        scatter.LineWidth = 2;
    }

    plot.ShowLegend(problem.Name == "spirals" ? Alignment.LowerLeft : Alignment.UpperRight);
    string path = Path.GetFullPath(Path.Combine(output, $"training-{problem.Name}.png"));
    plot.SavePng(path, 1000, 650);
    Console.WriteLine($"Wrote {path}");
}

return 0;

static string FormatMetric(RunResult r) =>
    r.Problem.Loss == LossKind.SoftmaxCrossEntropy
        ? r.TestMetric.ToString("P1", CultureInfo.InvariantCulture)
        : r.TestMetric.ToString("F3", CultureInfo.InvariantCulture);

static void PrintUsage()
{
    Console.WriteLine("usage: dotnet run -c Release --project samples/Training [-- options]");
    Console.WriteLine("  --optimizer NAME  all (default) or one of: " + string.Join(", ", Trainer.Choices.Select(c => c.Key)));
    Console.WriteLine("  --steps N         optimizer steps per run (default 1500)");
    Console.WriteLine("  --task NAME       all (default), spirals or regression");
    Console.WriteLine($"  --out DIR         where the PNGs go (default {Path.Combine("artifacts", "samples")} under the current directory)");
}
