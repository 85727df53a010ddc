using System;
using System.Buffers.Binary;
using System.IO;
using System.Linq;
using ILGPU;
using ILGPU.Runtime.CPU;
using OptGen.Gpu;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// State precision per parameter group (<see cref="ParameterGroup.StatePrecision"/>): an optimizer whose groups store
/// their state in float32, 8-bit, bfloat16 and 4-bit steps, converts and checkpoints each group exactly as a separate
/// optimizer of that one precision does (each uniform path is checked against float64 references in
/// StatePrecisionTests and BlockwiseStateTests), and misuse changes nothing.
/// </summary>
public sealed class GroupStatePrecisionTests
{
    // Per group: tensors above and below the blockwise threshold (4096), odd lengths for every SIMD tail, and a
    // tensor longer than one 16384-element piece.
    private static readonly int[][] Groups = [[5000, 33], [20_000, 1000, 4097], [3000, 17], [8197, 100]];

    private static readonly StatePrecision[] Precisions =
        [StatePrecision.Float32, StatePrecision.Int8Blockwise, StatePrecision.BFloat16, StatePrecision.Int4Blockwise];

    private static readonly double[] LearningRates = [1e-3, 2e-3, 5e-4, 3e-3];

    private static readonly string[] StateNames = ["FirstMoment", "SecondMoment"];

    [Fact]
    public void MixedGroupsStepAndConvertLikeSeparateOptimizersOfOnePrecision()
    {
        (Adam mixed, Adam[] separate) = Create(Precisions);
        mixed.MaxDegreeOfParallelism = 2;
        Assert.Equal(StatePrecision.Float32, mixed.StatePrecision);
        Assert.Equal(Precisions, mixed.Groups.Select(g => g.EffectiveStatePrecision));
        Assert.Equal(Precisions.Select(p => (StatePrecision?)(p == StatePrecision.Float32 ? null : p)), mixed.Groups.Select(g => g.StatePrecision));

        var random = new Random(5);
        float[] p = Random(random, mixed.Length);
        float[] q = (float[])p.Clone();
        for (int t = 1; t <= 12; t++)
        {
            float[] g = Random(random, mixed.Length, 0.1);
            mixed.Step(p, g);
            StepSeparately(separate, q, g);
            Assert.Equal(q, p);
            AssertSameState(separate, mixed, $"step {t}");
            if (t % 4 == 0)
            {
                // Rotate every group's precision (each group through every other one over the run), in both.
                for (int k = 0; k < Groups.Length; k++)
                {
                    StatePrecision next = Precisions[(Array.IndexOf(Precisions, mixed.StatePrecisionOf(k)) + 1) % Precisions.Length];
                    mixed.Groups[k].StatePrecision = next;
                    separate[k].ChangeStatePrecision(next);
                }

                AssertSameState(separate, mixed, $"after the conversion at step {t}");
            }
        }

        // The per-tensor overload and a thread count of 1 take the same path.
        mixed.MaxDegreeOfParallelism = 1;
        float[][] tensors = Split(p, mixed.Layout);
        float[] gradient = Random(random, mixed.Length, 0.1);
        mixed.Step(AsMemory(tensors), AsReadOnly(Split(gradient, mixed.Layout)));
        StepSeparately(separate, q, gradient);
        Assert.Equal(q, tensors.SelectMany(x => x));
        AssertSameState(separate, mixed, "per-tensor step");
    }

