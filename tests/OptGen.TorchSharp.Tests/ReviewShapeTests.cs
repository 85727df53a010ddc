using System;
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

    /// <summary>
    /// In eval mode a schedule-free optimizer keeps y in its state for Train to put back; LoadCheckpoint refuses there,
    /// and so must a state dictionary, whose TrainParameters plane would silently replace the kept y.
    /// </summary>
    [Fact]
    public void AStateDictionaryIsRefusedInEvalModeAndChangesNothing()
    {
        Parameter[] parameters = Fixture.MakeParameters();
        using FusedOptimizer<OptGen.AdamWScheduleFree> fused = FusedOptimizer.Create(parameters, layout => new OptGen.AdamWScheduleFree(layout));
        Train(parameters, fused, 0, 3);
        var saved = new MemoryStream();
        fused.save_state_dict(new BinaryWriter(saved));
        Train(parameters, fused, 3, 5);

        // The parameters as one arena: Eval puts x there and keeps y; Train gives y back.
        float[] arena = parameters.SelectMany(p => Fixture.Values(p)).ToArray();
        float[] y = (float[])arena.Clone();
        fused.Optimizer.Eval(arena);
        byte[] before = Checkpoint(fused);
        using FusedOptimizer<OptGen.AdamWScheduleFree> other = FusedOptimizer.Create(Fixture.MakeParameters(2), layout => new OptGen.AdamWScheduleFree(layout));
        saved.Position = 0;
        Assert.Throws<InvalidOperationException>(() => fused.load_state_dict(new BinaryReader(saved)));
        Assert.Throws<InvalidOperationException>(() => fused.load_state_dict(other.state_dict()));
        Assert.Equal(before, Checkpoint(fused));
        fused.Optimizer.Train(arena);
        Assert.Equal(y, arena);
        saved.Position = 0;
        fused.load_state_dict(new BinaryReader(saved));
    }

    private static byte[] Checkpoint<T>(FusedOptimizer<T> fused)
        where T : Optimizer
    {
        var stream = new MemoryStream();
        fused.SaveCheckpoint(stream);
        return stream.ToArray();
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
