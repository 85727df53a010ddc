using System;
using System.Collections.Generic;
using System.IO;
using ILGPU.Runtime;
using Xunit;
using static OptGen.Gpu.Tests.GpuAuditData;

namespace OptGen.Gpu.Tests;

/// <summary>
/// Damaged checkpoints loaded through <see cref="GpuOptimizer.LoadCheckpoint(Stream)"/> (the host loader, then the
/// upload): each byte of the header and a stride through the state set to 0x00, 0xFF, 0x7F or a bit flipped, with the
/// CRC recomputed so the field checks are what is tested, and the file cut at many lengths. Every load is a
/// <see cref="CheckpointException"/> with the device state unchanged (the device's checkpoint is the one before) or
/// loads a checkpoint the device saves back byte for byte; afterwards the device steps as an untouched twin.
/// </summary>
public sealed class AuditGpuCheckpointTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly Accelerator _accelerator = fixture.Accelerator;

    public static TheoryData<string> Kinds() => new() { "Adam groups", "AdamW bf16", "LAMB", "schedule-free bf16" };

    private static Optimizer Create(string kind)
    {
        switch (kind)
        {
            case "Adam groups":
                var adam = new Adam(new ParameterLayout([4100], [4099, 6], [7]));
                adam.Groups[0].StatePrecision = StatePrecision.Int8Blockwise;
                adam.Groups[1].StatePrecision = StatePrecision.Int4Blockwise;
                adam.Groups[2].StatePrecision = StatePrecision.BFloat16;
                return adam;
            case "AdamW bf16":
                var adamW = new AdamW(new ParameterLayout([11, 3], [5]));
                adamW.ChangeStatePrecision(StatePrecision.BFloat16);
                return adamW;
            case "LAMB":
                return new Lamb(new ParameterLayout([13, 2], [6]));
            default:
                var scheduleFree = new AdamWScheduleFree(new ParameterLayout([9], [4])) { WarmupSteps = 2 };
                scheduleFree.ChangeStatePrecision(StatePrecision.BFloat16);
                return scheduleFree;
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ADamagedCheckpointLeavesTheDeviceStateAsItWas(string kind)
    {
        using var source = new GpuOptimizer(Create(kind), _accelerator);
        (float[] p, float[] g) = Data(source.Length, 1);
        for (int t = 0; t < 3; t++)
        {
            source.Step(p, g);
        }

        byte[] good = Save(source);
        using var gpu = new GpuOptimizer(Create(kind), _accelerator);
        using var twin = new GpuOptimizer(Create(kind), _accelerator);
        (float[] q, float[] h) = Data(gpu.Length, 2);
        float[] r = (float[])q.Clone();
        gpu.Step(q, h);
        twin.Step(r, h);
        byte[] before = Save(gpu);

        var failures = new List<string>();
        int refused = 0;
        for (int at = 0; at < good.Length - 4; at += at < 300 ? 3 : 97)
        {
            foreach (byte value in new byte[] { 0x00, 0xFF, 0x7F, (byte)(good[at] ^ (1 << (at % 8))) })
            {
                if (value == good[at])
                {
                    continue;
                }

                byte[] bytes = (byte[])good.Clone();
                bytes[at] = value;
                OptGen.Runtime.Tests.CheckpointImage.Reseal(bytes);
                try
                {
                    gpu.LoadCheckpoint(new MemoryStream(bytes));
                    if (!Save(gpu).AsSpan().SequenceEqual(bytes))
                    {
                        failures.Add($"{kind}: byte {at} = 0x{value:X2} loaded, but the device saves other bytes");
                    }

                    // Back to the state before, through the device.
                    gpu.LoadCheckpoint(new MemoryStream(before));
                }
                catch (CheckpointException)
                {
                    refused++;
                    if (!Save(gpu).AsSpan().SequenceEqual(before))
                    {
                        failures.Add($"{kind}: byte {at} = 0x{value:X2} refused, but the device state changed");
                    }
                }
                catch (Exception e)
                {
                    failures.Add($"{kind}: byte {at} = 0x{value:X2}: {e.GetType().Name}: {e.Message}");
                }
            }
        }

        for (int length = 0; length < good.Length; length += 1 + (length / 8))
        {
            Assert.Throws<CheckpointException>(() => gpu.LoadCheckpoint(new MemoryStream(good[..length])));
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(refused > 20, $"{refused} refused");
        Assert.Equal(before, Save(gpu));
        gpu.Step(q, h);
        twin.Step(r, h);
        Assert.Equal(r, q);
        Assert.Equal(Save(twin), Save(gpu));
    }
}
