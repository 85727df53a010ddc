using System;
using System.IO;
using System.Linq;
using OptGen.Distributed;
using Xunit;

namespace OptGen.Distributed.Tests;

/// <summary>Sharded checkpoints: resharding across R, into and out of one process, and a failed shard on one rank.</summary>
public class CheckpointTests
{
    /// <summary>Every tensor's full state (every plane), joined from the ranks' shards in rank order.</summary>
    private static float[][] FullState(ShardedOptimizer<Adam>[] ranks)
    {
        ParameterLayout layout = ranks[0].Layout;
        return ranks[0].Local.Descriptor.States.Select(state => Enumerable.Range(0, layout.TensorCount).SelectMany(j => ranks.SelectMany(r =>
        {
            var part = new float[r.Local.Layout.LengthOf(j)];
            r.Local.CopyState(state.Name, j, part);
            return part;
        })).ToArray()).ToArray();
    }

    private static ShardedOptimizer<Adam>[] Fresh(int ranks) =>
        InProcessTests.OnRanks(ranks, c => new ShardedOptimizer<Adam>(c, Scenario.Model(), Scenario.Create));

    [Fact]
    public void ACheckpointOfThreeRanksLoadsIntoOneAndTwoRanksAndIntoAPlainOptimizer()
    {
        string root = Directory.CreateTempSubdirectory("optgen-sharded-").FullName;
        try
        {
            // Ten steps at R = 3, saved.
            ShardedOptimizer<Adam>[] three = InProcessTests.OnRanks(3, c =>
            {
                var sharded = new ShardedOptimizer<Adam>(c, Scenario.Model(), Scenario.Create);
                var p = new float[sharded.Layout.TotalLength];
                var g = new float[p.Length];
                for (int step = 1; step <= 10; step++)
                {
                    Scenario.Gradient(c.Rank, step, g);
                    sharded.Step(p, g);
                }

                sharded.SaveCheckpoint(Path.Combine(root, "r3"));
                return sharded;
            });
            float[][] expected = FullState(three);
            Assert.Contains(expected[0], v => v != 0);

            // Into one process (R = 1), and saved again from there.
            ShardedOptimizer<Adam>[] one = Fresh(1);
            InProcessTests.OnRanks(1, c => { one[0].LoadCheckpoint(Path.Combine(root, "r3")); one[0].SaveCheckpoint(Path.Combine(root, "r1")); return 0; });
            Assert.Equal(expected, FullState(one));
            Assert.Equal(10, one[0].Local.StepCount);

            // The R = 1 shard file is an ordinary checkpoint of the whole model.
            Adam plain = Scenario.Create(Scenario.Model());
            plain.LoadCheckpoint(Path.Combine(root, "r1", "shard-0-of-1.ckpt"));
            Assert.Equal(10, plain.StepCount);
            var m = new float[plain.Layout.LengthOf(4)];
            plain.CopyState(plain.Descriptor.States[0].Name, 4, m);
            Assert.Equal(expected[0].Skip(plain.Layout.ArenaOffsetOf(4)).Take(m.Length), m);

            // From one process into two ranks.
            ShardedOptimizer<Adam>[] two = InProcessTests.OnRanks(2, c =>
            {
                var sharded = new ShardedOptimizer<Adam>(c, Scenario.Model(), Scenario.Create);
                sharded.LoadCheckpoint(Path.Combine(root, "r1"));
                return sharded;
            });
            Assert.Equal(expected, FullState(two));
            Assert.All(two, r => Assert.Equal(10, r.Local.StepCount));
            Assert.All(two, r => Assert.Equal(three[0].Local.Groups[1]["LearningRate"], r.Local.Groups[1]["LearningRate"]));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void AShardThatFailsToLoadOnOneRankFailsTheLoadOnEveryRankAndChangesNothing()
    {
        string root = Directory.CreateTempSubdirectory("optgen-sharded-").FullName;
        try
        {
            InProcessTests.OnRanks(2, c =>
            {
                var sharded = new ShardedOptimizer<Adam>(c, Scenario.Model(), Scenario.Create);
                var p = new float[sharded.Layout.TotalLength];
                var g = new float[p.Length];
                Scenario.Gradient(c.Rank, 1, g);
                sharded.Step(p, g);
                sharded.SaveCheckpoint(root);
                return 0;
            });

            // Flip one byte in rank 1's shard: its checksum fails; rank 0's shard is intact.
            string file = Path.Combine(root, "shard-1-of-2.ckpt");
            byte[] bytes = File.ReadAllBytes(file);
            bytes[bytes.Length / 2] ^= 0x40;
            File.WriteAllBytes(file, bytes);

            var outcomes = InProcessTests.OnRanks(2, c =>
            {
                var sharded = new ShardedOptimizer<Adam>(c, Scenario.Model(), Scenario.Create);
                CheckpointException e = Assert.Throws<CheckpointException>(() => sharded.LoadCheckpoint(root));
                return (e.Message, sharded.Local.StepCount);
            });
            Assert.All(outcomes, o => Assert.Contains("failed on rank(s) 1;", o.Message, StringComparison.Ordinal));
            Assert.All(outcomes, o => Assert.Equal(0, o.StepCount));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
