using System;
using System.IO;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using TorchModules = TorchSharp.Modules;

namespace OptGen.TorchSharp.Tests;

/// <summary>
/// state_dict()/load_state_dict() in TorchSharp's shapes and OptGen checkpoints: a run interrupted after 10 steps and
/// resumed in a new optimizer (built with default hyperparameters, so the groups' values must come from the saved
/// state) continues bit for bit like the uninterrupted run; the state tensors match TorchSharp's Adam's; bad input is
/// rejected with nothing changed.
/// </summary>
public sealed class StateTests
{
    private static FusedOptimizer<OptGen.Adam> TwoGroupAdam(Parameter[] parameters)
    {
        (Parameter[] a, Parameter[] b) = Fixture.Split(parameters);
        return FusedOptimizer.Create(
            [ParityTests.Group(a, ("LearningRate", 1e-2), ("WeightDecay", 0.01)), ParityTests.Group(b, ("LearningRate", 3e-2), ("Beta1", 0.8))],
            layout => new OptGen.Adam(layout));
    }

    private static FusedOptimizer<OptGen.Adam> DefaultAdam(Parameter[] parameters)
    {
        (Parameter[] a, Parameter[] b) = Fixture.Split(parameters);
        return FusedOptimizer.Create([new FusedParamGroup(a), new FusedParamGroup(b)], layout => new OptGen.Adam(layout));
    }

    private static void Train(Parameter[] parameters, torch.optim.Optimizer optimizer, int from, int to)
    {
        for (int step = from; step < to; step++)
        {
            Tensor[] gradients = Fixture.Gradients(parameters, step);
            Fixture.SetGradients(parameters, gradients);
            optimizer.step();
        }
    }

    [Fact]
    public void SaveStateDictResumesBitForBit()
    {
        Parameter[] uninterrupted = Fixture.MakeParameters();
        Parameter[] first = Fixture.Clone(uninterrupted);
        using FusedOptimizer<OptGen.Adam> reference = TwoGroupAdam(uninterrupted);
        Train(uninterrupted, reference, 0, 20);

        using FusedOptimizer<OptGen.Adam> before = TwoGroupAdam(first);
        Train(first, before, 0, 10);
        var stream = new MemoryStream();
        before.save_state_dict(new BinaryWriter(stream));

        Parameter[] second = Fixture.Clone(first);
        using FusedOptimizer<OptGen.Adam> after = DefaultAdam(second);
        stream.Position = 0;
        after.load_state_dict(new BinaryReader(stream));
        Assert.Equal(10, after.Optimizer.StepCount);
        Assert.Equal(3e-2, after.ParamGroups.ElementAt(1).LearningRate);
        Assert.Equal(0.8, after.Optimizer.Groups[1]["Beta1"]);
        Train(second, after, 10, 20);

        Fixture.AssertIdentical(uninterrupted, second);
    }

    [Fact]
    public void StateDictCopiesBetweenOptimizersAndMatchesTorchSharpAdamState()
    {
        Parameter[] torchParameters = Fixture.MakeParameters();
        Parameter[] fusedParameters = Fixture.Clone(torchParameters);
        (Parameter[] a, Parameter[] b) = Fixture.Split(torchParameters);
        using var torchAdam = torch.optim.Adam([new TorchModules.Adam.ParamGroup(a, lr: 1e-2, weight_decay: 0.01), new TorchModules.Adam.ParamGroup(b, lr: 3e-2, beta1: 0.8)]);
        using FusedOptimizer<OptGen.Adam> fused = TwoGroupAdam(fusedParameters);
        Train(torchParameters, torchAdam, 0, 10);
        Train(fusedParameters, fused, 0, 10);

        // TorchSharp's shapes: one options record per group, one state per parameter, tensors shaped like it.
        torch.optim.Optimizer.StateDictionary torchState = torchAdam.state_dict();
        torch.optim.Optimizer.StateDictionary fusedState = fused.state_dict();
        Assert.Equal(torchState.Options.Count, fusedState.Options.Count);
        Assert.Equal(torchState.State.Count, fusedState.State.Count);
        for (int j = 0; j < fusedParameters.Length; j++)
        {
            var expected = (TorchModules.Adam.State)torchState.State[j];
            var actual = (FusedState)fusedState.State[j];
            Assert.Equal(expected.step, actual.step);
            Assert.Equal(["FirstMoment", "SecondMoment"], actual.StateNames);
            using Tensor m = actual.GetState("FirstMoment");
            using Tensor v = actual.GetState("SecondMoment");
            Assert.Equal(fusedParameters[j].shape, m.shape);
            Fixture.AssertClose([new Parameter(expected.exp_avg)], [new Parameter(m)], 2e-6, $"exp_avg of tensor {j}");
            Fixture.AssertClose([new Parameter(expected.exp_avg_sq)], [new Parameter(v)], 2e-6, $"exp_avg_sq of tensor {j}");
        }

        // Another optimizer (default hyperparameters) takes the state in memory and continues like the first.
        Parameter[] copy = Fixture.Clone(fusedParameters);
        using FusedOptimizer<OptGen.Adam> other = DefaultAdam(copy);
        other.load_state_dict(fusedState);
        Assert.True(other.state_dict().State[3].ApproximatelyEquals(fusedState.State[3]));
        Train(fusedParameters, fused, 10, 20);
        Train(copy, other, 10, 20);
        Fixture.AssertIdentical(fusedParameters, copy);
    }