    [Fact]
    public void AGroupKeepsItsOwnPrecisionWhenTheOptimizersChanges()
    {
        var adam = new Adam(new ParameterLayout(Groups));
        adam.ChangeStatePrecision(StatePrecision.Int8Blockwise);
        adam.Groups[0].StatePrecision = StatePrecision.Float32;   // the embedding: 32-bit, as bnb's override_config
        adam.ChangeStatePrecision(StatePrecision.BFloat16);
        Assert.Equal([StatePrecision.Float32, .. Enumerable.Repeat(StatePrecision.BFloat16, 3)], adam.Groups.Select(g => g.EffectiveStatePrecision));
        adam.Groups[0].StatePrecision = null;
        Assert.Equal(Enumerable.Repeat(StatePrecision.BFloat16, 4), adam.Groups.Select(g => g.EffectiveStatePrecision));
        var bfloat16 = new Adam(new ParameterLayout(Groups));
        bfloat16.ChangeStatePrecision(StatePrecision.BFloat16);
        Assert.Equal(bfloat16.StateBytesPerParameter, adam.StateBytesPerParameter);

        // A group set to the optimizer's precision still has its own: it stays when the optimizer's changes.
        adam.Groups[2].StatePrecision = StatePrecision.BFloat16;
        adam.ChangeStatePrecision(StatePrecision.Float32);
        Assert.Equal(StatePrecision.BFloat16, adam.StatePrecisionOf(2));
        Assert.Equal(StatePrecision.Float32, adam.StatePrecisionOf(1));
    }

    [Fact]
    public void EveryConversionOfOneGroupLeavesTheOtherGroupsBitForBit()
    {
        var random = new Random(9);
        foreach (StatePrecision from in Precisions)
        {
            foreach (StatePrecision to in Precisions)
            {
                // Group 1 converts; groups 0, 2 and 3 hold the other precisions and must not move.
                StatePrecision[] precisions = [StatePrecision.Int4Blockwise, from, StatePrecision.BFloat16, StatePrecision.Int8Blockwise];
                (Adam mixed, Adam[] separate) = Create(precisions);
                float[] p = Random(random, mixed.Length);
                float[] q = (float[])p.Clone();
                for (int t = 0; t < 3; t++)
                {
                    float[] g = Random(random, mixed.Length, 0.1);
                    mixed.Step(p, g);
                    StepSeparately(separate, q, g);
                }

                float[][][] before = GroupStates(mixed);
                mixed.Groups[1].StatePrecision = to;
                separate[1].ChangeStatePrecision(to);
                float[][][] after = GroupStates(mixed);
                Assert.Equal(to, mixed.StatePrecisionOf(1));
                foreach (int k in new[] { 0, 2, 3 })
                {
                    AssertBitwiseEqual(before[k].SelectMany(x => x).ToArray(), after[k].SelectMany(x => x).ToArray(), $"{from} -> {to}: group {k}");
                }

                AssertSameState(separate, mixed, $"{from} -> {to}");
                if (to == StatePrecision.Float32 || from == to)
                {
                    // Widening is exact (and no change is no change).
                    AssertBitwiseEqual(before[1].SelectMany(x => x).ToArray(), after[1].SelectMany(x => x).ToArray(), $"{from} -> {to}: group 1");
                }
                else if (to == StatePrecision.BFloat16)
                {
                    Assert.Equal(before[1].SelectMany(x => x).Select(x => (float)(BFloat16)x), after[1].SelectMany(x => x));
                }
            }
        }
    }

    [Fact]
    public void StateBytesPerParameterCountsEachGroupInItsOwnPrecision()
    {
        (Adam mixed, _) = Create(Precisions);

        // Per tensor and state buffer: float32 4 bytes, bfloat16 2; 8-bit 1 byte + 4 per 256, 4-bit ½ byte + 4 per
        // 128, rounded up to whole blocks and bytes; below 4096 elements float32.
        double expected = 0;
        for (int k = 0; k < Groups.Length; k++)
        {
            foreach (int n in Groups[k])
            {
                expected += 2 * (Precisions[k] switch
                {
                    StatePrecision.BFloat16 => 2.0 * n,
                    StatePrecision.Int8Blockwise when n >= 4096 => n + (4.0 * Math.Ceiling(n / 256.0)),
                    StatePrecision.Int4Blockwise when n >= 4096 => Math.Ceiling(n / 2.0) + (4.0 * Math.Ceiling(n / 128.0)),
                    _ => 4.0 * n,
                });
            }
        }

        Assert.Equal(expected / mixed.Length, mixed.StateBytesPerParameter, 12);
    }

