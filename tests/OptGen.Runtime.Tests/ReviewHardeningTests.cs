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
}
