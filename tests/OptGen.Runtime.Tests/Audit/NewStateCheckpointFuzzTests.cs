using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// The checkpoint hardening of CheckpointHardeningTests (NAdam, float32 state) repeated for the state added since:
/// 8-bit and 4-bit blockwise state (odd lengths, a partial last block, a tensor below the threshold), groups of
/// different precisions (format v2), and the rules with reductions (compact state, carried scalars). Cut at many
/// bytes, and changed at random with the CRC recomputed so the field checks (not the checksum) are what is tested:
/// every load either succeeds with in-range values and a next step that works, or throws
/// <see cref="CheckpointException"/> with the optimizer's checkpoint bytes (state, hyperparameters, step) unchanged
/// and little allocated.
/// </summary>
public sealed class NewStateCheckpointFuzzTests
{
    private const long AllocationBudget = 64 * 1024;

    public static TheoryData<string> Configurations() => new(Makers.Keys);

    /// <summary>Each configuration: a fresh optimizer (the same every call) and how many steps to train it.</summary>
    private static readonly Dictionary<string, Func<Optimizer>> Makers = new()
    {
        ["Adam int8"] = () => WithPrecision(new Adam(new ParameterLayout([4100, 5])), StatePrecision.Int8Blockwise),
        ["Adam int4 odd"] = () => WithPrecision(new Adam(new ParameterLayout([4097, 3])), StatePrecision.Int4Blockwise),
        ["Adam per group"] = () =>
        {
            var adam = new Adam(new ParameterLayout([4100], [4099, 6], [7]));
            adam.Groups[0].StatePrecision = StatePrecision.Int8Blockwise;
            adam.Groups[1].StatePrecision = StatePrecision.Int4Blockwise;
            adam.Groups[2].StatePrecision = StatePrecision.BFloat16;
            return adam;
        },
        ["Lion int4"] = () => WithPrecision(new Lion(new ParameterLayout([4353])), StatePrecision.Int4Blockwise),
        ["Adafactor"] = () => new Adafactor(ParameterLayout.FromShapes([[3, 5], [2, 2, 3]], [[7]])),
        ["Adam-mini"] = () => new AdamMini(ParameterLayout.FromShapes([[4, 6]], [[9]])) { BlockSize = 4 },
        ["LAMB bfloat16"] = () => WithPrecision(new Lamb(new ParameterLayout([11], [6])), StatePrecision.BFloat16),
        ["LARS"] = () => new Lars(new ParameterLayout([13, 2])),
        ["schedule-free"] = () => new AdamWScheduleFree(new ParameterLayout([9], [4])) { WarmupSteps = 2 },
    };

    private static Optimizer WithPrecision(Optimizer optimizer, StatePrecision precision)
    {
        optimizer.ChangeStatePrecision(precision);
        return optimizer;
    }

    private static Optimizer Trained(string name, int seed, int steps = 3)
    {
        Optimizer optimizer = Makers[name]();
        var random = new Random(seed);
        float[] p = Random(random, optimizer.Length);
        for (int t = 0; t < steps; t++)
        {
            optimizer.Step(p, Random(random, optimizer.Length, 0.1));
        }

        return optimizer;
    }

    private static byte[] Save(Optimizer optimizer)
    {
        using var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }

    /// <summary>After a load that succeeded: the next step either works or is refused by its documented checks.</summary>
    private static void StepAfterLoad(Optimizer optimizer, string what)
    {
        float[] p = Random(new Random(4), optimizer.Length);
        try
        {
            optimizer.Step(p, Random(new Random(5), optimizer.Length, 0.1));
        }
        catch (ArgumentOutOfRangeException)
        {
            // A loaded hyperparameter combination whose per-step scalar is out of float32's range: refused by name.
        }
        catch (Exception e) when (e is not ArgumentOutOfRangeException)
        {
            Assert.Fail($"{what}: the step after the load threw {e}");
        }
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void CutAnywhereIsTruncatedAndChangesNothing(string name)
    {
        byte[] good = Save(Trained(name, 1, steps: 5));
        Optimizer target = Trained(name, 2);
        byte[] expected = Save(target);
        // Every byte of the header and layout, then every 13th byte of the state.
        for (int length = 0; length < good.Length; length += length < 400 ? 1 : 13)
        {
            foreach (bool seekable in new[] { true, false })
            {
                byte[] cut = good[..length];
                using Stream stream = seekable ? new MemoryStream(cut) : new ForwardOnlyStream(cut);
                long before = GC.GetAllocatedBytesForCurrentThread();
                CheckpointException e = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(stream));
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.True(e.Error == CheckpointError.Truncated, $"{name} cut at {length}: {e.Error}/{e.Field}: {e.Message}");
                Assert.True(allocated < AllocationBudget, $"{name} cut at {length}: {allocated} bytes allocated.");
            }
        }

        Assert.Equal(expected, Save(target));
        target.LoadCheckpoint(new MemoryStream(good));
        Assert.Equal(good, Save(target));
    }

