using System.IO;
using Xunit;

namespace OptGen.Distributed.Tests;

/// <summary>What a single-process checkpoint restores, a sharded one restores too.</summary>
public class ReviewCheckpointTests
{
    [Fact]
    public void AShardedCheckpointRestoresTheBatchSize()
    {
        string root = Directory.CreateTempSubdirectory("optgen-sharded-batch-").FullName;
        try
        {
            InProcessTests.OnRanks(2, c =>
            {
                ShardedOptimizer<Adam> sharded = Scenario.Sharded(c, StatePrecision.Float32);
                sharded.Local.BatchSize = 8;
                var p = new float[sharded.Layout.TotalLength];
                var g = new float[p.Length];
                Scenario.Gradient(c.Rank, 1, g);
                sharded.Step(p, g);
                sharded.SaveCheckpoint(root);
                return sharded;
            });

            ShardedOptimizer<Adam>[] three = InProcessTests.OnRanks(3, c =>
            {
                ShardedOptimizer<Adam> sharded = Scenario.Sharded(c, StatePrecision.Float32);
                sharded.LoadCheckpoint(root);
                return sharded;
            });

            foreach (ShardedOptimizer<Adam> rank in three)
            {
                Assert.Equal(1, rank.Local.StepCount);
                Assert.Equal(8, rank.Local.BatchSize);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
