using System;
using System.Buffers.Binary;
using System.IO;
using OptGen.Runtime.Tests.Reductions;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Checkpoints of rules whose state is shaped by the tensors' shapes (compact state: Adafactor's row and column
/// factors, declared factored rules, Adam-mini's rows) store the shapes (flag bit 10, a section after the layout):
/// a 2 × 3 matrix's file loaded over a 3 × 2 one has the same length and the same m + n factor count, and loaded with
/// its row and column factors swapped. Every other file is byte for byte as before.
/// </summary>
public sealed class CheckpointShapeTests
{
    private const uint ShapesFlag = CheckpointImage.ShapesFlag;

    private static byte[] Save(Optimizer optimizer)
    {
        using var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }

    private static uint FlagsOf(byte[] checkpoint) => BinaryPrimitives.ReadUInt32LittleEndian(checkpoint.AsSpan(12));

    private static Optimizer Make(string rule, ParameterLayout layout) => rule switch
    {
        "Adafactor" => new Adafactor(layout),
        "declared factored" => new DeclaredFactored(layout),
        "Adam-mini" => new AdamMini(layout),
        "Adam-mini blocks" => new AdamMini(layout) { BlockSize = 3 },
        _ => throw new ArgumentOutOfRangeException(nameof(rule)),
    };

    private static Optimizer Trained(string rule, ParameterLayout layout, int seed, int steps)
    {
        Optimizer optimizer = Make(rule, layout);
        var random = new Random(seed);
        float[] p = Random(random, optimizer.Length);
        for (int t = 0; t < steps; t++)
        {
            optimizer.Step(p, Random(random, optimizer.Length, 0.1));
        }

        return optimizer;
    }

    public static TheoryData<string, int[], int[]> Transposed() => new()
    {
        { "Adafactor", [2, 3], [3, 2] },
        { "Adafactor", [2, 2, 3], [2, 3, 2] },
        { "declared factored", [2, 3], [3, 2] },
        { "Adam-mini", [4, 3], [3, 4] },
        { "Adam-mini blocks", [2, 6], [6, 2] },
    };

    /// <summary>The file's and this layout's shapes differ, lengths and compact sizes alike: refused by name, nothing changed.</summary>
    [Theory]
    [MemberData(nameof(Transposed))]
    public void ATransposedTensorIsRefusedAndNothingChanges(string rule, int[] saved, int[] loading)
    {
        byte[] file = Save(Trained(rule, ParameterLayout.FromShapes([[5], saved], [[4]]), seed: 1, steps: 3));
        Assert.Equal(ShapesFlag, FlagsOf(file) & ShapesFlag);
        Optimizer target = Trained(rule, ParameterLayout.FromShapes([[5], loading], [[4]]), seed: 2, steps: 2);
        byte[] before = Save(target);

        CheckpointException e = Assert.Throws<CheckpointException>(() => target.LoadCheckpoint(new MemoryStream(file)));
        Assert.Equal(CheckpointError.WrongShape, e.Error);
        Assert.Equal("tensor shape", e.Field);
        Assert.Contains($"tensor 1 (group 0, index 1) has shape [{string.Join(", ", saved)}]; this optimizer's has [{string.Join(", ", loading)}]", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Save(target));
        Assert.Equal(2, target.StepCount);
    }

