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

        // With R ≥ 3 Open MPI may add the ranks' gradients in another order than the reference (last-bit
        // differences), but always in the same order: a rerun gives the same bits.
        if (ranks >= 3)
        {
            Assert.Equal(facts[0]["parameters"], Launch(ranks, "train")[0]["parameters"]);
        }
        output.WriteLine($"R={ranks}: state bytes per rank {string.Join(", ", facts.Select(f => f["state_bytes"]))} of {facts[0]["single_state_bytes"]} on one process; max relative {facts.Max(f => double.Parse(f["max_relative"], CultureInfo.InvariantCulture))}");
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
        Assert.All(facts, f => Assert.True(2 * long.Parse(f["state_bytes"], CultureInfo.InvariantCulture) <= long.Parse(f["single_state_bytes"], CultureInfo.InvariantCulture) + 256 + (2 * 2 * Engine.ShardLayout.CutGranule * sizeof(float))));
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

    [Fact]
    public void SixteenBitStepsUnderMpirunMatchTheThreadedGroupAndAllocateNothing()
    {
        // The threaded group is bit-identical to one process on the averaged float16 gradient (PrecisionTests); with
        // R = 2 Open MPI's float32 sum of two terms is the same in either order, so mpirun must give the same bits.
        // The same for bfloat16 parameters rounded stochastically with bfloat16 state (PrecisionTests: one process's bits).
        Dictionary<string, string>[] facts = Launch(2, "half");
        Dictionary<string, string>[] threads = InProcessTests.OnRanks(2, Scenario.HalfSteps);
        Assert.All(facts, f => Assert.Equal(threads[0]["parameters"], f["parameters"]));
        Assert.All(facts, f => Assert.Equal(threads[0]["stochastic_parameters"], f["stochastic_parameters"]));
        Assert.All(facts, f => Assert.Equal("0", f["allocated_bytes"]));

        // float32 parameters in one buffer per tensor with bfloat16 gradients, clipped: the threaded group's bits
        // (SurfaceTests: the per-tensor overload gives the arena overload's bits), and no allocation either.
        Assert.All(facts, f => Assert.Equal(threads[0]["mixed_tensors_parameters"], f["mixed_tensors_parameters"]));
        Assert.All(facts, f => Assert.Equal("0", f["mixed_tensors_allocated_bytes"]));
    }

    [Theory]
    [InlineData(StatePrecision.Float32)]
    [InlineData(StatePrecision.BFloat16)]
    public void ACheckpointSavedByTwoRanksReshardsToThreeRanksAndLoadsIntoOneProcessBitIdentical(StatePrecision precision)
    {
        string root = Directory.CreateTempSubdirectory("optgen-mpi-ckpt-").FullName;
        try
        {
            string two = Path.Combine(root, "r2"), three = Path.Combine(root, "r3"), one = Path.Combine(root, "r1");
            string state = precision.ToString();
            Assert.All(Launch(2, "ckpt-save", two, state), f => Assert.Equal("10", f["step_count"]));
            Assert.All(Launch(3, "ckpt-load", two, three, state), f => Assert.Equal(("ok", "10"), (f["load"], f["step_count"])));

            // The independent reference: one plain Adam (state in the same precision) stepping on the rank-order
            // float32 sum of both ranks' gradients with factor 1/2 (at R = 2 the sharded step is bit-identical to it,
            // MpiTests above and PrecisionTests).
            Adam reference = Scenario.Create(Scenario.Model());
            if (precision != StatePrecision.Float32)
            {
                reference.ChangeStatePrecision(precision);
            }

            int n = reference.Layout.TotalLength;
            var parameters = new float[n];
            var sum = new float[n];
            var other = new float[n];
            Scenario.InitialParameters(parameters);
            for (int step = 1; step <= Scenario.CheckpointSteps; step++)
            {
                Scenario.SumOfRanks(2, step, sum, other);
                reference.Step(parameters, sum, new StepOptions { GradientScale = 0.5 });
            }

            float[][] expected = Scenario.State(reference);
            Assert.Contains(expected[1], v => v != 0);

            // Both the 2-rank checkpoint and the 3-rank one written after resharding load into one process (a
            // 1-member group, whose Local is the whole model's optimizer) with every state value bit-identical.
            foreach (string directory in new[] { two, three })
            {
                ShardedOptimizer<Adam> single = InProcessTests.OnRanks(1, c =>
                {
                    ShardedOptimizer<Adam> sharded = Scenario.Sharded(c, precision);
                    sharded.LoadCheckpoint(directory);
                    sharded.SaveCheckpoint(one);
                    return sharded;
                })[0];
                Assert.Equal(Scenario.CheckpointSteps, single.Local.StepCount);
                Assert.Equal(expected, Scenario.State(single.Local));
            }

            // R = 1's shard is an ordinary checkpoint: a plain Adam loads it, state bit-identical to the reference.
            Adam plain = Scenario.Create(Scenario.Model());
            if (precision != StatePrecision.Float32)
            {
                plain.ChangeStatePrecision(precision);
            }

            plain.LoadCheckpoint(Path.Combine(one, "shard-0-of-1.ckpt"));
            Assert.Equal(expected, Scenario.State(plain));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void AShardThatFailsToLoadOnOneRankUnderMpirunFailsTheLoadOnEveryRank()
    {
        string root = Directory.CreateTempSubdirectory("optgen-mpi-ckpt-").FullName;
        try
        {
            string two = Path.Combine(root, "r2");
            Launch(2, "ckpt-save", two, "Float32");
            string file = Path.Combine(two, "shard-1-of-2.ckpt");
            byte[] bytes = File.ReadAllBytes(file);
            bytes[bytes.Length / 2] ^= 0x40;
            File.WriteAllBytes(file, bytes);

            // Loading with R = 3: only the ranks whose new shard overlaps old shard 1 read the corrupted file; every
            // rank must fail all the same, name those ranks, and keep its fresh state (step count 0).
            Dictionary<string, string>[] facts = Launch(3, "ckpt-load", two, Path.Combine(root, "unused"), "Float32");
            int[] oldCuts = Engine.ShardLayout.Cuts(Scenario.Model(), 2), newCuts = Engine.ShardLayout.Cuts(Scenario.Model(), 3);
            int[] readers = Enumerable.Range(0, 3).Where(r => newCuts[r] < oldCuts[2] && newCuts[r + 1] > oldCuts[1]).ToArray();
            Assert.InRange(readers.Length, 1, 2); // so some rank fails only through the others' report
            string named = $"failed on rank(s) {string.Join(", ", readers)};";
            for (int r = 0; r < 3; r++)
            {
                Assert.Contains(named, facts[r]["load"], StringComparison.Ordinal);
                Assert.Equal(readers.Contains(r), facts[r]["load"].Contains("This rank:", StringComparison.Ordinal));
                Assert.Equal("0", facts[r]["step_count"]);
            }

            Assert.False(Directory.Exists(Path.Combine(root, "unused")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Runs <paramref name="scenario"/> on <paramref name="ranks"/> processes and returns each rank's facts.</summary>
    private Dictionary<string, string>[] Launch(int ranks, string scenario, params string[] arguments)
    {
        string directory = Directory.CreateTempSubdirectory("optgen-mpi-").FullName;
        (int exitCode, string text) = Run(ranks, scenario, directory, arguments);
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
    private static (int ExitCode, string Output) Run(int ranks, string scenario, string directory, params string[] arguments)
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
        }.Concat(arguments))
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
