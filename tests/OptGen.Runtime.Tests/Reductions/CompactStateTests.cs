using System;
using System.IO;
using System.Linq;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Compact state (StateExtents): Adafactor keeps m + n floats per m × n matrix and n per vector, Adam-mini one m per
/// element and one v per block. The byte counts are computed here from those formulas (not from the code under
/// test); the state survives checkpoints bit for bit, Reset and bfloat16 round trips in that shape.
/// </summary>
public sealed class CompactStateTests
{
    // A matrix, a vector and a stack of three 7 × 5 matrices; a second group with a 1 × 9 matrix (1 + 9 > 9 elements).
    private static ParameterLayout AdafactorLayout() => ParameterLayout.FromShapes([[300, 200], [64], [3, 7, 5]], [[1, 9]]);

    private static ParameterLayout AdamMiniLayout() => ParameterLayout.FromShapes([[10, 30], [100]], [[4, 25]]);

    [Fact]
    public void AdafactorStateIsRowsPlusColumnsPerMatrixAndTheVectorItself()
    {
        var optimizer = new Adafactor(AdafactorLayout());
        long floats = (300 + 200) + 64 + (3 * (7 + 5)) + (1 + 9);
        long parameters = (300 * 200) + 64 + (3 * 7 * 5) + 9;
        Assert.Equal(parameters, optimizer.Length);
        Assert.Equal(floats * 4.0 / parameters, optimizer.StateBytesPerParameter, 12);
        Assert.Equal(floats, Adafactor.StateFloats(optimizer.Layout));
        Assert.Equal(new[] { 300, 64, 21, 1 }, Enumerable.Range(0, 4).Select(j => optimizer.StateLength("Variance", j)));
        Assert.Equal(new[] { 200, 0, 15, 9 }, Enumerable.Range(0, 4).Select(j => optimizer.StateLength("ColumnVariance", j)));
        Assert.Equal(300 + 64 + 21 + 1, optimizer.Variance.Length);
        Assert.Equal(200 + 15 + 9, optimizer.ColumnVariance.Length);

        // A step keeps the shape, and bfloat16 state halves it.
        var random = new Random(3);
        optimizer.Step(Random(random, optimizer.Length), Random(random, optimizer.Length, 0.1));
        Assert.Equal(floats * 4.0 / parameters, optimizer.StateBytesPerParameter, 12);
        optimizer.ChangeStatePrecision(StatePrecision.BFloat16);
        Assert.Equal(floats * 2.0 / parameters, optimizer.StateBytesPerParameter, 12);

        // 4096 × 4096: 8192 floats for 16.8M parameters, about 0.002 bytes per parameter.
        var large = new Adafactor(ParameterLayout.FromShapes([[4096, 4096]]));
        Assert.Equal(8192 * 4.0 / (4096.0 * 4096), large.StateBytesPerParameter, 15);
        Assert.InRange(large.StateBytesPerParameter, 0.0019, 0.0020);
    }

    [Fact]
    public void AdamMiniStateIsOneMomentPerElementAndOneVPerBlock()
    {
        var optimizer = new AdamMini(AdamMiniLayout());
        long parameters = 300 + 100 + 100;

        // BlockSize 0: one block per row (a vector is one row).
        long rows = 10 + 1 + 4;
        Assert.Equal((parameters + rows) * 4.0 / parameters, optimizer.StateBytesPerParameter, 12);

        // Blocks of 7 with short last ones (300 = 42·7 + 6, 100 = 14·7 + 2); group 1 keeps rows of 25. The state
        // takes the new shape at the next step.
        optimizer.Groups[0]["BlockSize"] = 7;
        var random = new Random(5);
        optimizer.Step(Random(random, optimizer.Length), Random(random, optimizer.Length, 0.1));
        long blocks = 43 + 15 + 4;
        Assert.Equal((parameters + blocks) * 4.0 / parameters, optimizer.StateBytesPerParameter, 12);
        Assert.Equal(new[] { 43, 15, 4 }, Enumerable.Range(0, 3).Select(j => optimizer.StateLength("BlockSecondMoment", j)));
        Assert.Equal(new[] { 300, 100, 100 }, Enumerable.Range(0, 3).Select(j => optimizer.StateLength("FirstMoment", j)));
        Assert.Equal(blocks, optimizer.BlockSecondMoment.Length);
        Assert.All(optimizer.BlockSecondMoment.ToArray(), v => Assert.True(v > 0, "every block's v was written"));

        // Reset follows the hyperparameters too.
        optimizer.Groups[1]["BlockSize"] = 10;
        optimizer.Reset();
        Assert.Equal(10, optimizer.StateLength("BlockSecondMoment", 2));
        Assert.All(optimizer.BlockSecondMoment.ToArray(), v => Assert.Equal(0f, v));
    }

    public static TheoryData<string> Rules() => new() { "adafactor", "adam_mini" };

