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

    [Theory]
    [InlineData(StatePrecision.Float32)]
    [InlineData(StatePrecision.BFloat16)]
    [InlineData(StatePrecision.Int8Blockwise)]
    [InlineData(StatePrecision.Int4Blockwise)]
    public void ACheckpointOfThreeRanksLoadsIntoOneAndTwoRanksAndIntoAPlainOptimizer(StatePrecision precision)
    {
        // 8-bit and 4-bit state: codes and absmax move between shards in whole blocks (cuts on block boundaries).
        ParameterLayout model = precision is StatePrecision.Int8Blockwise or StatePrecision.Int4Blockwise ? Scenario.BlockwiseModel() : Scenario.Model();
        string root = Directory.CreateTempSubdirectory("optgen-sharded-").FullName;
        try
        {
            // The independent reference: one plain Adam (state in the same precision) on the rank-order float32 sum of
            // three ranks' gradients with factor 1/3 for ten steps (the in-process group sums in rank order).
            ParameterLayout layout = model;
            Adam reference = Scenario.Create(layout);
            if (precision != StatePrecision.Float32)
            {
                reference.ChangeStatePrecision(precision);
            }

            var parameters = new float[layout.TotalLength];
            var sum = new float[parameters.Length];
            var scratch = new float[parameters.Length];
            for (int step = 1; step <= 10; step++)
            {
                Scenario.SumOfRanks(3, step, sum, scratch);
                reference.Step(parameters, sum, new StepOptions { GradientScale = 1.0 / 3 });
            }

            float[][] expected = Scenario.State(reference);
            Assert.Contains(expected[0], v => v != 0);

            // Ten steps at R = 3, saved.
            ShardedOptimizer<Adam>[] three = InProcessTests.OnRanks(3, c =>
            {
                ShardedOptimizer<Adam> sharded = Scenario.Sharded(c, precision, model);
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
            Assert.Equal(expected, FullState(three));
            Assert.Contains($"state={precision}", File.ReadAllText(Path.Combine(root, "r3", "manifest.txt")), StringComparison.Ordinal);

            // Into one process (R = 1), and saved again from there.
            ShardedOptimizer<Adam>[] one = InProcessTests.OnRanks(1, c =>
            {
                ShardedOptimizer<Adam> sharded = Scenario.Sharded(c, precision, model);
                sharded.LoadCheckpoint(Path.Combine(root, "r3"));
                sharded.SaveCheckpoint(Path.Combine(root, "r1"));
                return sharded;
            });
            Assert.Equal(expected, FullState(one));
            Assert.Equal(10, one[0].Local.StepCount);

            // The R = 1 shard file is an ordinary checkpoint of the whole model.
            Adam plain = Scenario.Create(layout);
            if (precision != StatePrecision.Float32)
            {
                plain.ChangeStatePrecision(precision);
            }

            plain.LoadCheckpoint(Path.Combine(root, "r1", "shard-0-of-1.ckpt"));
            Assert.Equal(10, plain.StepCount);
            Assert.Equal(expected, Scenario.State(plain));

            // From one process into two ranks, which then train on as one process would.
            float[][] continued = InProcessTests.OnRanks(2, c =>
            {
                ShardedOptimizer<Adam> sharded = Scenario.Sharded(c, precision, model);
                sharded.LoadCheckpoint(Path.Combine(root, "r1"));
                Assert.Equal(10, sharded.Local.StepCount);
                Assert.Equal(three[0].Local.Groups[1]["LearningRate"], sharded.Local.Groups[1]["LearningRate"]);
                float[] p = (float[])parameters.Clone();
                var g = new float[p.Length];
                for (int step = 11; step <= 13; step++)
                {
                    Scenario.Gradient(c.Rank, step, g);
                    sharded.Step(p, g);
                }

                return p;
            });
            for (int step = 11; step <= 13; step++)
            {
                Scenario.SumOfRanks(2, step, sum, scratch);
                reference.Step(parameters, sum, new StepOptions { GradientScale = 0.5 });
            }

            Assert.All(continued, p => Assert.Equal(parameters, p));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void MismatchedMissingOrDamagedCheckpointsFailOnEveryRankWithTheirReason()
    {
        string root = Directory.CreateTempSubdirectory("optgen-sharded-").FullName;
        try
        {
            string saved = Path.Combine(root, "r2");
            InProcessTests.OnRanks(2, c =>
            {
                ShardedOptimizer<Adam> sharded = Scenario.Sharded(c, StatePrecision.Float32);
                var p = new float[sharded.Layout.TotalLength];
                var g = new float[p.Length];
                Scenario.Gradient(c.Rank, 1, g);
                sharded.Step(p, g);
                sharded.SaveCheckpoint(saved);
                return 0;
            });

            static ShardedOptimizer<Adam> Float32(ICommunicator c) => Scenario.Sharded(c, StatePrecision.Float32);

            // Loads with R = 3, every rank: the same error kind, the failing ranks named, nothing loaded.
            void Fails<T>(string directory, CheckpointError error, string words, Func<ICommunicator, ShardedOptimizer<T>> create)
                where T : Optimizer
            {
                var outcomes = InProcessTests.OnRanks(3, c =>
                {
                    ShardedOptimizer<T> sharded = create(c);
                    CheckpointException e = Assert.Throws<CheckpointException>(() => sharded.LoadCheckpoint(directory));
                    return (e.Error, e.Message, sharded.Local.StepCount);
                });
                Assert.All(outcomes, o => Assert.Equal(error, o.Error));
                Assert.All(outcomes, o => Assert.Contains("failed on rank(s) ", o.Message, StringComparison.Ordinal));
                Assert.All(outcomes, o => Assert.Equal(0, o.StepCount));
                Assert.Contains(outcomes, o => o.Message.Contains(words, StringComparison.Ordinal));
            }

            Fails(saved, CheckpointError.WrongShape, "Call Local.ChangeStatePrecision first", c => Scenario.Sharded(c, StatePrecision.BFloat16));
            Fails(saved, CheckpointError.WrongShape, "is not this model's", c => Scenario.Sharded(c, StatePrecision.Float32, new ParameterLayout(new[] { 1000, 37, 3 }, new[] { 515, 2048, 2 })));
            Fails(saved, CheckpointError.WrongRule, "The checkpoint is of rule", c => new ShardedOptimizer<Sgd>(c, Scenario.Model(), l => new Sgd(l)));
            Fails(Path.Combine(root, "nothing"), CheckpointError.NotACheckpoint, "holds no manifest.txt", Float32);

            string manifest = Path.Combine(saved, "manifest.txt");
            string text = File.ReadAllText(manifest);
            File.WriteAllText(manifest, text.Replace("cuts=0,", "cuts=0,1", StringComparison.Ordinal));
            Fails(saved, CheckpointError.Corrupted, "fails its checksum", Float32);
            File.WriteAllText(manifest, text.Replace("optgen-sharded-checkpoint 2", "optgen-sharded-checkpoint 3", StringComparison.Ordinal));
            Fails(saved, CheckpointError.UnsupportedVersion, "this build reads versions 1 and 2", Float32);

            // A version-1 manifest (no state line, float32 state, no checksum) still loads.
            string[] version1 = text.Split('\n').Where(l => !l.StartsWith("state=", StringComparison.Ordinal) && !l.StartsWith("checksum=", StringComparison.Ordinal)).ToArray();
            File.WriteAllText(manifest, string.Join('\n', version1).Replace("optgen-sharded-checkpoint 2", "optgen-sharded-checkpoint 1", StringComparison.Ordinal));
            Assert.All(InProcessTests.OnRanks(3, c =>
            {
                ShardedOptimizer<Adam> sharded = Float32(c);
                sharded.LoadCheckpoint(saved);
                return sharded.Local.StepCount;
            }), count => Assert.Equal(1, count));
            File.WriteAllText(manifest, text);

            // A missing shard: only the ranks whose shard overlaps it read it; all fail with its reason.
            File.Move(Path.Combine(saved, "shard-1-of-2.ckpt"), Path.Combine(root, "moved.ckpt"));
            Fails(saved, CheckpointError.Truncated, "shard-1-of-2.ckpt is missing", Float32);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void BlockwiseStateRefusesAManifestWhoseCutsSplitABlock()
    {
        string root = Directory.CreateTempSubdirectory("optgen-sharded-").FullName;
        try
        {
            ParameterLayout model = Scenario.BlockwiseModel();
            InProcessTests.OnRanks(2, c =>
            {
                ShardedOptimizer<Adam> sharded = Scenario.Sharded(c, StatePrecision.Int8Blockwise, model);
                var p = new float[model.TotalLength];
                var g = new float[p.Length];
                Scenario.Gradient(c.Rank, 1, g);
                sharded.Step(p, g);
                sharded.SaveCheckpoint(root);
                return 0;
            });

            // A version-1 manifest (no checksum) with the inner cut moved 16 elements: off a block boundary.
            string manifest = Path.Combine(root, "manifest.txt");
            string[] lines = File.ReadAllText(manifest).Split('\n').Where(l => !l.StartsWith("checksum=", StringComparison.Ordinal)).ToArray();
            int cut = Engine.ShardLayout.Cuts(model, 2)[1];
            lines = [.. lines.Select(l => l.StartsWith("cuts=", StringComparison.Ordinal) ? $"cuts=0,{cut - 16},{model.TotalLength}" : l.Replace("optgen-sharded-checkpoint 2", "optgen-sharded-checkpoint 1", StringComparison.Ordinal))];
            File.WriteAllText(manifest, string.Join('\n', lines));
            var outcomes = InProcessTests.OnRanks(2, c =>
            {
                ShardedOptimizer<Adam> sharded = Scenario.Sharded(c, StatePrecision.Int8Blockwise, model);
                CheckpointException e = Assert.Throws<CheckpointException>(() => sharded.LoadCheckpoint(root));
                return (e.Error, e.Message, sharded.Local.StepCount);
            });
            Assert.All(outcomes, o => Assert.Equal(CheckpointError.Corrupted, o.Error));
            Assert.All(outcomes, o => Assert.Contains("256-element boundaries", o.Message, StringComparison.Ordinal));
            Assert.All(outcomes, o => Assert.Equal(0, o.StepCount));
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
