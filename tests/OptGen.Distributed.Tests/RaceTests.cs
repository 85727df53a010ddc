using System;
using System.Buffers;
using System.IO;
using System.Linq;
using OptGen.Distributed;
using OptGen.Runtime.Tests.Audit;
using Xunit;

namespace OptGen.Distributed.Tests;

/// <summary>
/// The sharded optimizer raced by another call: a buffer of the caller's per-tensor arrays swapped after the checks,
/// and a call on <see cref="ShardedOptimizer{TOptimizer}.Local"/> during <c>LoadCheckpoint</c> (made deterministic from
/// callbacks the load or step makes: a <see cref="MemoryManager{T}.Pin"/>, the optimizer factory).
/// </summary>
public class RaceTests
{
    private static readonly ParameterLayout Layout = new(new[] { 8, 5 });

    private static ShardedOptimizer<Adam> Create(ICommunicator c, Func<ParameterLayout, Adam>? create = null) =>
        new(c, Layout, create ?? (l => new Adam(l) { LearningRate = 0.1 }));

    [Theory]
    [InlineData("parameters")]
    [InlineData("gradients")]
    public void ABufferReplacedAfterTheChecksIsRefusedWithNothingWritten(string which)
    {
        ShardedOptimizer<Adam> sharded = Create(InProcessGroup.Create(1)[0]);
        float[] p0 = [1, 2, 3, 4, 5, 6, 7, 8], p1 = [1, 2, 3, 4, 5];
        float[] g0 = [.1f, .2f, .3f, .4f, .5f, .6f, .7f, .8f], g1 = [.1f, .2f, .3f, .4f, .5f];
        float[] neighbour = new float[64];
        Array.Fill(neighbour, 1234f);
        Memory<float>[] parameters = [default, p1];
        ReadOnlyMemory<float>[] gradients = [g0, g1];
        using var first = new CallbackMemory(p0, () =>
        {
            // Another thread's write to the caller's arrays, between the step's checks and its pinning.
            if (which == "parameters")
            {
                parameters[1] = neighbour.AsMemory(0, 2);
            }
            else
            {
                gradients[1] = neighbour.AsMemory(0, 2);
            }
        });
        parameters[0] = first.Memory;

        ArgumentException e = Assert.Throws<ArgumentException>(() => sharded.Step(parameters, gradients));
        Assert.Equal(which, e.ParamName);
        Assert.All(neighbour, v => Assert.Equal(1234f, v));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], p0);
        Assert.Equal([1, 2, 3, 4, 5], p1);
        Assert.Equal(0, sharded.Local.StepCount);
    }

    /// <summary>A checkpoint of two ranks after three steps, so loading it into one rank reads two shards.</summary>
    private static string SaveTwoRanks()
    {
        string directory = Directory.CreateTempSubdirectory("optgen-sharded-race-").FullName;
        InProcessTests.OnRanks(2, c =>
        {
            ShardedOptimizer<Adam> sharded = Create(c);
            var p = new float[Layout.TotalLength];
            var g = Enumerable.Range(0, Layout.TotalLength).Select(i => 0.01f * (i + 1) * (c.Rank + 1)).ToArray();
            for (int step = 0; step < 3; step++)
            {
                sharded.Step(p, g);
            }

            sharded.SaveCheckpoint(directory);
            return 0;
        });
        return directory;
    }

    [Fact]
    public void ACallOnLocalDuringTheLoadIsRefusedAndTheLoadCompletes()
    {
        string directory = SaveTwoRanks();
        try
        {
            bool loading = false;
            Exception? midLoad = null;
            bool called = false;
            ShardedOptimizer<Adam>? sharded = null;
            sharded = Create(InProcessGroup.Create(1)[0], l =>
            {
                if (loading && !called)
                {
                    // Another call on Local while the load is between its reads and its commit.
                    called = true;
                    midLoad = Record.Exception(() => sharded!.Local.Step(new float[Layout.TotalLength], new float[Layout.TotalLength]));
                }

                return new Adam(l) { LearningRate = 0.1 };
            });
            loading = true;
            sharded.LoadCheckpoint(directory);

            Assert.True(called);
            Assert.IsType<InvalidOperationException>(midLoad);
            Assert.Equal(3, sharded.Local.StepCount); // the checkpoint's, not 3 + the refused step
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void ARankWhoseLocalIsBusyMakesEveryRankRefuseWithNothingChanged()
    {
        string directory = SaveTwoRanks();
        try
        {
            var outcomes = InProcessTests.OnRanks(2, c =>
            {
                ShardedOptimizer<Adam> sharded = Create(c);
                Exception? load = null;
                if (c.Rank == 0)
                {
                    load = Record.Exception(() => sharded.LoadCheckpoint(directory));
                }
                else
                {
                    // Rank 1 loads from inside a step of its Local (the step holds Local's guard).
                    ParameterLayout local = sharded.Local.Layout;
                    float[] first = new float[local.LengthOf(0)];
                    using var memory = new CallbackMemory(first, () => load = Record.Exception(() => sharded.LoadCheckpoint(directory)));
                    Memory<float>[] parameters = Enumerable.Range(0, local.TensorCount).Select(j => j == 0 ? memory.Memory : new float[local.LengthOf(j)]).ToArray();
                    ReadOnlyMemory<float>[] gradients = Enumerable.Range(0, local.TensorCount).Select(j => (ReadOnlyMemory<float>)new float[local.LengthOf(j)]).ToArray();
                    sharded.Local.Step(parameters, gradients);
                }

                return (load, sharded.Local.StepCount, c.Rank);
            });

            foreach (var (load, steps, rank) in outcomes)
            {
                InvalidOperationException e = Assert.IsType<InvalidOperationException>(load);
                Assert.Contains("rank(s) 1", e.Message);
                Assert.Equal(rank == 0 ? 0L : 1L, (long)steps); // rank 1: its own step only, nothing loaded
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
