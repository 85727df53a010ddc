using System;
using System.Buffers.Binary;
using System.IO;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>Misuse found in review: crafted checkpoints and bad arguments must be refused with the state unchanged.</summary>
public sealed class ReviewHardeningTests
{
    [Theory]
    [InlineData(StatePrecision.Int8Blockwise)]
    [InlineData(StatePrecision.Int4Blockwise)]
    public void BlockwiseCheckpointWithANegativeAbsmaxIsCorrupted(StatePrecision precision)
    {
        var random = new Random(5);
        const int length = 10_000;
        float[] p = Random(random, length, 0.1);
        var saved = new Adam(length) { LearningRate = 1e-2 };
        saved.ChangeStatePrecision(precision);
        saved.Step(p, Random(random, length, 0.01));
        var stream = new MemoryStream();
        saved.SaveCheckpoint(stream);

        // The last float before the checksum is the last absmax of the last buffer (the second moment, unsigned map).
        byte[] bytes = stream.ToArray();
        Span<byte> last = bytes.AsSpan(bytes.Length - 8, 4);
        Assert.True(BinaryPrimitives.ReadSingleLittleEndian(last) > 0);
        BinaryPrimitives.WriteSingleLittleEndian(last, -BinaryPrimitives.ReadSingleLittleEndian(last));
        CheckpointImage.Reseal(bytes);

        var target = new Adam(length);
        target.ChangeStatePrecision(precision);
        var before = new MemoryStream();
        target.SaveCheckpoint(before);
        CheckpointException error = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new MemoryStream(bytes)));
        Assert.Equal(CheckpointError.Corrupted, error.Error);
        var after = new MemoryStream();
        target.SaveCheckpoint(after);
        Assert.Equal(before.ToArray(), after.ToArray());
    }

    [Fact]
    public void ScheduleFreeInEvalModeRefusesToReplaceTheKeptParameters()
    {
        var random = new Random(9);
        const int length = 50;
        float[] p = Random(random, length);
        var optimizer = new AdamWScheduleFree(length);
        for (int t = 0; t < 3; t++)
        {
            optimizer.Step(p, Random(random, length));
        }

        var checkpoint = new MemoryStream();
        optimizer.SaveCheckpoint(checkpoint);
        float[] y = (float[])p.Clone();
        optimizer.Eval(p);
        float[] x = (float[])p.Clone();

        // Each of these would replace the y that Train gives back (a loaded train-mode checkpoint holds no y).
        Assert.Throws<InvalidOperationException>(() => optimizer.LoadCheckpoint(new MemoryStream(checkpoint.ToArray())));
        Assert.Throws<InvalidOperationException>(optimizer.Reset);
        Assert.Throws<InvalidOperationException>(() => optimizer.ChangeStatePrecision(StatePrecision.BFloat16));
        Assert.Equal(StatePrecision.Float32, optimizer.StatePrecision);
        Assert.Equal(3, optimizer.StepCount);
        Assert.Equal(x, p);

        optimizer.Train(p);
        Assert.Equal(y, p);
        optimizer.LoadCheckpoint(new MemoryStream(checkpoint.ToArray()));
        optimizer.Reset();
    }

    [Fact]
    public void ScheduleFreeEvalWithBeta1ZeroIsRefusedBeforeWriting()
    {
        var layout = new ParameterLayout([20], [30]);
        var random = new Random(3);
        float[] p = Random(random, layout.TotalLength);
        var optimizer = new AdamWScheduleFree(layout);
        optimizer.Groups[1]["Beta1"] = 0;
        optimizer.Step(p, Random(random, layout.TotalLength));
        float[] y = (float[])p.Clone();
        ArgumentOutOfRangeException error = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.Eval(p));
        Assert.Equal("Beta1", error.ParamName);
        Assert.Equal(y, p);
        Assert.False(optimizer.IsEvalMode);
    }
}