    /// <summary>A seed from the configuration's name that is the same in every process (string.GetHashCode is randomized per process).</summary>
    private static int StableSeed(string name)
    {
        int seed = 17;
        foreach (char c in name)
        {
            seed = (seed * 31) + c;
        }

        return seed;
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void ResealedCorruptionLoadsInRangeOrChangesNothing(string name)
    {
        byte[] good = Save(Trained(name, 1, steps: 5));
        var random = new Random(StableSeed(name) ^ int.Parse(Environment.GetEnvironmentVariable("AUDIT_SEED") ?? "20261205", System.Globalization.CultureInfo.InvariantCulture));
        Optimizer target = Trained(name, 2);
        byte[] expected = Save(target);
        int loaded = 0, rejected = 0;
        var fields = new HashSet<string>();
        for (int trial = 0; trial < 600; trial++)
        {
            byte[] bytes = (byte[])good.Clone();
            // Half the trials change the header and layout (the first 300 bytes), half anywhere.
            int span = trial % 2 == 0 ? Math.Min(300, bytes.Length - 4) : bytes.Length - 4;
            for (int c = 1 + random.Next(3); c > 0; c--)
            {
                int at = random.Next(span);
                bytes[at] = random.Next(2) == 0 ? (byte)(bytes[at] ^ (1 << random.Next(8))) : (byte)random.Next(256);
            }

            CheckpointImage.Reseal(bytes);
            using Stream stream = random.Next(2) == 0 ? new MemoryStream(bytes) : new ForwardOnlyStream(bytes);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                target.LoadCheckpoint(stream);
                loaded++;
                Assert.InRange(target.StepCount, 0, (1L << 53) - 1);
                foreach (ParameterGroup group in target.Groups)
                {
                    foreach (HyperparameterDescriptor h in target.Descriptor.Hyperparameters)
                    {
                        Assert.True(h.Accepts(group[h.Name]), $"{name} trial {trial}: {h.Name} = {group[h.Name]} was loaded.");
                    }
                }

                // What was loaded saves back to the same bytes (nothing was half-read), and steps.
                Assert.Equal(bytes, Save(target));
                StepAfterLoad(target, $"{name} trial {trial}");
                target = Trained(name, 2);
            }
            catch (CheckpointException e)
            {
                rejected++;
                fields.Add($"{e.Error}/{e.Field}");
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                if (allocated >= AllocationBudget + (16L * bytes.Length))
                {
                    // A process's first refusal of a kind can pay one-time costs on this thread (the runtime's
                    // resources for an exception message, lazily built tables) that depend on which test ran first;
                    // the same bytes refused again measure the loader alone.
                    using Stream again = new MemoryStream(bytes);
                    before = GC.GetAllocatedBytesForCurrentThread();
                    Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(again));
                    allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                }

                // Names are read (up to 1024 of them) before they are judged: the cost grows with the bytes present, never with a size the file claims.
                Assert.True(allocated < AllocationBudget + (16L * bytes.Length), $"{name} trial {trial}: {allocated} bytes allocated for {e.Message}");
                Assert.Equal(expected, Save(target));
            }
        }

        Assert.True(loaded > 20 && rejected > 100, $"{name}: {loaded} loaded, {rejected} rejected ({string.Join(", ", fields)}).");
    }
}
