using System;
using System.Linq;
using Xunit;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// <see cref="StepOptions.GradientScale"/> in the passes of <see cref="Adafactor"/> and <see cref="Lamb"/>: a step with
/// scale s takes exactly the bits of a step on the gradients float32(g·s) with scale 1. Adafactor's passes leave a
/// scale of ±1 out of their loops (its square, and the sign carried in α) and multiply by any other: both loops must
/// give what the scale means, on a matrix with row tails (37 × 301), a vector over several units and a stack of
/// matrices, minimizing and maximizing. (The float64 references check the rules themselves with scale 1.)
/// </summary>
public sealed class ReductionGradientScaleTests
{
    private static readonly int[][] Shapes = [[37, 301], [40_000], [2, 3, 5]];

    [Theory]
    [InlineData("adafactor", 0.5, false)]
    [InlineData("adafactor", 3.0, false)]
    [InlineData("adafactor", 3.0, true)]
    [InlineData("adafactor", 1.0, true)]
    [InlineData("lamb", 0.5, false)]
    [InlineData("lamb", 3.0, false)]
    public void AScaledStepIsAStepOnTheScaledGradients(string rule, double scale, bool maximize)
    {
        ParameterLayout layout = ParameterLayout.FromShapes(Shapes);
        Optimizer scaled = Create(rule, layout, maximize), prescaled = Create(rule, layout, maximize);
        var random = new Random(23);
        float[] a = Enumerable.Range(0, layout.TotalLength).Select(_ => (float)((2 * random.NextDouble()) - 1)).ToArray();
        float[] b = (float[])a.Clone();
        var options = new StepOptions { GradientScale = scale };
        float s = (float)scale;
        for (int t = 0; t < 4; t++)
        {
            float[] g = Enumerable.Range(0, layout.TotalLength).Select(_ => (float)((2 * random.NextDouble()) - 1) * (t == 2 ? 50 : 1)).ToArray();
            scaled.Step(a, g, options);
            prescaled.Step(b, g.Select(x => x * s).ToArray());
        }

        Assert.True(a.AsSpan().SequenceEqual(b), $"{rule}: parameters differ from the step on float32(g·{scale})");
        foreach (StateDescriptor state in scaled.Descriptor.States)
        {
            Assert.True(scaled.GetState(state.Name).SequenceEqual(prescaled.GetState(state.Name)), $"{rule}: {state.Name} differs from the step on float32(g·{scale})");
        }
    }

    private static Optimizer Create(string rule, ParameterLayout layout, bool maximize) => rule switch
    {
        "adafactor" => new Adafactor(layout) { WeightDecay = 0.01, Maximize = maximize },
        _ => new Lamb(layout),
    };
}
