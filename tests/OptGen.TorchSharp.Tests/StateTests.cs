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

    /// <summary>
    /// The optimizer settings OptGen's checkpoints keep besides hyperparameters and state: the batch size (for rules with
    /// per-example hyperparameters) travels in every group's record, through the binary form, the in-memory dictionary
    /// and TorchSharp's own per-part loader; the state precision must match (as for checkpoints) and then the run
    /// continues bit for bit with float32 and bfloat16 state. 8-bit blockwise state travels as its dequantized values and
    /// is quantized again on load (OptGen's quantizer does not reproduce every code of a dequantized block), so there
    /// the loaded state is within 2% of the buffer's largest value and the run continues within 1e-2 (measured 4.2e-3; a load that
    /// zeroes the state fails the state check).
    /// </summary>
    [Theory]
    [InlineData(StatePrecision.Float32)]
    [InlineData(StatePrecision.BFloat16)]
    [InlineData(StatePrecision.Int8Blockwise)]
    public void BatchSizeAndStatePrecisionRoundTrip(StatePrecision precision)
    {
        // 8-bit state needs tensors of at least 4096 elements; the last one has 5000.
        Parameter[] MakeLarge() => [.. Fixture.MakeParameters()[..^1], new Parameter(torch.randn(5000))];
        Parameter[] uninterrupted = MakeLarge();
        Parameter[] first = Fixture.Clone(uninterrupted);
        FusedOptimizer<OptGen.Adam> Create(Parameter[] p, bool configured)
        {
            FusedOptimizer<OptGen.Adam> o = configured ? TwoGroupAdam(p) : DefaultAdam(p);
            o.Optimizer.ChangeStatePrecision(precision);
            if (configured)
            {
                o.Optimizer.BatchSize = 32;
            }

            return o;
        }

        using FusedOptimizer<OptGen.Adam> reference = Create(uninterrupted, configured: true);
        Train(uninterrupted, reference, 0, 20);
        using FusedOptimizer<OptGen.Adam> before = Create(first, configured: true);
        Train(first, before, 0, 10);
        var stream = new MemoryStream();
        before.save_state_dict(new BinaryWriter(stream));

        // The binary form, into a default optimizer (batch size 1) with the same precision.
        Parameter[] second = Fixture.Clone(first);
        using FusedOptimizer<OptGen.Adam> after = Create(second, configured: false);
        Assert.Equal(1, after.Optimizer.BatchSize);
        stream.Position = 0;
        after.load_state_dict(new BinaryReader(stream));
        Assert.Equal(32, after.Optimizer.BatchSize);
        bool exact = precision != StatePrecision.Int8Blockwise;
        foreach (string name in after.Optimizer.Descriptor.States.Select(s => s.Name))
        {
            using Tensor saved = ((FusedState)before.state_dict().State[4]).GetState(name);
            using Tensor loaded = ((FusedState)after.state_dict().State[4]).GetState(name);
            double scale = saved.abs().max().ToDouble();
            Assert.True(loaded.sub(saved).abs().max().ToDouble() <= (exact ? 0 : 0.02 * scale), $"{name} of the 5000-element tensor after the load");
        }

        Train(second, after, 10, 20);
        if (exact)
        {
            Fixture.AssertIdentical(uninterrupted, second);
        }
        else
        {
            Fixture.AssertClose(uninterrupted, second, 1e-2, "8-bit state resumed from state_dict");
        }

        // The in-memory dictionary and TorchSharp's per-part loader (through an OptimizerHelper reference) carry it too.
        using FusedOptimizer<OptGen.Adam> viaDict = Create(Fixture.Clone(first), configured: false);
        viaDict.load_state_dict(before.state_dict());
        Assert.Equal(32, viaDict.Optimizer.BatchSize);
        Assert.Equal(10, viaDict.Optimizer.StepCount);
        using FusedOptimizer<OptGen.Adam> viaHelper = Create(Fixture.Clone(first), configured: false);
        stream.Position = 0;
        ((OptimizerHelper)viaHelper).load_state_dict(new BinaryReader(stream));
        Assert.Equal(32, viaHelper.Optimizer.BatchSize);
        if (exact)
        {
            Assert.Equal(Snapshot(before), Snapshot(viaDict));
            Assert.Equal(Snapshot(before), Snapshot(viaHelper));
        }

        // Another state precision is refused with nothing changed (as by LoadCheckpoint).
        using FusedOptimizer<OptGen.Adam> other = DefaultAdam(Fixture.Clone(first));
        other.Optimizer.ChangeStatePrecision(precision == StatePrecision.Float32 ? StatePrecision.BFloat16 : StatePrecision.Float32);
        byte[] untouched = Snapshot(other);
        stream.Position = 0;
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => other.load_state_dict(new BinaryReader(stream)));
        Assert.Contains("ChangeStatePrecision", e.Message);
        Assert.Throws<ArgumentException>(() => other.load_state_dict(before.state_dict()));
        Assert.Equal(untouched, Snapshot(other));
    }

    /// <summary>
    /// A group with its own state precision (OptGen's <c>ParameterGroup.StatePrecision</c>): each group's record carries its
    /// own precision, a load into an optimizer configured the same way continues bit for bit, and a load into one whose
    /// group stores another precision is refused naming that group, with nothing changed.
    /// </summary>
    [Fact]
    public void GroupStatePrecisionRoundTrip()
    {
        Parameter[] uninterrupted = Fixture.MakeParameters();
        Parameter[] first = Fixture.Clone(uninterrupted);
        FusedOptimizer<OptGen.Adam> Create(Parameter[] p, bool ownPrecision)
        {
            FusedOptimizer<OptGen.Adam> o = TwoGroupAdam(p);
            if (ownPrecision)
            {
                o.Optimizer.Groups[1].StatePrecision = StatePrecision.BFloat16;
            }

            return o;
        }

        using FusedOptimizer<OptGen.Adam> reference = Create(uninterrupted, ownPrecision: true);
        Train(uninterrupted, reference, 0, 20);
        using FusedOptimizer<OptGen.Adam> before = Create(first, ownPrecision: true);
        Train(first, before, 0, 10);
        Assert.Equal(StatePrecision.Float32, before.Optimizer.StatePrecisionOf(0));
        Assert.Equal(StatePrecision.BFloat16, before.Optimizer.StatePrecisionOf(1));

        Parameter[] second = Fixture.Clone(first);
        using FusedOptimizer<OptGen.Adam> after = Create(second, ownPrecision: true);
        after.load_state_dict(before.state_dict());
        Assert.Equal(Snapshot(before), Snapshot(after));
        Train(second, after, 10, 20);
        Fixture.AssertIdentical(uninterrupted, second);

        using FusedOptimizer<OptGen.Adam> uniform = Create(Fixture.Clone(first), ownPrecision: false);
        byte[] untouched = Snapshot(uniform);
        ArgumentException e = Assert.Throws<ArgumentException>(() => uniform.load_state_dict(before.state_dict()));
        Assert.Contains("Group 1", e.Message);
        Assert.Equal(untouched, Snapshot(uniform));
    }

    [Fact]
    public void CraftedBatchSizesAreRejectedWithNothingChanged()
    {
        const int Marker = 0x1234567; // a batch size whose bytes are easy to find in the stream
        Parameter[] parameters = Fixture.MakeParameters();
        using FusedOptimizer<OptGen.Adam> source = TwoGroupAdam(parameters);
        source.Optimizer.BatchSize = Marker;
        Train(parameters, source, 0, 2);
        var saved = new MemoryStream();
        source.save_state_dict(new BinaryWriter(saved));
        byte[] bytes = saved.ToArray();
        byte[] pattern = [.. BitConverter.GetBytes(Marker), .. BitConverter.GetBytes((int)StatePrecision.Float32)];
        int[] at = Enumerable.Range(0, bytes.Length - pattern.Length).Where(i => bytes.AsSpan(i, pattern.Length).SequenceEqual(pattern)).ToArray();
        Assert.Equal(2, at.Length); // once per group

        using FusedOptimizer<OptGen.Adam> optimizer = DefaultAdam(Fixture.Clone(parameters));
        Train(Fixture.Clone(parameters), optimizer, 0, 1);
        byte[] before = Snapshot(optimizer);
        foreach ((int group, int value, int precision, string message) in new[] { (0, 0, 0, "below 1"), (1, -5, 0, "below 1"), (1, 7, 0, "one batch size"), (0, Marker, 99, "unknown state precision 99") })
        {
            byte[] crafted = (byte[])bytes.Clone();
            BitConverter.GetBytes(value).CopyTo(crafted, at[group]);
            BitConverter.GetBytes(precision).CopyTo(crafted, at[group] + 4);

            InvalidDataException e = Assert.Throws<InvalidDataException>(() => optimizer.load_state_dict(new BinaryReader(new MemoryStream(crafted))));
            Assert.Contains(message, e.Message);
            Assert.Equal(before, Snapshot(optimizer));
        }
    }

    /// <summary>
    /// Every group record carries its layout version after the rule id; a record of another layout (an older
    /// OptGen.TorchSharp wrote none: its hyperparameter count stood there) is refused by name with nothing changed,
    /// instead of being read out of step.
    /// </summary>
    [Fact]
    public void AnotherRecordLayoutIsRefusedByName()
    {
        Parameter[] parameters = Fixture.MakeParameters();
        using FusedOptimizer<OptGen.Adam> source = TwoGroupAdam(parameters);
        Train(parameters, source, 0, 2);
        var saved = new MemoryStream();
        source.save_state_dict(new BinaryWriter(saved));
        byte[] bytes = saved.ToArray();
        byte[] version = BitConverter.GetBytes(0x4F47_0002);
        int[] at = Enumerable.Range(0, bytes.Length - 4).Where(i => bytes.AsSpan(i, 4).SequenceEqual(version)).ToArray();
        Assert.Equal(2, at.Length); // once per group

        using FusedOptimizer<OptGen.Adam> optimizer = DefaultAdam(Fixture.Clone(parameters));
        Train(Fixture.Clone(parameters), optimizer, 0, 1);
        byte[] before = Snapshot(optimizer);
        foreach (int group in new[] { 0, 1 })
        {
            byte[] crafted = (byte[])bytes.Clone();
            BitConverter.GetBytes(0x4F47_0001).CopyTo(crafted, at[group]);
            InvalidDataException e = Assert.Throws<InvalidDataException>(() => optimizer.load_state_dict(new BinaryReader(new MemoryStream(crafted))));
            Assert.Contains("layout version 0x4F470001", e.Message);
            Assert.Equal(before, Snapshot(optimizer));
        }
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
