using System;
using System.IO;
using System.Linq;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Carried host scalars (NAdam's Πμ) through the multi-tensor engine and checkpoints: advanced once per step per
/// group (not once per tensor), and saved and restored with the state.
/// </summary>
public sealed class HostStateIntegrationTests
{
    private static float[] Data(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
    }

    [Fact]
    public void ManyTensorsMatchOneOptimizerPerTensor()
    {
        int[] lengths = [37, 100, 5];
        var set = new NAdam(new ParameterLayout(lengths)) { LearningRate = 1e-2 };
        NAdam[] singles = lengths.Select(n => new NAdam(n) { LearningRate = 1e-2 }).ToArray();
        float[][] p = lengths.Select((n, j) => Data(n, j)).ToArray();
        float[][] q = p.Select(a => (float[])a.Clone()).ToArray();
        for (int t = 1; t <= 20; t++)
        {
            float[][] g = lengths.Select((n, j) => Data(n, (100 * t) + j)).ToArray();
            set.Step(p.Select(a => new Memory<float>(a)).ToArray(), g.Select(a => new ReadOnlyMemory<float>(a)).ToArray());
            for (int j = 0; j < lengths.Length; j++)
            {
                singles[j].Step(q[j], g[j]);
            }
        }

        Assert.Equal(singles[0].MuProduct, set.MuProduct);
        for (int j = 0; j < lengths.Length; j++)
        {
            Assert.Equal(q[j], p[j]);
        }
    }

    [Fact]
    public void CheckpointRestoresTheCarriedProductBitForBit()
    {
        const int n = 50;
        float[] p = Data(n, 1);
        float[] resumedP = (float[])p.Clone();
        var uninterrupted = new NAdam(n) { LearningRate = 1e-2 };
        var stream = new MemoryStream();
        for (int t = 1; t <= 30; t++)
        {
            uninterrupted.Step(p, Data(n, 1000 + t));
            if (t == 12)
            {
                uninterrupted.SaveCheckpoint(stream);
                resumedP = (float[])p.Clone();
            }
        }

        var resumed = new NAdam(n) { LearningRate = 1e-2 };
        stream.Position = 0;
        resumed.LoadCheckpoint(stream);
        Assert.Equal(12, resumed.StepCount);
        for (int t = 13; t <= 30; t++)
        {
            resumed.Step(resumedP, Data(n, 1000 + t));
        }

        Assert.Equal(uninterrupted.MuProduct, resumed.MuProduct);
        Assert.Equal(p, resumedP);
    }
}
