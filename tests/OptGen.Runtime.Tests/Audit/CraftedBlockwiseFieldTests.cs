using System;
using System.IO;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// A 4-bit checkpoint of a tensor of odd length (4097: 2049 code bytes, the last one's low nibble unused; 33 blocks of
/// 128) with single fields crafted and the CRC recomputed, so the loader's semantic checks are what is tested. A block
/// scale below zero is refused by name with nothing changed; NaN and +∞ (what a diverged run writes, as float32 state
/// keeps its NaNs), −0 and the unused nibble load and save back byte for byte.
/// </summary>
public sealed class CraftedBlockwiseFieldTests
{
    private const int Length = 4097;
    private const int CodeBytes = 2049;
    private const int AbsmaxBytes = 33 * sizeof(float);

    private static Adam Create()
    {
        var adam = new Adam(Length);
        adam.ChangeStatePrecision(StatePrecision.Int4Blockwise);
        return adam;
    }

    private static Adam Trained(int seed)
    {
        Adam adam = Create();
        var random = new Random(seed);
        float[] p = Random(random, Length);
        for (int t = 0; t < 3; t++)
        {
            adam.Step(p, Random(random, Length, 0.1));
        }

        return adam;
    }

    private static byte[] Save(Optimizer optimizer)
    {
        using var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }

    private static readonly byte[] Good = Save(Trained(1));

    // The state is last: per buffer (m signed, v unsigned), the codes then the absmax; then the CRC.
    private static int AbsmaxOfV => Good.Length - 4 - AbsmaxBytes;

    private static int AbsmaxOfM => AbsmaxOfV - CodeBytes - AbsmaxBytes;

    private static int SignednessBytes => AbsmaxOfM - CodeBytes - 2;

    private static byte[] Crafted(Action<byte[]> change)
    {
        byte[] bytes = (byte[])Good.Clone();
        change(bytes);
        CheckpointImage.Reseal(bytes);
        return bytes;
    }

    private static Action<byte[]> Absmax(int offset, float value) => b => BitConverter.TryWriteBytes(b.AsSpan(offset), value);

    public static TheoryData<string, float> NegativeScales() => new()
    {
        { "m", -1f }, { "m", float.NegativeInfinity }, { "v", -float.Epsilon }, { "v", -3e38f },
    };

    [Theory]
    [MemberData(nameof(NegativeScales))]
    public void ANegativeBlockScaleIsRefusedByNameAndChangesNothing(string buffer, float value)
    {
        Adam target = Trained(2);
        byte[] before = Save(target);
        byte[] bytes = Crafted(Absmax((buffer == "m" ? AbsmaxOfM : AbsmaxOfV) + (4 * 7), value));
        CheckpointException e = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new MemoryStream(bytes)));
        Assert.Equal((CheckpointError.Corrupted, "absmax"), (e.Error, e.Field));
        Assert.Contains("block 7 of tensor 0", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Save(target));
    }

    [Fact]
    public void ACheckpointWhoseMapsAreSwappedIsRefusedAndChangesNothing()
    {
        Adam target = Trained(2);
        byte[] before = Save(target);
        byte[] bytes = Crafted(b => b[SignednessBytes] ^= 1);
        Assert.Equal("signedness", Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new MemoryStream(bytes))).Field);
        Assert.Equal(before, Save(target));
    }

    [Fact]
    public void ScalesADivergedRunWritesAndTheUnusedNibbleLoadExactly()
    {
        // A run whose gradient had a NaN and an ∞ in other blocks writes NaN and +∞ scales: they must load.
        Adam diverged = Create();
        float[] p = Random(new Random(3), Length);
        float[] g = Random(new Random(4), Length, 0.1);
        g[5] = float.NaN;
        g[300] = float.PositiveInfinity;
        diverged.Step(p, g);
        byte[] written = Save(diverged);
        Assert.True(float.IsNaN(BitConverter.ToSingle(written, AbsmaxOfM)), "block 0 of m");
        Assert.Equal(float.PositiveInfinity, BitConverter.ToSingle(written, AbsmaxOfM + (4 * 2)));

        foreach (byte[] bytes in new[]
        {
            written,
            Crafted(Absmax(AbsmaxOfM + 8, float.NaN)),
            Crafted(Absmax(AbsmaxOfV + 8, float.PositiveInfinity)),
            Crafted(Absmax(AbsmaxOfV + 8, -0f)),
            Crafted(b => b[AbsmaxOfM - 1] |= 0x0F), // the low nibble after element 4096 of m
        })
        {
            Adam target = Create();
            target.LoadCheckpoint(new MemoryStream(bytes));
            Assert.Equal(bytes, Save(target));
            float[] q = Random(new Random(5), Length);
            target.Step(q, Random(new Random(6), Length, 0.1));
        }
    }
}