    [Fact]
    public void GetStateOfATensorIsAViewWhereItIsStoredInFloat32()
    {
        (Adam mixed, _) = Create(Precisions);
        var random = new Random(3);
        mixed.Step(Random(random, mixed.Length), Random(random, mixed.Length, 0.1));
        foreach (int j in new[] { 0, 1, 3, 4 })
        {
            // Group 0 (float32) and tensor 3 of the 8-bit group (below the threshold) are float32; 4 is quantized.
            float[] copy = new float[mixed.Layout.LengthOf(j)];
            mixed.CopyState("FirstMoment", j, copy);
            if (j == 4)
            {
                Assert.Throws<InvalidOperationException>(() => mixed.GetState("FirstMoment", j).ToArray());
                continue;
            }

            Assert.Equal(copy, mixed.GetState("FirstMoment", j).ToArray());
            Assert.Equal(copy.Length, mixed.StateLength("FirstMoment", j));
        }

        Assert.Throws<InvalidOperationException>(() => mixed.GetState("FirstMoment").ToArray());
    }

    [Fact]
    public void ResetKeepsEveryGroupsPrecision()
    {
        (Adam mixed, _) = Create(Precisions);
        var random = new Random(4);
        mixed.Step(Random(random, mixed.Length), Random(random, mixed.Length, 0.1));
        mixed.Reset();
        Assert.Equal(Precisions, mixed.Groups.Select(g => g.EffectiveStatePrecision));
        Assert.All(GroupStates(mixed).SelectMany(x => x).SelectMany(x => x), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void ACheckpointStoresEachGroupsPrecisionAndResumesBitIdentically()
    {
        (Adam mixed, Adam[] separate) = Create(Precisions);
        var random = new Random(6);
        float[] p = Random(random, mixed.Length);
        float[] q = (float[])p.Clone();
        for (int t = 0; t < 4; t++)
        {
            float[] g = Random(random, mixed.Length, 0.1);
            mixed.Step(p, g);
            StepSeparately(separate, q, g);
        }

        var stream = new MemoryStream();
        mixed.SaveCheckpoint(stream);
        byte[] bytes = stream.ToArray();

        // The format, read here from its definition: version 2, flag bit 3, a precision byte after each group's tensor count.
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12)));
        int at = GroupsOffset(bytes);
        Assert.Equal((uint)Groups.Length, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at)));
        at += 4;
        for (int k = 0; k < Groups.Length; k++)
        {
            Assert.Equal((uint)Groups[k].Length, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at)));
            Assert.Equal((byte)Precisions[k], bytes[at + 4]);
            at += 5 + (4 * Groups[k].Length);
        }

        (Adam loaded, _) = Create(Precisions);
        loaded.LoadCheckpoint(new MemoryStream(bytes));
        Assert.Equal(mixed.StepCount, loaded.StepCount);
        AssertSameState(separate, loaded, "loaded");
        var again = new MemoryStream();
        loaded.SaveCheckpoint(again);
        Assert.Equal(bytes, again.ToArray());

        float[] r = (float[])p.Clone();
        for (int t = 0; t < 3; t++)
        {
            float[] g = Random(random, mixed.Length, 0.1);
            mixed.Step(p, g);
            loaded.Step(r, g);
            StepSeparately(separate, q, g);
        }

        Assert.Equal(p, r);
        Assert.Equal(q, r);
        AssertSameState(separate, loaded, "resumed");
    }

    [Fact]
    public void ACheckpointOfOtherGroupPrecisionsIsRefusedAndNothingChanges()
    {
        (Adam mixed, _) = Create(Precisions);
        var random = new Random(8);
        mixed.Step(Random(random, mixed.Length), Random(random, mixed.Length, 0.1));
        var stream = new MemoryStream();
        mixed.SaveCheckpoint(stream);
        byte[] bytes = stream.ToArray();

        StatePrecision[] other = [StatePrecision.Float32, StatePrecision.Int8Blockwise, StatePrecision.Int4Blockwise, StatePrecision.BFloat16];
        (Adam target, _) = Create(other);
        target.Step(Random(random, target.Length), Random(random, target.Length, 0.1));
        float[][][] before = GroupStates(target);
        CheckpointException e = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new MemoryStream(bytes)));
        Assert.Equal(CheckpointError.WrongShape, e.Error);
        Assert.Contains("group 2", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, GroupStates(target));
        Assert.Equal(1, target.StepCount);

        // Uniform optimizers refuse it too, and a mixed optimizer refuses a uniform file, naming the group.
        var uniform = new Adam(new ParameterLayout(Groups));
        Assert.Equal(CheckpointError.WrongShape, Assert.Throws<CheckpointException>(() => uniform.LoadCheckpoint(new MemoryStream(bytes))).Error);
        var file = new MemoryStream();
        uniform.SaveCheckpoint(file);
        e = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new MemoryStream(file.ToArray())));
        Assert.Contains("group 1", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, GroupStates(target));
    }

    [Fact]
    public void CorruptOrCraftedPerGroupCheckpointsAreRefusedAndNothingChanges()
    {
        var lengths = new[] { new[] { 4096 }, new[] { 40 } };
        var saver = new Adam(new ParameterLayout(lengths));
        saver.Groups[0].StatePrecision = StatePrecision.Int4Blockwise;
        saver.Groups[1].StatePrecision = StatePrecision.BFloat16;
        var random = new Random(10);
        saver.Step(Random(random, saver.Length), Random(random, saver.Length, 0.1));
        var stream = new MemoryStream();
        saver.SaveCheckpoint(stream);
        byte[] bytes = stream.ToArray();

        var target = new Adam(new ParameterLayout(lengths));
        target.Groups[0].StatePrecision = StatePrecision.Int4Blockwise;
        target.Groups[1].StatePrecision = StatePrecision.BFloat16;
        float[][][] before = GroupStates(target);

        // Every byte flipped: a checkpoint exception (never a crash), and nothing changed.
        for (int i = 0; i < bytes.Length; i++)
        {
            byte[] corrupted = (byte[])bytes.Clone();
            corrupted[i] ^= 0x5A;
            CheckpointException e = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new MemoryStream(corrupted)));
            Assert.True(e.Error is CheckpointError.Corrupted or CheckpointError.Truncated or CheckpointError.UnsupportedVersion or CheckpointError.NotACheckpoint, $"byte {i}: {e.Error}: {e.Message}");
        }

        // Crafted with a valid CRC: a precision byte that is no StatePrecision, every group at one precision, the
        // per-group flag in a version-1 file.
        int group0 = GroupsOffset(bytes) + 4 + 4;
        Assert.Equal("group precision", Crafted(b => b[group0] = 9).Field);
        Assert.Equal("flags", Crafted(b => b[group0] = (byte)StatePrecision.BFloat16).Field);
        Assert.Equal("flags", Crafted(b => b[8] = 1).Field);
        Assert.Equal("flags", Crafted(b => b[12] |= 2).Field);
        Assert.Equal(before, GroupStates(target));
        Assert.Equal(0, target.StepCount);

        target.LoadCheckpoint(new MemoryStream(bytes));
        Assert.Equal(GroupStates(saver), GroupStates(target));

        CheckpointException Crafted(Action<byte[]> change)
        {
            byte[] crafted = (byte[])bytes.Clone();
            change(crafted);
            CheckpointImage.Reseal(crafted);
            var e = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new MemoryStream(crafted)));
            Assert.Equal(CheckpointError.Corrupted, e.Error);
            return e;
        }
    }

    [Theory]
    [MemberData(nameof(CheckpointFixtures.Names), MemberType = typeof(CheckpointFixtures))]
    public void AFileOfOnePrecisionIsWrittenByteForByteAsBefore(string name)
    {
        // The fixtures were written by an earlier build: loading one and saving it again gives the same bytes, also
        // when every group has its own precision equal to the file's while the optimizer's is another.
        string path = Path.Combine(CheckpointFixtures.Folder(), name + ".ckpt");
        byte[] old = File.ReadAllBytes(path);
        Optimizer optimizer = CheckpointFixtures.Create(name);
        optimizer.LoadCheckpoint(path);
        var saved = new MemoryStream();
        optimizer.SaveCheckpoint(saved);
        Assert.Equal(old, saved.ToArray());

        StatePrecision precision = optimizer.StatePrecision;
        optimizer.ChangeStatePrecision(precision == StatePrecision.Float32 ? StatePrecision.BFloat16 : StatePrecision.Float32);
        foreach (ParameterGroup group in optimizer.Groups)
        {
            group.StatePrecision = precision;
        }

        optimizer.LoadCheckpoint(path);
        saved = new MemoryStream();
        optimizer.SaveCheckpoint(saved);
        Assert.Equal(old, saved.ToArray());
    }

    [Fact]
    public void MisuseIsAnExceptionAndChangesNothing()
    {
        (Adam mixed, _) = Create(Precisions);
        var random = new Random(11);
        mixed.Step(Random(random, mixed.Length), Random(random, mixed.Length, 0.1));
        float[][][] before = GroupStates(mixed);

        Assert.Equal("value", Assert.Throws<ArgumentOutOfRangeException>(() => mixed.Groups[1].StatePrecision = (StatePrecision)7).ParamName);
        Assert.Equal("precision", Assert.Throws<ArgumentOutOfRangeException>(() => mixed.ChangeStatePrecision((StatePrecision)(-1))).ParamName);
        Assert.Equal("group", Assert.Throws<ArgumentOutOfRangeException>(() => mixed.StatePrecisionOf(Groups.Length)).ParamName);
        Assert.Equal("group", Assert.Throws<ArgumentOutOfRangeException>(() => mixed.StatePrecisionOf(-1)).ParamName);
        Assert.Equal(Precisions, mixed.Groups.Select(g => g.EffectiveStatePrecision));
        Assert.Equal(before, GroupStates(mixed));

        // A rule with compact state reads it between tensors in one codec: bfloat16 for every group or none; groups
        // may mix float32, 8-bit and 4-bit state (the compact state stays float32: BlockwiseCompactStateTests).
        var adafactor = new Adafactor(new ParameterLayout([64], [32]));
        Assert.Throws<NotSupportedException>(() => adafactor.Groups[0].StatePrecision = StatePrecision.BFloat16);
        Assert.Equal([StatePrecision.Float32, StatePrecision.Float32], adafactor.Groups.Select(g => g.EffectiveStatePrecision));
        Assert.Equal([null, null], adafactor.Groups.Select(g => g.StatePrecision));
        adafactor.Groups[1].StatePrecision = StatePrecision.Int8Blockwise;
        Assert.Equal([StatePrecision.Float32, StatePrecision.Int8Blockwise], adafactor.Groups.Select(g => g.EffectiveStatePrecision));
        adafactor.Groups[1].StatePrecision = null;
        adafactor.ChangeStatePrecision(StatePrecision.BFloat16);
        adafactor.Groups[1].StatePrecision = StatePrecision.BFloat16;   // the same precision as the others: allowed
        Assert.Throws<NotSupportedException>(() => adafactor.ChangeStatePrecision(StatePrecision.Float32));
        Assert.Equal(StatePrecision.BFloat16, adafactor.StatePrecision);
    }

    [Fact]
    public void TheGpuOptimizerTakesGroupsOfTheirOwnPrecision()
    {
        // The GPU runs each group in its own precision (bit for bit as here: tests/OptGen.Gpu.Tests/GpuMixedPrecisionTests.cs).
        using Context context = Context.Create(builder => builder.DefaultCPU());
        using CPUAccelerator accelerator = context.CreateCPUAccelerator(0);
        var adam = new Adam(new ParameterLayout([64], [32]));
        adam.Groups[1].StatePrecision = StatePrecision.BFloat16;
        using (var mixed = new GpuOptimizer(adam, accelerator))
        {
            Assert.Equal(StatePrecision.BFloat16, mixed.StatePrecisionOf(1));
            mixed.Step(new float[96], new float[96]);
            Assert.Equal(1, adam.StepCount);
        }

        // Set on the host after the GPU optimizer was made: its step refuses the changed host optimizer until reloaded.
        var plain = new Adam(new ParameterLayout([64], [32]));
        using var gpu = new GpuOptimizer(plain, accelerator);
        plain.Groups[0].StatePrecision = StatePrecision.BFloat16;
        Assert.Throws<InvalidOperationException>(() => gpu.Step(new float[96], new float[96]));
        Assert.Equal(0, plain.StepCount);
        gpu.ReloadFromHost();
        gpu.Step(new float[96], new float[96]);
        Assert.Equal(1, plain.StepCount);
    }

    /// <summary>An optimizer over <see cref="Groups"/> with each group's precision, and one optimizer per group of that precision alone.</summary>
    private static (Adam Mixed, Adam[] Separate) Create(StatePrecision[] precisions)
    {
        var mixed = new Adam(new ParameterLayout(Groups));
        var separate = new Adam[Groups.Length];
        for (int k = 0; k < Groups.Length; k++)
        {
            mixed.Groups[k]["LearningRate"] = LearningRates[k];
            if (precisions[k] != StatePrecision.Float32)
            {
                mixed.Groups[k].StatePrecision = precisions[k];
            }

            separate[k] = new Adam(new ParameterLayout(Groups[k])) { LearningRate = LearningRates[k] };
            separate[k].ChangeStatePrecision(precisions[k]);
        }

        return (mixed, separate);
    }

    /// <summary>Steps each separate optimizer on its group's part of the arenas.</summary>
    private static void StepSeparately(Adam[] separate, float[] parameters, float[] gradients)
    {
        int start = 0;
        foreach (Adam adam in separate)
        {
            adam.Step(parameters.AsSpan(start, adam.Length), gradients.AsSpan(start, adam.Length));
            start += adam.Length;
        }
    }

    /// <summary>Every group's state equals its separate optimizer's, bit for bit (read as float32 with CopyState).</summary>
    private static void AssertSameState(Adam[] separate, Adam mixed, string when)
    {
        float[][][] states = GroupStates(mixed);
        for (int k = 0; k < separate.Length; k++)
        {
            Assert.Equal(separate[k].StatePrecision, mixed.StatePrecisionOf(k));
            for (int s = 0; s < StateNames.Length; s++)
            {
                for (int i = 0; i < Groups[k].Length; i++)
                {
                    float[] expected = new float[Groups[k][i]];
                    separate[k].CopyState(StateNames[s], i, expected);
                    AssertBitwiseEqual(expected, states[k][(s * Groups[k].Length) + i], $"{when}: group {k}, {StateNames[s]}, tensor {i}");
                }
            }
        }
    }

    /// <summary>Per group, per state buffer and tensor (buffer-major), the values as float32.</summary>
    private static float[][][] GroupStates(Optimizer optimizer)
    {
        var groups = new float[optimizer.Layout.GroupCount][][];
        for (int k = 0; k < groups.Length; k++)
        {
            int first = optimizer.Layout.FirstTensorOf(k), count = optimizer.Layout.TensorCountOf(k);
            groups[k] = new float[StateNames.Length * count][];
            for (int s = 0; s < StateNames.Length; s++)
            {
                for (int i = 0; i < count; i++)
                {
                    groups[k][(s * count) + i] = new float[optimizer.StateLength(StateNames[s], first + i)];
                    optimizer.CopyState(StateNames[s], first + i, groups[k][(s * count) + i]);
                }
            }
        }

        return groups;
    }

    private static float[][] Split(float[] arena, ParameterLayout layout) =>
        [.. Enumerable.Range(0, layout.TensorCount).Select(j => arena.AsSpan(layout.ArenaOffsetOf(j), layout.LengthOf(j)).ToArray())];

    /// <summary>The offset of the group count in a checkpoint (after the magic, version, flags, size, names, step count and the name lists).</summary>
    private static int GroupsOffset(byte[] bytes)
    {
        int at = 8 + 4 + 4 + 8;
        at += 4 + (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at));   // name
        at += 4 + (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at));   // rule id
        at += 8;                                                                     // step count
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12)) & (1u << 8)); // no batch size field
        for (int list = 0; list < 2; list++)
        {
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at));
            at += 4;
            for (int i = 0; i < count; i++)
            {
                at += 4 + (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at));
            }
        }

        return at;
    }
}
