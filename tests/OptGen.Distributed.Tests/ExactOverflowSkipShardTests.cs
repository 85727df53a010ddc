using System;
using System.Linq;
using Xunit;

namespace OptGen.Distributed.Tests;

/// <summary>
/// The exact SkipNonFinite overflow test across shards: every rank decides on the largest summed gradient of every
/// shard (gathered with Σ g² in the step's one collective), so a shard whose own gradients are small still skips when
/// another shard's element overflows once scaled, and every rank steps when none does.
/// </summary>
public sealed class ExactOverflowSkipShardTests
{
    private const int Ranks = 3;

    /// <summary>GradientScale 6 over 3 ranks: the kernels multiply the summed shard gradients by float32(6/3) = 2.</summary>
    private const double Scale = 6;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EveryRankStepsAtTheEdgeAndSkipsOneFloatPastIt(bool past)
    {
        var layout = new ParameterLayout(new[] { 300 }, new[] { 500, 37 });
        float edge = float.MaxValue / 2;
        Assert.True(float.IsFinite(edge * 2) && float.IsInfinity(MathF.BitIncrement(edge) * 2));

        (bool Skipped, int ShardLength, float[] P)[] results = InProcessTests.OnRanks(Ranks, c =>
        {
            var sharded = new ShardedOptimizer<Sgd>(c, layout, l => new Sgd(l) { LearningRate = 1e-30 });
            float[] p = Enumerable.Range(0, layout.TotalLength).Select(i => i / 100f).ToArray();
            float[] g = new float[layout.TotalLength];
            if (c.Rank == 0)
            {
                // Only rank 0 contributes the large elements, so their sums are exact; one lies in each shard, and the
                // last (in rank 2's shard) is the one past the edge.
                g[10] = edge;
                g[450] = -edge;
                g[^2] = past ? MathF.BitIncrement(edge) : edge;
            }

            StepResult result = sharded.Step(p, g, new StepOptions { SkipNonFinite = true, GradientScale = Scale });
            return (result.Skipped, sharded.ShardLength, p);
        });

        Assert.All(results, r => Assert.True(r.ShardLength > 0));
        Assert.All(results, r => Assert.Equal(past, r.Skipped));
        float[] initial = Enumerable.Range(0, layout.TotalLength).Select(i => i / 100f).ToArray();
        foreach ((bool _, int _, float[] p) in results)
        {
            if (past)
            {
                Assert.Equal(initial, p);
                continue;
            }

            // p − η·2g: the edge elements move by ∓3.4·10⁸, the others stay.
            Assert.All(p, x => Assert.True(float.IsFinite(x)));
            Assert.Equal((float)(initial[10] - (1e-30 * 2.0 * edge)), p[10], 1e-6 * 3.5e8);
            Assert.Equal((float)(initial[450] + (1e-30 * 2.0 * edge)), p[450], 1e-6 * 3.5e8);
            Assert.Equal(initial[100], p[100]);
        }
    }
}