    /// <summary>The same shapes load, and the loaded optimizer continues bit for bit as the one that saved.</summary>
    [Theory]
    [InlineData("Adafactor")]
    [InlineData("declared factored")]
    [InlineData("Adam-mini")]
    public void TheSameShapesLoadAndResumeBitIdentically(string rule)
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[2, 3], [7]], [[4, 5]]);
        Optimizer source = Trained(rule, layout, seed: 3, steps: 3);
        byte[] file = Save(source);
        Optimizer target = Make(rule, ParameterLayout.FromShapes([[2, 3], [7]], [[4, 5]]));
        target.LoadCheckpoint(new MemoryStream(file));
        Assert.Equal(file, Save(target));

        var random = new Random(9);
        float[] p = Random(random, layout.TotalLength);
        float[] q = (float[])p.Clone();
        for (int t = 0; t < 2; t++)
        {
            float[] g = Random(random, layout.TotalLength, 0.1);
            source.Step(p, g);
            target.Step(q, g);
        }

        AssertBitwiseEqual(p, q, $"{rule}: parameters after two steps from the loaded checkpoint");
        Assert.Equal(Save(source), Save(target));
    }

    /// <summary>
    /// A compact-state file written before shapes were stored (no flag bit 10, no section) still loads, judged by its
    /// lengths and state size as before, and saves back with the shapes.
    /// </summary>
    [Fact]
    public void AFileWithoutShapesStillLoads()
    {
        ParameterLayout layout = ParameterLayout.FromShapes([[2, 3]], [[4]]);
        byte[] file = Save(Trained("Adafactor", layout, seed: 4, steps: 3));
        CheckpointImage image = CheckpointImage.Parse(file);
        Assert.Equal([[2, 3], [4]], image.Shapes);
        image.Flags &= ~ShapesFlag;
        byte[] old = image.ToBytes();
        Assert.Equal(file.Length - (4 + 8) - (4 + 4), old.Length);

        Optimizer target = Make("Adafactor", layout);
        target.LoadCheckpoint(new MemoryStream(old));
        Assert.Equal(file, Save(target));
    }

    /// <summary>A shapes section on a rule whose state does not depend on shapes, or a shape that does not hold its tensor's length: corrupted.</summary>
    [Fact]
    public void AShapesSectionThatCannotBeIsCorrupted()
    {
        var adam = new Adam(ParameterLayout.FromShapes([[2, 3]], [[4]]));
        byte[] before = Save(adam);
        CheckpointImage image = CheckpointImage.Parse(before);
        image.Flags |= ShapesFlag;
        image.Shapes = [[2, 3], [4]];
        CheckpointException e = Assert.Throws<CheckpointException>(() => adam.LoadCheckpoint(new MemoryStream(image.ToBytes())));
        Assert.Equal((CheckpointError.Corrupted, "flags"), (e.Error, e.Field));
        Assert.Equal(before, Save(adam));

        Optimizer adafactor = Trained("Adafactor", ParameterLayout.FromShapes([[2, 3]], [[4]]), seed: 5, steps: 1);
        before = Save(adafactor);
        image = CheckpointImage.Parse(before);
        image.Shapes[0] = [2, 4];
        e = Assert.Throws<CheckpointException>(() => adafactor.LoadCheckpoint(new MemoryStream(image.ToBytes())));
        Assert.Equal((CheckpointError.Corrupted, "tensor shape"), (e.Error, e.Field));
        Assert.Equal(before, Save(adafactor));
    }

    /// <summary>Rules whose state does not depend on shapes write no shapes: a matrix's file is the vector's, byte for byte.</summary>
    [Fact]
    public void AShapeIndependentRuleWritesNoShapes()
    {
        var matrices = new Adam(ParameterLayout.FromShapes([[2, 3]], [[4, 1]]));
        var vectors = new Adam(new ParameterLayout([6], [4]));
        var random = new Random(6);
        float[] p = Random(random, 10), q = (float[])p.Clone();
        for (int t = 0; t < 3; t++)
        {
            float[] g = Random(random, 10, 0.1);
            matrices.Step(p, g);
            vectors.Step(q, g);
        }

        byte[] file = Save(matrices);
        Assert.Equal(0u, FlagsOf(file) & ShapesFlag);
        Assert.Equal(Save(vectors), file);
    }

    /// <summary>Every fixture of an older build loads and saves back byte for byte: files of rules without compact state are unchanged.</summary>
    [Theory]
    [MemberData(nameof(CheckpointFixtures.Names), MemberType = typeof(CheckpointFixtures))]
    public void EveryFixtureSavesBackByteForByte(string name)
    {
        Optimizer optimizer = CheckpointFixtures.Create(name);
        string path = Path.Combine(CheckpointFixtures.Folder(), name + ".ckpt");
        optimizer.LoadCheckpoint(path);
        Assert.Equal(File.ReadAllBytes(path), Save(optimizer));
    }
}
