using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// A rule with compact state (Adafactor's row and column factors, Adam-mini's per-block v) keeps one precision for
/// every group. A valid-CRC format-v2 file that claims a precision per group for it (crafted from its own uniform
/// checkpoint: version 2, flag bit 3, a precision byte in each group's layout entry, the size recomputed) is refused
/// as a checkpoint error with nothing changed, whatever the precisions claimed.
/// </summary>
public sealed class CompactStatePerGroupCraftTests
{
    private static byte[] Save(Optimizer optimizer)
    {
        using var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }

    /// <summary><paramref name="bytes"/> as format v2 with <paramref name="precisions"/> (one byte per group) and a true size and CRC.</summary>
    private static byte[] AsPerGroup(byte[] bytes, Optimizer optimizer, byte[] precisions)
    {
        int at = 24;
        int Skip(int count) => at += count;
        int ReadString() => Skip(4 + BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at)));
        ReadString();
        ReadString();
        Skip(8);
        for (int list = 0; list < 2; list++)
        {
            int count = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at));
            Skip(4);
            for (int i = 0; i < count; i++)
            {
                ReadString();
            }
        }

        Skip(4);
        var output = new List<byte>(bytes[..at]);
        for (int k = 0; k < optimizer.Layout.GroupCount; k++)
        {
            int tensors = optimizer.Layout.TensorCountOf(k);
            output.AddRange(bytes.AsSpan(at, 4).ToArray());
            output.Add(precisions[k]);
            output.AddRange(bytes.AsSpan(at + 4, 4 * tensors).ToArray());
            at += 4 + (4 * tensors);
        }

        output.AddRange(bytes.AsSpan(at).ToArray());
        byte[] result = output.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(8), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(12), BinaryPrimitives.ReadUInt32LittleEndian(result.AsSpan(12)) | 8);
        BinaryPrimitives.WriteInt64LittleEndian(result.AsSpan(16), result.Length);
        CheckpointImage.Reseal(result);
        return result;
    }

    public static TheoryData<string, byte, byte> Claims() => new()
    {
        { "Adafactor", 0, 1 }, { "Adafactor", 1, 0 }, { "Adafactor", 0, 2 }, { "Adafactor", 3, 0 },
        { "Adam-mini", 0, 1 }, { "Adam-mini", 2, 3 }, { "Adam-mini bfloat16", 1, 0 }, { "Adam-mini bfloat16", 1, 2 },
    };

    [Theory]
    [MemberData(nameof(Claims))]
    public void APerGroupFileForCompactStateIsRefusedAndChangesNothing(string rule, byte first, byte second)
    {
        Optimizer Make()
        {
            ParameterLayout layout = ParameterLayout.FromShapes([[6, 5], [7]], [[3, 4]]);
            Optimizer optimizer = rule.StartsWith("Adafactor", StringComparison.Ordinal) ? new Adafactor(layout) : new AdamMini(layout) { BlockSize = 4 };
            if (rule.EndsWith("bfloat16", StringComparison.Ordinal))
            {
                optimizer.ChangeStatePrecision(StatePrecision.BFloat16);
            }

            var random = new Random(2);
            float[] p = Random(random, optimizer.Length);
            for (int t = 0; t < 3; t++)
            {
                optimizer.Step(p, Random(random, optimizer.Length, 0.1));
            }

            return optimizer;
        }

        Optimizer source = Make(), target = Make();
        byte[] crafted = AsPerGroup(Save(source), source, [first, second]);
        byte[] before = Save(target);
        CheckpointException e = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new MemoryStream(crafted)));
        Assert.True(e.Error is CheckpointError.Corrupted or CheckpointError.WrongShape, $"{e.Error}/{e.Field}: {e.Message}");
        Assert.Equal(before, Save(target));
    }
}