    [Fact]
    public void CheckpointResumesBitForBitAndRestoresLearningRates()
    {
        Parameter[] uninterrupted = Fixture.MakeParameters();
        Parameter[] first = Fixture.Clone(uninterrupted);
        using FusedOptimizer<OptGen.Adam> reference = TwoGroupAdam(uninterrupted);
        Train(uninterrupted, reference, 0, 20);

        using FusedOptimizer<OptGen.Adam> before = TwoGroupAdam(first);
        Train(first, before, 0, 10);
        var checkpoint = new MemoryStream();
        before.SaveCheckpoint(checkpoint);

        Parameter[] second = Fixture.Clone(first);
        using FusedOptimizer<OptGen.Adam> after = DefaultAdam(second);
        checkpoint.Position = 0;
        after.LoadCheckpoint(checkpoint);
        Assert.Equal([1e-2, 3e-2], after.ParamGroups.Select(g => g.LearningRate));
        Train(second, after, 10, 20);
        Fixture.AssertIdentical(uninterrupted, second);
    }

    [Fact]
    public void BadStateDictsAreRejectedWithNothingChanged()
    {
        Parameter[] parameters = Fixture.MakeParameters();
        using FusedOptimizer<OptGen.Adam> source = TwoGroupAdam(parameters);
        Train(parameters, source, 0, 3);
        var saved = new MemoryStream();
        source.save_state_dict(new BinaryWriter(saved));
        byte[] bytes = saved.ToArray();

        Parameter[] target = Fixture.Clone(parameters);
        using FusedOptimizer<OptGen.Adam> optimizer = DefaultAdam(target);
        Train(target, optimizer, 0, 1);
        byte[] before = Snapshot(optimizer);

        // Cut anywhere in the last parameter's state: everything before it parsed, nothing may have been written.
        foreach (int cut in new[] { 1, bytes.Length / 2, bytes.Length - 1 })
        {
            Assert.Throws<InvalidDataException>(() => optimizer.load_state_dict(new BinaryReader(new MemoryStream(bytes[..cut]))));
            Assert.Equal(before, Snapshot(optimizer));
        }

        // Another rule (AdamW's state into Adam).
        Parameter[] other = Fixture.Clone(parameters);
        (Parameter[] a, Parameter[] b) = Fixture.Split(other);
        using FusedOptimizer<OptGen.AdamW> adamW = FusedOptimizer.Create([new FusedParamGroup(a), new FusedParamGroup(b)], layout => new OptGen.AdamW(layout));
        var adamWState = new MemoryStream();
        adamW.save_state_dict(new BinaryWriter(adamWState));
        adamWState.Position = 0;
        InvalidDataException wrongRule = Assert.Throws<InvalidDataException>(() => optimizer.load_state_dict(new BinaryReader(adamWState)));
        Assert.Contains("AdamW", wrongRule.Message);
        Assert.Equal(before, Snapshot(optimizer));
        Assert.Throws<ArgumentException>(() => optimizer.load_state_dict(adamW.state_dict()));
        Assert.Equal(before, Snapshot(optimizer));

        // Another shape: the same rule over differently shaped parameters.
        Parameter[] wide = [.. Fixture.Split(target).First.Select(p => new Parameter(torch.zeros(p.shape[0] + 1))), .. Fixture.Split(target).Second];
        using FusedOptimizer<OptGen.Adam> wrongShape = DefaultAdam(wide);
        Assert.Throws<ArgumentException>(() => optimizer.load_state_dict(wrongShape.state_dict()));
        Assert.Equal(before, Snapshot(optimizer));
    }

    /// <summary>Everything a load could change: step count, every group's hyperparameters, every state buffer.</summary>
    private static byte[] Snapshot<T>(FusedOptimizer<T> optimizer)
        where T : Optimizer
    {
        var stream = new MemoryStream();
        optimizer.Optimizer.SaveCheckpoint(stream);
        byte[] bytes = stream.ToArray();
        return bytes;
    }
}
