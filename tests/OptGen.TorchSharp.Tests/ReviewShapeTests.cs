using System.IO;
using System.Linq;
using TorchSharp;
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

    [Fact]
    public void CompactStateRoundTripsThroughStateDicts()
    {
        Parameter[] uninterrupted = Fixture.MakeParameters();
        Parameter[] first = Fixture.Clone(uninterrupted);
        using FusedOptimizer<OptGen.Adafactor> reference = FusedOptimizer.Create(uninterrupted, layout => new OptGen.Adafactor(layout));
        Train(uninterrupted, reference, 0, 6);

        using FusedOptimizer<OptGen.Adafactor> before = FusedOptimizer.Create(first, layout => new OptGen.Adafactor(layout));
        Train(first, before, 0, 3);
        var stream = new MemoryStream();
        before.save_state_dict(new BinaryWriter(stream));
        Assert.Equal([33L], ((FusedState)before.state_dict().State[0]).GetState("Variance").shape);

        Parameter[] second = Fixture.Clone(first);
        using FusedOptimizer<OptGen.Adafactor> after = FusedOptimizer.Create(second, layout => new OptGen.Adafactor(layout));
        stream.Position = 0;
        after.load_state_dict(new BinaryReader(stream));
        Parameter[] third = Fixture.Clone(first);
        using FusedOptimizer<OptGen.Adafactor> copied = FusedOptimizer.Create(third, layout => new OptGen.Adafactor(layout));
        copied.load_state_dict(before.state_dict());
        Train(second, after, 3, 6);
        Train(third, copied, 3, 6);

        Fixture.AssertIdentical(uninterrupted, second);
        Fixture.AssertIdentical(uninterrupted, third);
    }

    private static void Train(Parameter[] parameters, torch.optim.Optimizer optimizer, int from, int to)
    {
        for (int step = from; step < to; step++)
        {
            Fixture.SetGradients(parameters, Fixture.Gradients(parameters, step));
            optimizer.step();
        }
    }
}
