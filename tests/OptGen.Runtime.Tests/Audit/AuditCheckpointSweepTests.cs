using System;
using System.Collections.Generic;
using System.IO;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// Systematic damage to a checkpoint of every kind in <see cref="AuditKinds"/> (NewStateCheckpointFuzzTests samples
/// random changes of fewer kinds and loads into a stepped optimizer only): at every byte of the header and layout and
/// at a fixed stride through the state, the byte set to 0x00, 0xFF, 0x7F and one bit flipped, each with the CRC left
/// stale and with it recomputed; loaded into a fresh optimizer and into a stepped one. A stale CRC is always a
/// <see cref="CheckpointException"/>; a recomputed one either loads a checkpoint that saves back to exactly the bytes
/// loaded, or is a <see cref="CheckpointException"/>; after a refusal the optimizer's checkpoint (state, step count,
/// hyperparameters, precisions) is bit for bit what it was, and its next step is the step of an untouched twin.
/// Loading a checkpoint of another kind (rule, layout or precision) is refused the same way.
/// </summary>
public sealed class AuditCheckpointSweepTests
{
    public static TheoryData<string> Kinds() => new(AuditKinds.Names);

    /// <summary>Every position of the first 512 bytes and the last 32 (the CRC), then every 37th.</summary>
    private static IEnumerable<int> Positions(int length)
    {
        for (int at = 0; at < length; at += at < 512 || at >= length - 32 ? 1 : 37)
        {
            yield return at;
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryDamagedByteIsRefusedOrLoadsExactly(string kind)
    {
        byte[] good = AuditKinds.Save(AuditKinds.Trained(kind, 1, steps: 4));
        Optimizer fresh = AuditKinds.Makers[kind]();
        Optimizer stepped = AuditKinds.Trained(kind, 2);
        byte[] freshBytes = AuditKinds.Save(fresh);
        byte[] steppedBytes = AuditKinds.Save(stepped);
        var failures = new List<string>();
        int loads = 0;
        foreach (int at in Positions(good.Length))
        {
            foreach (int change in new[] { 0x00, 0xFF, 0x7F, -1 })
            {
                byte value = change < 0 ? (byte)(good[at] ^ (1 << (at % 8))) : (byte)change;
                if (value == good[at])
                {
                    continue;
                }

                foreach (bool reseal in new[] { false, true })
                {
                    byte[] bytes = (byte[])good.Clone();
                    bytes[at] = value;
                    if (reseal)
                    {
                        CheckpointImage.Reseal(bytes);
                    }

                    for (int target = 0; target < 2; target++)
                    {
                        Optimizer optimizer = target == 0 ? fresh : stepped;
                        byte[] before = target == 0 ? freshBytes : steppedBytes;
                        string what = $"{kind}: byte {at} = 0x{value:X2}, {(reseal ? "resealed" : "stale CRC")}, {(target == 0 ? "fresh" : "stepped")}";
                        loads++;
                        try
                        {
                            optimizer.LoadCheckpoint(new MemoryStream(bytes));
                            if (!reseal)
                            {
                                failures.Add($"{what}: loaded with a stale CRC");
                            }
                            else if (!AuditKinds.Save(optimizer).AsSpan().SequenceEqual(bytes))
                            {
                                failures.Add($"{what}: loaded, but saves back other bytes");
                            }

                            // Back to the optimizer before the load, by the test's own means.
                            optimizer = target == 0 ? AuditKinds.Makers[kind]() : AuditKinds.Trained(kind, 2);
                            if (target == 0)
                            {
                                fresh = optimizer;
                            }
                            else
                            {
                                stepped = optimizer;
                            }
                        }
                        catch (CheckpointException)
                        {
                            if (!AuditKinds.Save(optimizer).AsSpan().SequenceEqual(before))
                            {
                                failures.Add($"{what}: refused, but the optimizer changed");
                            }
                        }
                        catch (Exception e)
                        {
                            failures.Add($"{what}: {e.GetType().Name}: {e.Message}");
                        }

                        if (failures.Count > 20)
                        {
                            Assert.Fail(string.Join("\n", failures));
                        }
                    }
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(loads > 1000, $"{loads} loads");
        AssertStepsAsItsTwin(stepped, AuditKinds.Trained(kind, 2));
        AssertStepsAsItsTwin(fresh, AuditKinds.Makers[kind]());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void CutAtEveryLengthIsTruncatedForAFreshAndASteppedOptimizer(string kind)
    {
        byte[] good = AuditKinds.Save(AuditKinds.Trained(kind, 1, steps: 4));
        foreach (Optimizer target in new[] { AuditKinds.Makers[kind](), AuditKinds.Trained(kind, 2) })
        {
            byte[] before = AuditKinds.Save(target);
            for (int length = 0; length < good.Length; length += length < 512 || length >= good.Length - 32 ? 1 : 29)
            {
                CheckpointException e = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new ForwardOnlyStream(good[..length])));
                Assert.True(e.Error == CheckpointError.Truncated, $"{kind} cut at {length}: {e.Error}/{e.Field}: {e.Message}");
            }

            Assert.Equal(before, AuditKinds.Save(target));
        }
    }

    /// <summary>A checkpoint of another kind: refused by a <see cref="CheckpointException"/> with nothing changed.</summary>
    [Fact]
    public void ACheckpointOfAnotherKindIsRefusedWithNothingChanged()
    {
        var checkpoints = new Dictionary<string, byte[]>();
        foreach (string kind in AuditKinds.Names)
        {
            checkpoints[kind] = AuditKinds.Save(AuditKinds.Trained(kind, 1));
        }

        var failures = new List<string>();
        foreach (string target in AuditKinds.Names)
        {
            Optimizer optimizer = AuditKinds.Trained(target, 2);
            byte[] before = AuditKinds.Save(optimizer);
            foreach ((string source, byte[] bytes) in checkpoints)
            {
                if (source == target)
                {
                    continue;
                }

                try
                {
                    optimizer.LoadCheckpoint(new MemoryStream(bytes));
                    failures.Add($"{source} loaded into {target}");
                    optimizer = AuditKinds.Trained(target, 2);
                }
                catch (CheckpointException)
                {
                    if (!AuditKinds.Save(optimizer).AsSpan().SequenceEqual(before))
                    {
                        failures.Add($"{source} into {target}: refused, but the optimizer changed");
                    }
                }
                catch (Exception e)
                {
                    failures.Add($"{source} into {target}: {e.GetType().Name}: {e.Message}");
                }
            }

            AssertStepsAsItsTwin(optimizer, AuditKinds.Trained(target, 2));
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>One more step of each gives the same parameters and checkpoint (schedules, groups and carried scalars included).</summary>
    private static void AssertStepsAsItsTwin(Optimizer optimizer, Optimizer twin)
    {
        var random = new Random(9);
        float[] p = Random(random, optimizer.Length);
        float[] g = Random(random, optimizer.Length, 0.1);
        float[] q = (float[])p.Clone();
        optimizer.Step(p, g);
        twin.Step(q, g);
        AssertBitwiseEqual(q, p, optimizer.Descriptor.Name);
        Assert.Equal(AuditKinds.Save(twin), AuditKinds.Save(optimizer));
    }
}