    private static Optimizer Create(string rule) => rule switch
    {
        "adafactor" => new Adafactor(AdafactorLayout()) { WeightDecay = 0.01 },
        _ => new AdamMini(AdamMiniLayout()) { BlockSize = 7, WeightDecay = 0.1 },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void CheckpointOfCompactStateResumesBitForBit(string rule)
    {
        Optimizer original = Create(rule);
        var random = new Random(7);
        float[] p = Random(random, original.Length);
        float[][] grads = Enumerable.Range(0, 5).Select(_ => Random(random, original.Length, 0.1)).ToArray();
        for (int t = 0; t < 3; t++)
        {
            original.Step(p, grads[t]);
        }

        var file = new MemoryStream();
        original.SaveCheckpoint(file);
        float[] resumedP = (float[])p.Clone();
        for (int t = 3; t < 5; t++)
        {
            original.Step(p, grads[t]);
        }

        // Fresh optimizer with the default hyperparameters: the checkpoint restores them and the state's shape.
        Optimizer resumed = rule == "adafactor" ? new Adafactor(AdafactorLayout()) : new AdamMini(AdamMiniLayout());
        file.Position = 0;
        resumed.LoadCheckpoint(file);
        for (int t = 3; t < 5; t++)
        {
            resumed.Step(resumedP, grads[t]);
        }

        AssertBitwiseEqual(p, resumedP, "parameters");
        float[][] expected = StateOf(original), actual = StateOf(resumed);
        Assert.Equal(expected.Length, actual.Length);
        for (int s = 0; s < expected.Length; s++)
        {
            AssertBitwiseEqual(expected[s], actual[s], $"state {s}");
        }

        // The file holds the compact state, not a plane per parameter.
        long stateBytes = (long)Math.Round(original.StateBytesPerParameter * original.Length);
        Assert.InRange(file.Length, stateBytes, stateBytes + 1024);
    }

    [Fact]
    public void AdamMiniSavedRightAfterABlockSizeChangeLoadsInTheNewShape()
    {
        var optimizer = new AdamMini(AdamMiniLayout());
        var random = new Random(17);
        optimizer.Step(Random(random, optimizer.Length), Random(random, optimizer.Length, 0.1));
        float[] rowsV = optimizer.BlockSecondMoment.ToArray();

        // No step in between: saving reshapes v to blocks of 7 (tensors 0 and 1 start again from 0, tensor 2's rows of 25 are kept).
        optimizer.Groups[0]["BlockSize"] = 7;
        var file = new MemoryStream();
        optimizer.SaveCheckpoint(file);
        var loaded = new AdamMini(AdamMiniLayout());
        file.Position = 0;
        loaded.LoadCheckpoint(file);
        Assert.Equal(7, loaded.Groups[0]["BlockSize"]);
        Assert.Equal(new[] { 43, 15, 4 }, Enumerable.Range(0, 3).Select(j => loaded.StateLength("BlockSecondMoment", j)));
        float[] v = loaded.BlockSecondMoment.ToArray();
        Assert.All(v[..58], x => Assert.Equal(0f, x));
        AssertBitwiseEqual(rowsV[^4..], v[58..], "tensor 2's v (its blocks did not change)");
        AssertBitwiseEqual(optimizer.FirstMoment, loaded.FirstMoment, "m");
    }

    [Fact]
    public void AdafactorCheckpointOfOtherMatrixShapesIsRejectedWithNothingChanged()
    {
        var saved = new Adafactor(ParameterLayout.FromShapes([[4, 8]]));
        var random = new Random(9);
        saved.Step(Random(random, 32), Random(random, 32, 0.1));
        var file = new MemoryStream();
        saved.SaveCheckpoint(file);

        // Same length, 2 + 16 floats of state instead of 4 + 8.
        var other = new Adafactor(ParameterLayout.FromShapes([[2, 16]]));
        other.Step(Random(random, 32), Random(random, 32, 0.1));
        float[][] before = StateOf(other);
        file.Position = 0;
        var error = Assert.Throws<CheckpointException>(() => other.LoadCheckpoint(file));
        Assert.Equal(CheckpointError.WrongShape, error.Error);
        float[][] after = StateOf(other);
        for (int s = 0; s < before.Length; s++)
        {
            AssertBitwiseEqual(before[s], after[s], $"state {s}");
        }

        Assert.Equal(1, other.StepCount);
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void BFloat16StateRoundTripRoundsEachCompactValueToNearestEven(string rule)
    {
        Optimizer optimizer = Create(rule);
        var random = new Random(13);
        float[] p = Random(random, optimizer.Length);
        for (int t = 0; t < 3; t++)
        {
            optimizer.Step(p, Random(random, optimizer.Length, 0.1));
        }

        float[][] single = StateOf(optimizer);
        optimizer.ChangeStatePrecision(StatePrecision.BFloat16);
        float[][] narrowed = StateOf(optimizer);
        optimizer.ChangeStatePrecision(StatePrecision.Float32);
        float[][] widened = StateOf(optimizer);
        for (int s = 0; s < single.Length; s++)
        {
            float[] expected = single[s].Select(NearestEvenBFloat16).ToArray();
            AssertBitwiseEqual(expected, narrowed[s], $"bfloat16 state {s}");
            AssertBitwiseEqual(expected, widened[s], $"widened state {s}");
        }

        // bfloat16 state steps and resumes from its own checkpoint too.
        optimizer.ChangeStatePrecision(StatePrecision.BFloat16);
        optimizer.Step(p, Random(random, optimizer.Length, 0.1));
        var file = new MemoryStream();
        optimizer.SaveCheckpoint(file);
        Optimizer copy = Create(rule);
        copy.ChangeStatePrecision(StatePrecision.BFloat16);
        file.Position = 0;
        copy.LoadCheckpoint(file);
        float[][] a = StateOf(optimizer), b = StateOf(copy);
        for (int s = 0; s < a.Length; s++)
        {
            AssertBitwiseEqual(a[s], b[s], $"reloaded bfloat16 state {s}");
        }
    }

    /// <summary>float32 → bfloat16 → float32, rounding to nearest even (finite values).</summary>
    private static float NearestEvenBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint rounded = bits + 0x7FFF + ((bits >> 16) & 1);
        return BitConverter.UInt32BitsToSingle(rounded & 0xFFFF0000);
    }
}
