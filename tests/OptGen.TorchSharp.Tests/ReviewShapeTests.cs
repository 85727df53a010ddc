using System.Linq;
using TorchSharp.Modules;
using Xunit;

namespace OptGen.TorchSharp.Tests;

/// <summary>Rules that read a tensor's shape (Adafactor's factored matrices, Adam-mini's rows) see the parameters' shapes.</summary>
public sealed class ReviewShapeTests
{
    [Fact]
    public void TheLayoutCarriesTheParameterShapes()
    {
        Parameter[] parameters = Fixture.MakeParameters();
        using FusedOptimizer<OptGen.Adafactor> fused = FusedOptimizer.Create(parameters, layout => new OptGen.Adafactor(layout));
        long[][] shapes = parameters.Select(p => p.shape).ToArray();
        for (int j = 0; j < shapes.Length; j++)
        {
            Assert.Equal(shapes[j].Length, fused.Optimizer.Layout.RankOf(j));
            Assert.Equal((int)shapes[j][0], fused.Optimizer.StateLength("Variance", j)); // rows of a matrix, every element of a vector
            Assert.Equal(shapes[j].Length == 2 ? (int)shapes[j][1] : 0, fused.Optimizer.StateLength("ColumnVariance", j));
        }
    }
}
