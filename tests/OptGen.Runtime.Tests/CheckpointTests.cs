using System;
using System.IO;
using System.Linq;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>Checkpoints: bit-identical resume, atomic writes, and rejection of bad files with the optimizer untouched.</summary>
public sealed class CheckpointTests : IDisposable
{
    private static readonly int[] Lengths = [33, 1025, 0, 7, 300];
    private readonly string _folder = Directory.CreateTempSubdirectory("optgen-checkpoints-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static AdamW Create()
    {
        var optimizer = new AdamW(new ParameterLayout(Lengths[..2], Lengths[2..])) { LearningRate = 1e-2 };
        optimizer.Groups[1]["WeightDecay"] = 0;
        optimizer.Groups[1]["Beta1"] = 0.8;
        optimizer.SetSchedule("LearningRate", Schedule.Cosine(1e-2, 30).WithWarmup(5, 0.1));
        return optimizer;
    }

    private static void Train(Optimizer optimizer, float[][] p, Random random, int steps)
    {
        var options = new StepOptions { MaxGradientNorm = 5, GradientScale = 1.0 / 128 };
        for (int t = 0; t < steps; t++)
        {
            optimizer.Step(AsMemory(p), AsReadOnly(Tensors(random, Lengths, 128)), options);
        }
    }

    [Fact]
    public void ResumingGivesBitIdenticalResults()
    {
        string path = Path.Combine(_folder, "run.ckpt");
        AdamW uninterrupted = Create();
        float[][] p = Tensors(new Random(1), Lengths);
        var random = new Random(2);
        Train(uninterrupted, p, random, 12);
        uninterrupted.SaveCheckpoint(path);
        float[][] pAtCheckpoint = Clone(p);
        var randomAtCheckpoint = new Random(2);
        Train(new AdamW(new ParameterLayout(Lengths[..2], Lengths[2..])), Tensors(new Random(1), Lengths), randomAtCheckpoint, 12); // advance the data stream identically
        Train(uninterrupted, p, random, 10);

        AdamW resumed = Create();
        resumed.Groups[0]["Epsilon"] = 0.5; // overwritten by the checkpoint
        resumed.LoadCheckpoint(path);
        Assert.Equal(12, resumed.StepCount);
        Assert.Equal(1e-8, resumed.Groups[0]["Epsilon"]);
        Assert.Equal(0.8, resumed.Groups[1]["Beta1"]);
        Train(resumed, pAtCheckpoint, randomAtCheckpoint, 10);

        Assert.Equal(uninterrupted.StepCount, resumed.StepCount);
        for (int j = 0; j < Lengths.Length; j++)
        {
            AssertBitwiseEqual(p[j], pAtCheckpoint[j], $"parameters of tensor {j}");
        }

        float[][] a = StateOf(uninterrupted), b = StateOf(resumed);
        for (int s = 0; s < a.Length; s++)
        {
            AssertBitwiseEqual(a[s], b[s], $"state {s}");
        }
    }

    [Fact]
    public void SingleTensorOptimizerRoundTripsThroughAStream()
    {
        var adam = new Adam(100) { LearningRate = 0.01 };
        var random = new Random(4);
        float[] p = Random(random, 100);
        for (int t = 0; t < 3; t++)
        {
            adam.Step(p, Random(random, 100));
        }

        using var stream = new MemoryStream();
        adam.SaveCheckpoint(stream);
        stream.WriteByte(42); // data after the checkpoint is not read
        stream.Position = 0;
        var copy = new Adam(100);
        copy.LoadCheckpoint(stream);
        Assert.Equal(stream.Length - 1, stream.Position);
        Assert.Equal(3, copy.StepCount);
        Assert.Equal(0.01, copy.LearningRate);
        AssertBitwiseEqual(adam.FirstMoment, copy.FirstMoment, "m");
        AssertBitwiseEqual(adam.SecondMoment, copy.SecondMoment, "v");
    }

    [Fact]
    public void SavingReplacesTheFileAtomicallyAndLeavesNoTemporaryFiles()
    {
        string path = Path.Combine(_folder, "replace.ckpt");
        File.WriteAllText(path, "old contents");
        AdamW optimizer = Create();
        optimizer.SaveCheckpoint(path);
        optimizer.SaveCheckpoint(path);
        Assert.Equal([path], Directory.GetFiles(_folder));
        Create().LoadCheckpoint(path);
    }

    private (AdamW Trained, byte[] Bytes) Saved()
    {
        AdamW trained = Create();
        Train(trained, Tensors(new Random(5), Lengths), new Random(6), 4);
        string path = Path.Combine(_folder, "good.ckpt");
        trained.SaveCheckpoint(path);
        return (trained, File.ReadAllBytes(path));
    }

    /// <summary>A trained optimizer to load into, and its snapshot.</summary>
    private static (AdamW Target, Snapshot Before) Target()
    {
        AdamW target = Create();
        Train(target, Tensors(new Random(7), Lengths), new Random(8), 3);
        return (target, Snapshot.Of(target));
    }

    private CheckpointException LoadRejected(Optimizer target, byte[] bytes, string name)
    {
        string path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, bytes);
        return Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(path));
    }

    [Fact]
    public void TruncatedCheckpointIsRejectedAndNothingChanges()
    {
        (_, byte[] bytes) = Saved();
        (AdamW target, Snapshot before) = Target();
        foreach (int length in new[] { 0, 5, 8, 23, 60, bytes.Length / 2, bytes.Length - 5, bytes.Length - 1 })
        {
            CheckpointException e = LoadRejected(target, bytes[..length], $"truncated{length}.ckpt");
            Assert.Equal(CheckpointError.Truncated, e.Error);
            Assert.Contains("truncated", e.Message, StringComparison.OrdinalIgnoreCase);

            // Through a stream, without the size known in advance.
            Assert.Equal(CheckpointError.Truncated, Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new MemoryStream(bytes[..length]))).Error);
            AssertUnchanged(before, target);
        }
    }

    [Fact]
    public void CorruptedCheckpointIsRejectedAndNothingChanges()
    {
        (_, byte[] bytes) = Saved();
        (AdamW target, Snapshot before) = Target();
        var random = new Random(9);

        // Every byte after the fixed header, and some at random in the state data: any flipped bit is caught.
        int[] positions = [.. Enumerable.Range(24, 200), .. Enumerable.Range(0, 50).Select(_ => random.Next(224, bytes.Length))];
        foreach (int position in positions)
        {
            byte[] corrupted = (byte[])bytes.Clone();
            corrupted[position] ^= (byte)(1 << random.Next(8));
            CheckpointException e = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new MemoryStream(corrupted)));
            Assert.True(e.Error is CheckpointError.Corrupted or CheckpointError.Truncated, $"byte {position}: {e.Error}: {e.Message}");
            AssertUnchanged(before, target);
        }

        byte[] data = (byte[])bytes.Clone();
        data[^100] ^= 1;
        CheckpointException inData = LoadRejected(target, data, "corrupted.ckpt");
        Assert.Equal(CheckpointError.Corrupted, inData.Error);
        Assert.Contains("CRC-32", inData.Message, StringComparison.Ordinal);

        byte[] magic = (byte[])bytes.Clone();
        magic[0] = (byte)'X';
        Assert.Equal(CheckpointError.NotACheckpoint, LoadRejected(target, magic, "magic.ckpt").Error);
        byte[] version = (byte[])bytes.Clone();
        version[8] = 99;
        Assert.Equal(CheckpointError.UnsupportedVersion, LoadRejected(target, version, "version.ckpt").Error);
        Assert.Equal(CheckpointError.Corrupted, LoadRejected(target, [.. bytes, 0], "trailing.ckpt").Error);
        AssertUnchanged(before, target);
    }

    [Fact]
    public void WrongRuleIsRejectedAndNothingChanges()
    {
        var layout = new ParameterLayout(Lengths[..2], Lengths[2..]);
        var adam = new Adam(layout);
        string path = Path.Combine(_folder, "adam.ckpt");
        adam.SaveCheckpoint(path);
        (AdamW target, Snapshot before) = Target();
        CheckpointException e = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(path));
        Assert.Equal(CheckpointError.WrongRule, e.Error);
        Assert.Contains("torch.optim.Adam", e.Message, StringComparison.Ordinal);
        AssertUnchanged(before, target);

        new Sgd(10).SaveCheckpoint(path);
        Assert.Equal(CheckpointError.WrongRule, Assert.Throws<CheckpointException>(() => new SgdMomentum(10).LoadCheckpoint(path)).Error);
    }

    [Fact]
    public void WrongShapeIsRejectedAndNothingChanges()
    {
        (AdamW target, Snapshot before) = Target();
        foreach (ParameterLayout other in new[]
        {
            new ParameterLayout(Lengths),
            new ParameterLayout(Lengths[..2], [0, 7, 301]),
            new ParameterLayout(Lengths[..1], Lengths[1..]),
            new ParameterLayout(Lengths[..2], Lengths[2..], [1]),
        })
        {
            string path = Path.Combine(_folder, "shape.ckpt");
            new AdamW(other).SaveCheckpoint(path);
            CheckpointException e = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(path));
            Assert.Equal(CheckpointError.WrongShape, e.Error);
            AssertUnchanged(before, target);
        }
    }
}
