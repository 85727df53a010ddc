using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Crafted, cut and corrupted checkpoints: every field is range-checked before it is used or allocated for, the
/// rejection is a <see cref="CheckpointException"/> naming the field, and the optimizer (hyperparameters, carried
/// scalars, state, step count, schedules) is left exactly as it was.
/// </summary>
public sealed class CheckpointHardeningTests
{
    private static readonly int[] First = [5, 3];
    private static readonly int[] Second = [0, 7];

    /// <summary>Bytes a rejected load may allocate: the reader, names, the exception; never anything the file asks for.</summary>
    private const long AllocationBudget = 64 * 1024;

    /// <summary>NAdam (two groups, a carried host scalar) with a schedule, after a few steps on <paramref name="seed"/>'s data.</summary>
    private static NAdam Trained(int seed, int steps = 3)
    {
        var optimizer = new NAdam(new ParameterLayout(First, Second)) { LearningRate = 0.01 };
        optimizer.Groups[1]["WeightDecay"] = 0.1;
        optimizer.SetSchedule("LearningRate", Schedule.Cosine(0.01, 20));
        var random = new Random(seed);
        float[][] p = Tensors(random, [.. First, .. Second]);
        for (int t = 0; t < steps; t++)
        {
            optimizer.Step(AsMemory(p), AsReadOnly(Tensors(random, [.. First, .. Second])));
        }

        return optimizer;
    }

    private static byte[] Save(Optimizer optimizer)
    {
        using var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }

    private static readonly byte[] Good = Save(Trained(seed: 1, steps: 5));

    /// <summary>
    /// Asserts that <paramref name="target"/> is in every respect the optimizer <paramref name="twin"/> is (both made by
    /// the same calls): the same checkpoint bytes (step count, hyperparameters, carried scalars, state) and the same
    /// next step, which also covers the schedules. Both take that step.
    /// </summary>
    private static void AssertSameAsTwin(Optimizer twin, Optimizer target)
    {
        Assert.Equal(Save(twin), Save(target));
        float[][] a = Tensors(new Random(99), [.. First, .. Second]), b = Clone(a);
        float[][] g = Tensors(new Random(98), [.. First, .. Second]);
        twin.Step(AsMemory(a), AsReadOnly(g));
        target.Step(AsMemory(b), AsReadOnly(g));
        for (int j = 0; j < a.Length; j++)
        {
            AssertBitwiseEqual(a[j], b[j], $"tensor {j} after the next step");
        }

        Assert.Equal(Save(twin), Save(target));
    }

    private static readonly Func<byte[], Stream> Seekable = b => new MemoryStream(b);
    private static readonly Func<byte[], Stream> ForwardOnly = b => new ForwardOnlyStream(b);
    private static readonly Func<byte[], Stream>[] Openers = [Seekable, ForwardOnly];

