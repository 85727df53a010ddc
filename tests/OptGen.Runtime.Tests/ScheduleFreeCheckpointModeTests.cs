using System;
using System.IO;
using System.Linq;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>
/// <see cref="AdamWScheduleFree"/>'s mode is part of its checkpoint (as <c>train_mode</c> is of schedule_free's state
/// dict): one saved in eval mode, where the parameters held x, loads in eval mode with the kept y, so Step refuses
/// until Train gives back y exactly. Before, it loaded in train mode and the next step trained from x.
/// </summary>
public sealed class ScheduleFreeCheckpointModeTests
{
    private static float[] Random(Random random, int length) =>
        Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();

    [Fact]
    public void ACheckpointSavedInEvalModeLoadsInEvalModeAndTrainGivesBackY()
    {
        var random = new Random(5);
        const int length = 50;
        float[] p = Random(random, length);
        var optimizer = new AdamWScheduleFree(length) { LearningRate = 0.01 };
        for (int t = 0; t < 3; t++)
        {
            optimizer.Step(p, Random(random, length));
        }

        float[] y = (float[])p.Clone();
        optimizer.Eval(p);
        float[] x = (float[])p.Clone();
        Assert.NotEqual(y, x);
        var checkpoint = new MemoryStream();
        optimizer.SaveCheckpoint(checkpoint);

        // The user's parameters saved with the checkpoint are x; a fresh optimizer in train mode loads it.
        var loaded = new AdamWScheduleFree(length) { LearningRate = 0.01 };
        loaded.LoadCheckpoint(new MemoryStream(checkpoint.ToArray()));
        Assert.True(loaded.IsEvalMode);
        float[] parameters = (float[])x.Clone();
        Assert.Throws<InvalidOperationException>(() => loaded.Step(parameters, new float[length]));
        Assert.Equal(x, parameters);
        loaded.Train(parameters);
        Assert.Equal(y, parameters);
        Assert.False(loaded.IsEvalMode);

        // A train-mode checkpoint loads in train mode (and into an optimizer back in train mode).
        var trainMode = new MemoryStream();
        loaded.SaveCheckpoint(trainMode);
        loaded.LoadCheckpoint(new MemoryStream(trainMode.ToArray()));
        Assert.False(loaded.IsEvalMode);
    }

    [Fact]
    public void OnlyTheEvalModeSetsTheFlagSoTrainModeFilesAreAsBefore()
    {
        var random = new Random(6);
        float[] p = Random(random, 20);
        var optimizer = new AdamWScheduleFree(20);
        optimizer.Step(p, Random(random, 20));
        var train = new MemoryStream();
        optimizer.SaveCheckpoint(train);
        optimizer.Eval(p);
        var eval = new MemoryStream();
        optimizer.SaveCheckpoint(eval);

        // Bytes 12..15 are the flags (after the 8-byte magic and the 4-byte version): bit 9 is the eval mode.
        uint trainFlags = BitConverter.ToUInt32(train.ToArray(), 12), evalFlags = BitConverter.ToUInt32(eval.ToArray(), 12);
        Assert.Equal(0u, trainFlags & (1u << 9));
        Assert.Equal(trainFlags | (1u << 9), evalFlags);
    }
}
