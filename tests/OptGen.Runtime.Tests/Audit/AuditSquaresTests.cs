using System;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// The per-example squares are gradients squared, stored like the gradients: under loss scaling a float16 square
/// overflows (a scaled per-example gradient of 300 has a square of 90000 &gt; 65504) while the gradient does not. The
/// skip decision read only the gradients, so with <see cref="StepOptions.SkipNonFinite"/> such a step was taken: the
/// element's second moment became ∞ for good (its parameter never moved again) or its parameter NaN, and
/// <see cref="StepResult.FoundNonFinite"/> was false, so a loss scaler never backed off.
/// </summary>
public sealed class AuditSquaresTests
{
    public static TheoryData<string, float> Cases() => new()
    {
        { "float32 arena", float.PositiveInfinity },
        { "float32 arena", float.NaN },
        { "float16 arena", 90000f },
        { "per tensor", float.NegativeInfinity },
        { "int8 state", float.NaN },
        { "expression rule", float.PositiveInfinity },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ANonFiniteSquareIsSkippedLikeANonFiniteGradient(string kind, float bad)
    {
        int[] lengths = kind == "int8 state" ? [4100, 7] : [13, 5];
        var layout = new ParameterLayout(lengths[..1], lengths[1..]);
        Optimizer Create()
        {
            Optimizer created = kind == "expression rule" ? new PerExampleSquaresAdamExpression(layout) : new PerExampleSquaresAdam(layout);
            if (kind == "int8 state")
            {
                created.ChangeStatePrecision(StatePrecision.Int8Blockwise);
            }

            return created;
        }

        var random = new Random(5);
        float[] p = Random(random, layout.TotalLength);
        float[] g = Random(random, layout.TotalLength, 0.1);
        float[] q = Array.ConvertAll(g, x => x * x);
        StepResult Step(Optimizer optimizer, float[] parameters, float[] squares, StepOptions options) => kind switch
        {
            "float16 arena" => optimizer.Step(parameters, Array.ConvertAll(g, x => (Half)x), Array.ConvertAll(squares, x => (Half)x), options),
            "per tensor" => optimizer.Step(
                [parameters.AsMemory(0, lengths[0]), parameters.AsMemory(lengths[0])],
                [g.AsMemory(0, lengths[0]), g.AsMemory(lengths[0])],
                [squares.AsMemory(0, lengths[0]), squares.AsMemory(lengths[0])],
                options),
            _ => optimizer.Step(parameters, g, squares, options),
        };

        Optimizer optimizer = Create();
        optimizer.Step(p, g, q);
        byte[] before = AuditKinds.Save(optimizer);
        float[] kept = (float[])p.Clone();
        double scale = kind == "float16 arena" ? 1.0 / 65536 : 1;
        foreach (int tensor in new[] { 0, 1 })
        {
            float[] squares = (float[])q.Clone();
            squares[layout.ArenaOffsetOf(tensor) + layout.LengthOf(tensor) - 1] = bad;
            StepResult result = Step(optimizer, p, squares, new StepOptions { SkipNonFinite = true, GradientScale = scale });
            Assert.True(result.Skipped && result.FoundNonFinite, $"{kind}, tensor {tensor}: {result}");
            AssertBitwiseEqual(kept, p, $"{kind}, tensor {tensor}: parameters");
            Assert.Equal(before, AuditKinds.Save(optimizer));

            // Without skipping the step is taken (as with a non-finite gradient), and the norm pass says what it saw.
            Optimizer copy = Create();
            copy.LoadCheckpoint(new System.IO.MemoryStream(before));
            StepResult seen = Step(copy, (float[])p.Clone(), squares, new StepOptions { ComputeGradientNorm = true, GradientScale = scale });
            Assert.True(!seen.Skipped && seen.FoundNonFinite, $"{kind}, tensor {tensor}, not skipping: {seen}");
        }

        // Finite squares step as before.
        Assert.False(Step(optimizer, p, q, new StepOptions { SkipNonFinite = true, GradientScale = scale }).Skipped);
    }
}