    private static CheckpointException Rejected(Optimizer target, byte[] bytes, Func<byte[], Stream>? open = null)
    {
        using Stream stream = (open ?? (b => new MemoryStream(b)))(bytes);
        return Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(stream));
    }

    [Fact]
    public void TheTestsModelOfTheFormatWritesWhatSaveCheckpointWrites()
    {
        Assert.Equal(Good, CheckpointImage.Parse(Good).ToBytes());
        var bfloat16 = new AdamW(new ParameterLayout([9, 4]));
        bfloat16.ChangeStatePrecision(StatePrecision.BFloat16);
        byte[] saved = Save(bfloat16);
        Assert.Equal(saved, CheckpointImage.Parse(saved).ToBytes());
    }

    public static TheoryData<string, CheckpointError, string> Crafted() => new()
    {
        { "step count long.MaxValue", CheckpointError.Corrupted, "stepCount" },
        { "step count 2^53", CheckpointError.Corrupted, "stepCount" },
        { "step count -1", CheckpointError.Corrupted, "stepCount" },
        { "LearningRate 1e300 (infinite in float32)", CheckpointError.Corrupted, "LearningRate" },
        { "Epsilon 1e-50 (0 in float32)", CheckpointError.Corrupted, "Epsilon" },
        { "Epsilon NaN in group 1", CheckpointError.Corrupted, "Epsilon" },
        { "Beta1 1", CheckpointError.Corrupted, "Beta1" },
        { "Maximize 0.5", CheckpointError.Corrupted, "Maximize" },
        { "MuProduct NaN", CheckpointError.Corrupted, "MuProduct" },
        { "MuProduct infinite in group 1", CheckpointError.Corrupted, "MuProduct" },
        { "host scalar count 2 (with the values)", CheckpointError.Corrupted, "host scalar count" },
        { "host scalar count 2^32-1", CheckpointError.Corrupted, "host scalar count" },
        { "host scalar count 1000 (no values)", CheckpointError.Corrupted, "host scalars" },
        { "hyperparameter count 2^32-1", CheckpointError.Corrupted, "hyperparameter count" },
        { "hyperparameter count 1000", CheckpointError.Corrupted, "hyperparameter count" },
        { "state count 2^32-1", CheckpointError.Corrupted, "state count" },
        { "name length 2^31", CheckpointError.Corrupted, "name" },
        { "group count 2^32-1", CheckpointError.Corrupted, "group count" },
        { "group count 2^20", CheckpointError.Corrupted, "group count" },
        { "tensor count 2^24", CheckpointError.Corrupted, "tensor count" },
        { "tensor length 2^31", CheckpointError.Corrupted, "tensor length" },
        { "tensor length 2^30 (state past the end)", CheckpointError.Corrupted, "state" },
        { "size below the smallest checkpoint", CheckpointError.Corrupted, "size" },
        { "size long.MaxValue", CheckpointError.Truncated, "size" },
        { "size 8 bytes short of the fields", CheckpointError.Corrupted, "state" },
        { "size 8 bytes past the fields (padded)", CheckpointError.Corrupted, "size" },
        { "unknown flag", CheckpointError.Corrupted, "flags" },
        { "bfloat16 flag on a float32 optimizer", CheckpointError.Corrupted, "size" },
    };

    /// <summary>Applies the change named <paramref name="name"/> to a good checkpoint; the CRC is always valid.</summary>
    private static byte[] Craft(string name)
    {
        CheckpointImage image = CheckpointImage.Parse(Good);
        switch (name)
        {
            case "step count long.MaxValue": image.StepCount = long.MaxValue; break;
            case "step count 2^53": image.StepCount = 1L << 53; break;
            case "step count -1": image.StepCount = -1; break;
            case "LearningRate 1e300 (infinite in float32)": image.Values[0][0] = 1e300; break;
            case "Epsilon 1e-50 (0 in float32)": image.Values[0][3] = 1e-50; break;
            case "Epsilon NaN in group 1": image.Values[1][3] = double.NaN; break;
            case "Beta1 1": image.Values[0][1] = 1; break;
            case "Maximize 0.5": image.Values[1][6] = 0.5; break;
            case "MuProduct NaN": image.Host[0][0] = double.NaN; break;
            case "MuProduct infinite in group 1": image.Host[1][0] = double.PositiveInfinity; break;
            case "host scalar count 2 (with the values)": image.Host = [.. image.Host.Select(h => new[] { h[0], h[0] })]; break;
            case "host scalar count 2^32-1": image.HostCount = uint.MaxValue; break;
            case "host scalar count 1000 (no values)": image.HostCount = 1000; break;
            case "hyperparameter count 2^32-1": image.HyperparameterCount = uint.MaxValue; break;
            case "hyperparameter count 1000": image.HyperparameterCount = 1000; break;
            case "state count 2^32-1": image.StateCount = uint.MaxValue; break;
            case "name length 2^31":
                byte[] bytes = image.ToBytes();
                BitConverter.TryWriteBytes(bytes.AsSpan(24), 1u << 31);
                CheckpointImage.Reseal(bytes);
                return bytes;
            case "group count 2^32-1": image.GroupCount = uint.MaxValue; break;
            case "group count 2^20": image.GroupCount = 1 << 20; break;
            case "tensor count 2^24": image.TensorCount[0] = 1 << 24; break;
            case "tensor length 2^31": image.Groups[1][1] = int.MinValue; break;
            case "tensor length 2^30 (state past the end)": image.Groups[1][1] = 1 << 30; break;
            case "size below the smallest checkpoint": image.Size = 40; break;
            case "size long.MaxValue": image.Size = long.MaxValue; break;
            case "size 8 bytes short of the fields": image.Size = image.ToBytes().Length - 8; break;
            case "size 8 bytes past the fields (padded)":
                byte[] good = image.ToBytes();
                byte[] padded = [.. good[..^4], .. new byte[8], 0, 0, 0, 0];
                BitConverter.TryWriteBytes(padded.AsSpan(16), (long)padded.Length);
                CheckpointImage.Reseal(padded);
                return padded;
            case "unknown flag": image.Flags = 8; break;
            case "bfloat16 flag on a float32 optimizer": image.Flags = 1; break;
            default: throw new ArgumentOutOfRangeException(nameof(name), name, "No such crafted checkpoint.");
        }

        return image.ToBytes();
    }

    [Theory]
    [MemberData(nameof(Crafted))]
    public void CraftedFieldIsRejectedByItsCheckAndNothingChanges(string name, CheckpointError error, string field)
    {
        byte[] bytes = Craft(name);
        foreach (Func<byte[], Stream> open in Openers)
        {
            NAdam target = Trained(seed: 2), twin = Trained(seed: 2);
            long before = GC.GetAllocatedBytesForCurrentThread();
            CheckpointException e = Rejected(target, bytes, open);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            // A stream that cannot seek cannot show that it is shorter than declared: the fields' end is what disagrees.
            bool forwardOnly = open == ForwardOnly;
            Assert.Equal(name == "size long.MaxValue" && forwardOnly ? CheckpointError.Corrupted : error, e.Error);
            Assert.Equal(field, e.Field);
            Assert.DoesNotContain("CRC", e.Message, StringComparison.Ordinal);
            Assert.True(allocated < AllocationBudget, $"{name}: {allocated} bytes allocated before the rejection.");
            AssertSameAsTwin(twin, target);
        }
    }

    [Fact]
    public void CraftedHyperparameterMessageNamesItAndItsRange()
    {
        CheckpointException e = Rejected(Trained(2), Craft("Epsilon 1e-50 (0 in float32)"));
        Assert.Contains("Epsilon", e.Message, StringComparison.Ordinal);
        Assert.Contains("float32", e.Message, StringComparison.Ordinal);
        Assert.Contains("group 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongShapeMessageNamesTheLayoutAndStaysShort()
    {
        CheckpointException small = Rejected(Trained(2), Save(new NAdam(new ParameterLayout([5], [0, 7, 2]))));
        Assert.Equal(CheckpointError.WrongShape, small.Error);
        Assert.Equal("layout", small.Field);
        Assert.Contains("2 group(s) of tensor lengths [5; 0, 7, 2]", small.Message, StringComparison.Ordinal);

        CheckpointException large = Rejected(Trained(2), Save(new NAdam(new ParameterLayout(Enumerable.Repeat(1, 5000).ToArray(), [3]))));
        Assert.Equal(CheckpointError.WrongShape, large.Error);
        Assert.Contains("1, 1, 1, …]", large.Message, StringComparison.Ordinal);
        Assert.True(large.Message.Length < 400, large.Message);
    }

    /// <summary>
    /// The step count's bound, 2⁵³ − 1, is where every catalog rule still takes a finite step (β₁ᵗ, ρₜ and the like are
    /// formed in double from t); one more is refused. At long.MaxValue the next t used to wrap negative and make every
    /// parameter NaN.
    /// </summary>
    [Fact]
    public void LargestStepCountLoadsAndEveryCatalogRuleStillTakesAFiniteStep()
    {
        Type[] catalog = [.. typeof(Optimizer).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(Optimizer)) && !t.IsAbstract && t.Namespace == "OptGen")];
        Assert.True(catalog.Length >= 20);
        foreach (Type type in catalog)
        {
            var optimizer = (Optimizer)Activator.CreateInstance(type, 16)!;
            float[] p = Random(new Random(3), 16);
            optimizer.Step(p, Random(new Random(4), 16));
            CheckpointImage image = CheckpointImage.Parse(Save(optimizer));
            image.StepCount = (1L << 53) - 1;
            optimizer.LoadCheckpoint(new MemoryStream(image.ToBytes()));
            Assert.Equal((1L << 53) - 1, optimizer.StepCount);
            for (int t = 0; t < 2; t++)
            {
                optimizer.Step(p, Random(new Random(5 + t), 16));
                Assert.True(p.All(float.IsFinite), $"{type.Name}: a parameter is not finite after step 2^53 + {t}.");
            }

            image.StepCount = 1L << 53;
            Assert.Equal("stepCount", Assert.Throws<CheckpointException>(() => optimizer.LoadCheckpoint(new MemoryStream(image.ToBytes()))).Field);
        }
    }

    /// <summary>
    /// The crafted stream: a plausible header whose counts ask for 2²⁰ groups of 2²⁴ tensors and then ends (the
    /// old reader allocated 75 MB of arrays before it noticed). Now it costs a few KiB, seekable or not, whatever size
    /// it declares.
    /// </summary>
    [Fact]
    public void SmallCraftedStreamCannotMakeTheLoaderAllocate()
    {
        foreach (long declared in new[] { long.MaxValue, 1L << 40, Good.Length })
        {
            CheckpointImage image = CheckpointImage.Parse(Good);
            image.Size = declared;
            image.GroupCount = 1 << 20;
            image.Groups = [[]];
            image.TensorCount[0] = 1 << 24;
            image.Values = [];
            image.Host = [];
            image.State = [];
            image.WithChecksum = false;
            byte[] bytes = image.ToBytes();
            Assert.InRange(bytes.Length, 150, 250);
            foreach (Func<byte[], Stream> open in Openers)
            {
                NAdam target = Trained(2), twin = Trained(2);
                long before = GC.GetAllocatedBytesForCurrentThread();
                CheckpointException e = Rejected(target, bytes, open);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.True(e.Error is CheckpointError.Truncated or CheckpointError.Corrupted, e.Message);
                Assert.True(allocated < AllocationBudget, $"{bytes.Length}-byte stream declaring {declared} bytes: {allocated} bytes allocated.");
                AssertSameAsTwin(twin, target);
            }
        }
    }

    /// <summary>Cut at every byte: always <see cref="CheckpointError.Truncated"/>, little allocated, nothing changed.</summary>
    [Fact]
    public void CheckpointCutAtEveryByteIsTruncatedAndChangesNothing()
    {
        NAdam target = Trained(2), twin = Trained(2);
        byte[] expected = Save(twin);
        string path = Path.Combine(Path.GetTempPath(), $"optgen-cut-{Guid.NewGuid():N}.ckpt");
        try
        {
            for (int length = 0; length < Good.Length; length++)
            {
                byte[] cut = Good[..length];
                foreach (Func<byte[], Stream> open in Openers)
                {
                    long before = GC.GetAllocatedBytesForCurrentThread();
                    CheckpointException e = Rejected(target, cut, open);
                    long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                    Assert.True(e.Error == CheckpointError.Truncated, $"cut at {length}: {e.Error}: {e.Message}");
                    Assert.True(allocated < AllocationBudget, $"cut at {length}: {allocated} bytes allocated.");
                }

                File.WriteAllBytes(path, cut);
                Assert.Equal(CheckpointError.Truncated, Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(path)).Error);
                Assert.Equal(expected, Save(target));
            }
        }
        finally
        {
            File.Delete(path);
        }

        AssertSameAsTwin(twin, target);
    }

    /// <summary>
    /// Random bit flips and byte changes, with the CRC left stale (the checksum must catch them) and with it recomputed
    /// (the field checks must): every load either succeeds with values in range or throws
    /// <see cref="CheckpointException"/> with the optimizer unchanged; nothing else is thrown, nothing large allocated.
    /// </summary>
    [Fact]
    public void CorruptionFuzzNeverCrashesAllocatesOrHalfLoads()
    {
        var random = new Random(20261204);
        NAdam target = Trained(2);
        byte[] expected = Save(target);
        int loaded = 0, rejected = 0;
        var errors = new HashSet<string>();
        for (int trial = 0; trial < 3000; trial++)
        {
            byte[] bytes = (byte[])Good.Clone();
            int changes = 1 + random.Next(3);
            for (int c = 0; c < changes; c++)
            {
                int at = random.Next(bytes.Length - 4);
                if (random.Next(2) == 0)
                {
                    bytes[at] ^= (byte)(1 << random.Next(8));
                }
                else
                {
                    bytes[at] = (byte)random.Next(256);
                }
            }

            bool resealed = trial % 4 != 0;
            if (resealed)
            {
                CheckpointImage.Reseal(bytes);
            }

            if (random.Next(8) == 0)
            {
                bytes = bytes[..random.Next(bytes.Length)];
            }

            Stream stream = random.Next(2) == 0 ? new MemoryStream(bytes) : new ForwardOnlyStream(bytes);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                target.LoadCheckpoint(stream);
                loaded++;
                Assert.True(resealed || bytes.AsSpan().SequenceEqual(Good), $"trial {trial}: a change under a stale CRC was loaded.");
                Assert.InRange(target.StepCount, 0, (1L << 53) - 1);
                foreach (ParameterGroup group in target.Groups)
                {
                    foreach (HyperparameterDescriptor h in target.Descriptor.Hyperparameters)
                    {
                        Assert.True(h.Accepts(group[h.Name]), $"trial {trial}: {h.Name} = {group[h.Name]} was loaded.");
                    }
                }

                target = Trained(2);
            }
            catch (CheckpointException e)
            {
                rejected++;
                errors.Add($"{e.Error}/{e.Field}");
                Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < AllocationBudget, $"trial {trial}: {e.Message}");
                Assert.Equal(expected, Save(target));
            }
        }

        // The fuzz reached both outcomes and many distinct field checks.
        Assert.True(loaded > 100 && rejected > 1000, $"{loaded} loaded, {rejected} rejected.");
        Assert.True(errors.Count >= 8, string.Join(", ", errors));
    }

    /// <summary>
    /// NaN and ±∞ in the state are restored exactly: a checkpoint of a diverged run is how one finds out why it
    /// diverged, and a loader cannot tell a crafted finite value from a trained one anyway.
    /// </summary>
    [Fact]
    public void NonFiniteStateOfADivergedRunRoundTripsExactly()
    {
        var adam = new Adam(8);
        float[] p = Random(new Random(6), 8);
        float[] g = Random(new Random(7), 8);
        g[3] = float.NaN;
        g[5] = float.PositiveInfinity;
        adam.Step(p, g);
        Assert.True(float.IsNaN(adam.FirstMoment[3]));
        var copy = new Adam(8);
        copy.LoadCheckpoint(new MemoryStream(Save(adam)));
        AssertBitwiseEqual(adam.FirstMoment, copy.FirstMoment, "m");
        AssertBitwiseEqual(adam.SecondMoment, copy.SecondMoment, "v");
    }
}
