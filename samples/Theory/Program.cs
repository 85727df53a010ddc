// OptGen's theory demos: each reproduces a claim of the lecture notes with OptGen optimizers, prints measured next
// to predicted, and writes a PNG. Usage: dotnet run -c Release --project samples/Theory -- [demo|all] [--out DIR]

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using OptGen.Samples.Theory;
using Spectre.Console;

var demos = new (string Name, string Summary, Func<DemoResult> Run)[]
{
    ("gradient-noise", "1. at the optimum ĝ ≠ 0; Var ĝ = σ²/B", () => GradientNoiseDemo.Run(new())),
    ("temperature", "2. learning rate as temperature: p ∝ exp(−2L/(ησ²))", () => TemperatureDemo.Run(new())),
    ("quadratic-basin", "3. L(η) − L* ≈ (η/4)E‖gᵢ‖²; L* ≈ 2L(η/2) − L(η)", () => QuadraticBasinDemo.Run(new(ExtraRates: [0.0125, 0.0375, 0.075, 0.1]))),
    ("batch-scaling", "4. η_B = Bη₁, N_B = N₁/B: one loss curve against examples seen", () => BatchScalingDemo.Run(new())),
    ("bias-correction", "5. running averages: no correction, 1 − βᵗ, 1/min(t, N)", () => BiasCorrectionDemo.Run(new())),
    ("convergence", "6. Σηₜ = ∞ and ηₜ → 0 converge; summable schedules stall", () => ConvergenceDemo.Run(new())),
    ("langevin", "7. SGLD at temperature T samples exp(−L/T)", () => LangevinDemo.Run(new())),
    ("batch-invariance", "8. per-example squares make Adam independent of B; η = √Bη₀ only when noise dominates", () => BatchInvarianceDemo.Run(new())),
};

string output = Path.Combine("artifacts", "samples");
var selected = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] is "--out" or "-o" && i + 1 < args.Length)
    {
        output = args[++i];
    }
    else if (args[i] is "--help" or "-h")
    {
        PrintUsage();
        return 0;
    }
    else
    {
        selected.Add(args[i]);
    }
}

if (selected.Count == 0 || selected.Contains("all"))
{
    selected = demos.Select(d => d.Name).ToList();
}

foreach (string name in selected)
{
    if (!demos.Any(d => d.Name == name))
    {
        Console.Error.WriteLine($"Unknown demo '{name}'.");
        PrintUsage();
        return 2;
    }
}

if (Console.IsOutputRedirected)
{
    // Redirected output (a log, a pipe) gets no ANSI codes; give the tables room instead of the default 80 columns.
    AnsiConsole.Profile.Width = 160;
}

Directory.CreateDirectory(output);
foreach (string name in selected)
{
    var demo = demos.First(d => d.Name == name);
    var clock = Stopwatch.StartNew();
    DemoResult result = demo.Run();
    Report(result, clock.Elapsed.TotalSeconds, output);
}

return 0;

void PrintUsage()
{
    Console.WriteLine("usage: dotnet run -c Release --project samples/Theory -- [demo ...|all] [--out DIR]");
    Console.WriteLine($"  PNGs go to DIR (default {Path.Combine("artifacts", "samples")}, relative to the current directory). Demos:");
    foreach (var d in demos)
    {
        Console.WriteLine($"  {d.Name,-16} {d.Summary}");
    }
}

static void Report(DemoResult result, double seconds, string output)
{
    AnsiConsole.Write(new Rule($"[bold]{Markup.Escape(result.Name)}[/]").LeftJustified());
    AnsiConsole.MarkupLine($"[italic]{Markup.Escape(result.Claim)}[/]");
    var table = new Table().Border(TableBorder.Simple);
    table.AddColumn("quantity");
    table.AddColumn(new TableColumn("measured").RightAligned());
    table.AddColumn(new TableColumn("± SE").RightAligned());
    table.AddColumn(new TableColumn("predicted").RightAligned());
    table.AddColumn(new TableColumn("z").RightAligned());
    table.AddColumn(new TableColumn("allowance").RightAligned());
    table.AddColumn("prediction");
    foreach (Measurement m in result.Measurements)
    {
        string z = double.IsNaN(m.ZScore) ? "" : m.ZScore.ToString("+0.0;-0.0", CultureInfo.InvariantCulture);
        // ok: within 4 SE of the prediction; "ok, gap": only once the known higher-order gap (allowance) is added.
        string verdict = !m.Within(4) ? "[red]off[/]" : Math.Abs(m.ZScore) <= 4 ? "[green]ok[/]" : "[yellow]ok, gap[/]";
        table.AddRow(
            Markup.Escape(m.Quantity),
            Format(m.Measured),
            Format(m.StandardError),
            Format(m.Predicted),
            $"{z} {verdict}",
            m.Allowance == 0 ? "" : Format(m.Allowance),
            Markup.Escape(m.Source));
    }

    AnsiConsole.Write(table);
    AnsiConsole.MarkupLine("  z = (measured − predicted)/SE; ok: |z| ≤ 4; ok, gap: within 4 SE once the prediction's known higher-order gap (allowance) is added.");
    foreach (string note in result.Notes)
    {
        AnsiConsole.MarkupLine($"  {Markup.Escape(note)}");
    }

    foreach (PlotSpec plot in result.Plots)
    {
        string path = Path.GetFullPath(Path.Combine(output, plot.FileName));
        Plots.Save(plot, path);
        AnsiConsole.MarkupLine($"  wrote [link]{Markup.Escape(path)}[/]");
    }

    AnsiConsole.MarkupLine($"  ({seconds:F1} s)");
    AnsiConsole.WriteLine();
}

static string Format(double value) => value.ToString("G5", CultureInfo.InvariantCulture);
