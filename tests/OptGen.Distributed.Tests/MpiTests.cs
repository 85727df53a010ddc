using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Distributed.Tests;

/// <summary>
/// The scenarios under real Open MPI: <c>mpirun --oversubscribe --allow-run-as-root -np R dotnet
/// OptGen.Distributed.Tests.dll &lt;scenario&gt;</c> (this assembly's <see cref="Program.Main"/>), each run killed after
/// a timeout so a hang fails the test instead of blocking CI.
/// </summary>
public class MpiTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void ShardedTrainingUnderMpirunMatchesOneProcess(int ranks)
    {
        Dictionary<string, string>[] facts = Launch(ranks, "train");
        Checks.Train(facts, ranks);

        // Steps 2–50 allocate nothing on the managed heap (the in-process double allocates; MPI does not).
        Assert.All(facts, f => Assert.Equal("0", f["allocated_bytes"]));
        output.WriteLine($"R={ranks}: state bytes per rank {string.Join(", ", facts.Select(f => f["state_bytes"]))} of {facts[0]["single_state_bytes"]} on one process; max relative {facts.Max(f => double.Parse(f["max_relative"], CultureInfo.InvariantCulture))}");
    }

    [Fact]
    public void ThreeRanksGiveTheSameParametersOnEveryRerun()
    {
        string first = Launch(3, "train")[0]["parameters"];
        string second = Launch(3, "train")[0]["parameters"];
        Assert.Equal(first, second);
    }

    [Theory]
    [InlineData("mismatch-layout")]
    [InlineData("mismatch-rule")]
    public void MismatchesAreReportedOnEveryRank(string scenario)
    {
        Dictionary<string, string>[] facts = Launch(2, scenario);
        Assert.All(facts, f => Assert.Equal("detected", f["mismatch"]));
    }

    [Fact]
    public void TheTrainingSampleTrainsDataParallelOnTwoRanksLikeOneProcess()
    {
        // The single-process sample loop (Trainer.Run, plain optimizer, whole batch on one process) is the reference.
        double reference = OptGen.Samples.Training.Trainer.Run(OptGen.Samples.Training.Trainer.Problems()[0], OptGen.Samples.Training.Trainer.Choices[0], 200, seed: 42).FinalLoss;
        Dictionary<string, string>[] facts = Launch(2, "mlp");
        Assert.All(facts, f => Assert.Equal(facts[0]["loss"], f["loss"]));
        double loss = double.Parse(facts[0]["loss"], CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(loss - reference) <= 1e-4 * reference, $"2 ranks: {loss:R}, one process: {reference:R}");
        Assert.All(facts, f => Assert.True(2 * long.Parse(f["state_bytes"], CultureInfo.InvariantCulture) <= long.Parse(f["single_state_bytes"], CultureInfo.InvariantCulture) + 256));
        output.WriteLine($"spirals/Adam 200 steps: 2 ranks {loss:R}, one process {reference:R}");
    }

    [Fact]
    public void ARankThatDiesEndsTheWholeJobInsteadOfHangingTheOthers()
    {
        // The other ranks wait in the step's reduce-scatter; the failing rank's unhandled exception calls MPI_Abort
        // (MpiCommunicator's handler), which ends every process, so the run ends (non-zero) before the timeout.
        (int exitCode, string text) = Run(3, "die", Path.GetTempPath());
        Assert.NotEqual(0, exitCode);
        Assert.Contains("Rank 2: unhandled exception; aborting the MPI job", text, StringComparison.Ordinal);
        output.WriteLine(text);
    }

    /// <summary>Runs <paramref name="scenario"/> on <paramref name="ranks"/> processes and returns each rank's facts.</summary>
    private Dictionary<string, string>[] Launch(int ranks, string scenario)
    {
        string directory = Directory.CreateTempSubdirectory("optgen-mpi-").FullName;
        (int exitCode, string text) = Run(ranks, scenario, directory);
        Assert.True(exitCode == 0, $"mpirun -np {ranks} {scenario} exited with {exitCode}.\n{text}");

        var facts = new Dictionary<string, string>[ranks];
        for (int r = 0; r < ranks; r++)
        {
            string file = Path.Combine(directory, $"rank{r}.txt");
            Assert.True(File.Exists(file), $"rank {r} wrote no facts.\n{text}");
            facts[r] = File.ReadAllLines(file).Select(line => line.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
        }

        Directory.Delete(directory, recursive: true);
        Assert.All(facts, f => Assert.NotEmpty(f));
        return facts;
    }

    /// <summary>Starts mpirun on this assembly's worker; kills it and fails after <see cref="Timeout"/>.</summary>
    private static (int ExitCode, string Output) Run(int ranks, string scenario, string directory)
    {
        string worker = typeof(Program).Assembly.Location;
        var start = new ProcessStartInfo("mpirun")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[]
        {
            "--oversubscribe", "--allow-run-as-root", "-np", ranks.ToString(CultureInfo.InvariantCulture),
            // Shared memory between the processes of this machine, without the kernel's cross-memory attach (often
            // not permitted in containers).
            "--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none",
            "dotnet", worker, scenario, directory,
        })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TERM"] = "dumb";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("mpirun did not start.");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"mpirun -np {ranks} {scenario} did not finish in {Timeout.TotalSeconds} s.\n{stdout.Result}\n{stderr.Result}");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
