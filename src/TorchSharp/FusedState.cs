using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptGen.TorchSharp;

/// <summary>
/// One parameter's optimizer state as <c>state_dict()</c> returns it: a live view of the OptGen optimizer's state for
/// that tensor (the step count and one buffer per state buffer of the rule, e.g. Adam's <c>FirstMoment</c> and <c>SecondMoment</c>), shaped
/// like the parameter when read as tensors.
/// </summary>
public sealed class FusedState : OptimizerState
{
    private readonly Func<Optimizer> _optimizer;
    private readonly Func<int, string> _nameOf;
    private readonly int _tensor;

    internal FusedState(Parameter parameter, Func<Optimizer> optimizer, Func<int, string> nameOf, int tensor)
        : base(parameter)
    {
        _optimizer = optimizer;
        _nameOf = nameOf;
        _tensor = tensor;
    }

    /// <summary>The number of steps taken (OptGen keeps one for every parameter).</summary>
    public long step => _optimizer().StepCount;

    /// <summary>The rule's state buffers, in order (e.g. Adam's <c>FirstMoment</c>, <c>SecondMoment</c>).</summary>
    public IReadOnlyList<string> StateNames => _optimizer().Descriptor.States.Select(s => s.Name).ToArray();

    /// <summary>
    /// A float32 copy of state buffer <paramref name="name"/> for this parameter, shaped like the parameter (a vector of
    /// <see cref="Optimizer.StateLength"/> values where the rule's state is compact, e.g. Adafactor's factors).
    /// </summary>
    /// <exception cref="ArgumentException">The rule has no such state buffer.</exception>
    public Tensor GetState(string name)
    {
        Optimizer optimizer = _optimizer();
        var values = new float[optimizer.StateLength(name, _tensor)];
        optimizer.CopyState(name, _tensor, values);
        return TensorRecord.ToTensor(values, TensorRecord.StateShape(optimizer, optimizer.Descriptor.IndexOfState(name), _tensor, _parameter.shape));
    }

    /// <summary>Writes the step count, then each state buffer's name and tensor (TorchSharp's tensor format).</summary>
    public override void SaveStateDict(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Record().Write(writer, _optimizer(), _tensor, _parameter.shape);
    }

    /// <summary>Reads what <see cref="SaveStateDict(BinaryWriter)"/> wrote and sets this parameter's state and the step count (checked first).</summary>
    /// <exception cref="InvalidDataException">Another rule or shape; nothing is set.</exception>
    public override void LoadStateDict(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        Apply(TensorRecord.Read(reader, _optimizer(), _tensor, _parameter, _nameOf(_tensor)));
    }

    /// <summary>Takes another <see cref="FusedState"/>'s values (same rule and shape).</summary>
    public override void LoadStateDict(OptimizerState source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Apply(source is FusedState state ? state.Record() : throw new ArgumentException($"Expected FusedState, got {source.GetType().Name}.", nameof(source)));
    }

    /// <summary>Same step count and state values within 1e-6 relative.</summary>
    public override bool ApproximatelyEquals(OptimizerState other)
    {
        if (other is not FusedState state)
        {
            return false;
        }

        TensorRecord a = Record(), b = state.Record();
        return a.Step == b.Step && a.Planes.Length == b.Planes.Length && a.Planes.Zip(b.Planes).All(pair =>
            pair.First.Length == pair.Second.Length &&
            pair.First.Zip(pair.Second).All(v => Math.Abs(v.First - v.Second) <= 1e-6 * Math.Max(1, Math.Abs(v.First))));
    }

    /// <summary>Nothing to do: the OptGen optimizer allocates and initializes the state.</summary>
    public override void Initialize(OptimizerOptions options)
    {
    }

    internal TensorRecord Record()
    {
        Optimizer optimizer = _optimizer();
        float[][] planes = optimizer.Descriptor.States.Select(s =>
        {
            var values = new float[optimizer.StateLength(s.Name, _tensor)];
            optimizer.CopyState(s.Name, _tensor, values);
            return values;
        }).ToArray();
        return new TensorRecord(optimizer.StepCount, planes);
    }

    private void Apply(TensorRecord record)
    {
        Optimizer optimizer = _optimizer();
        record.ThrowIfMismatched(optimizer, _tensor, _nameOf(_tensor));
        double[][] host = Enumerable.Range(0, optimizer.Layout.GroupCount)
            .Select(k => Enumerable.Range(0, optimizer.Descriptor.HostStates.Count).Select(i => optimizer.HostStateOf(k, i)).ToArray())
            .ToArray();
        optimizer.ThrowIfBadScalars(record.Step, host);
        optimizer.ImportTensorState(_tensor, record.Planes);
        optimizer.ImportScalars(record.Step, host);
    }
}

/// <summary>
/// One group's values as saved: learning rates, the rule's identity, every hyperparameter and carried scalar, and the
/// optimizer's settings that OptGen's checkpoints also keep (<see cref="Optimizer.BatchSize"/>, the state precision),
/// which every group repeats (as every parameter's state repeats the step count).
/// </summary>
internal sealed record GroupRecord(double InitialLearningRate, double LearningRate, string Rule, string RuleId, string[] Names, double[] Values, double[] HostState, int BatchSize, StatePrecision Precision)
{
    private const int MaximumCount = 4096;

    /// <summary>
    /// The record's layout version, written after the rule id: "OG" and 2 (the layout with the batch size and the state
    /// precision). A record of another layout (the first one had no version: its hyperparameter count stands here) is
    /// refused by name instead of being read out of step.
    /// </summary>
    internal const int LayoutVersion = 0x4F47_0002;

    /// <summary>TorchSharp's base options (initial, current learning rate), then the rest.</summary>
    public void Write(BinaryWriter writer)
    {
        writer.Write(InitialLearningRate);
        writer.Write(LearningRate);
        writer.Write(Rule);
        writer.Write(RuleId);
        writer.Write(LayoutVersion);
        writer.Write(Names.Length);
        for (int i = 0; i < Names.Length; i++)
        {
            writer.Write(Names[i]);
            writer.Write(Values[i]);
        }

        writer.Write(HostState.Length);
        foreach (double value in HostState)
        {
            writer.Write(value);
        }

        writer.Write(BatchSize);
        writer.Write((int)Precision);
    }

    /// <summary>Reads a record; the counts are bounded before anything is allocated for them.</summary>
    public static GroupRecord Read(BinaryReader reader, Optimizer optimizer)
    {
        double initial = reader.ReadDouble();
        double current = reader.ReadDouble();
        string rule = reader.ReadString();
        string ruleId = reader.ReadString();
        int version = reader.ReadInt32();
        if (version != LayoutVersion)
        {
            throw new InvalidDataException($"The group record of rule '{rule}' has layout version 0x{version:X8}; this OptGen.TorchSharp reads 0x{LayoutVersion:X8} (a state_dict saved by an older OptGen.TorchSharp, or not a state_dict of this optimizer).");
        }

        int count = Count(reader.ReadInt32(), "hyperparameter");
        var names = new string[count];
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            names[i] = reader.ReadString();
            values[i] = reader.ReadDouble();
        }

        var host = new double[Count(reader.ReadInt32(), "carried scalar")];
        for (int i = 0; i < host.Length; i++)
        {
            host[i] = reader.ReadDouble();
        }

        int batchSize = reader.ReadInt32();
        var precision = (StatePrecision)reader.ReadInt32();
        return new GroupRecord(initial, current, rule, ruleId, names, values, host, batchSize, precision);
    }

    /// <summary>Throws unless the record is for <paramref name="optimizer"/>'s rule and every value is in range.</summary>
    public void ThrowIfMismatched(Optimizer optimizer, int group)
    {
        OptimizerDescriptor d = optimizer.Descriptor;
        if (Rule != d.Name || RuleId != d.RuleId || !Names.SequenceEqual(d.Hyperparameters.Select(h => h.Name)))
        {
            throw new ArgumentException($"Group {group} was saved from rule '{Rule}' ({RuleId}); this optimizer runs '{d.Name}' ({d.RuleId}).");
        }

        for (int i = 0; i < Values.Length; i++)
        {
            if (!optimizer.Accepts(i, Values[i]))
            {
                throw new ArgumentException($"Group {group}'s {Names[i]} = {Values[i]} is outside {d.Hyperparameters[i].RangeText}.");
            }
        }

        if (HostState.Length != d.HostStates.Count || !Array.TrueForAll(HostState, double.IsFinite))
        {
            throw new ArgumentException($"Group {group} needs {d.HostStates.Count} finite carried scalars.");
        }

        if (BatchSize < 1)
        {
            throw new ArgumentException($"Group {group}'s BatchSize, {BatchSize}, is below 1.");
        }

        if (Precision != optimizer.StatePrecisionOf(group))
        {
            throw new ArgumentException($"Group {group} was saved with {(Enum.IsDefined(Precision) ? Precision : $"unknown state precision {(int)Precision}")} state; this optimizer's state for that group is {optimizer.StatePrecisionOf(group)}. Call ChangeStatePrecision (or set the group's StatePrecision) on the OptGen optimizer first.");
        }

        int lr = d.IndexOfHyperparameter("LearningRate");
        if (!double.IsFinite(InitialLearningRate) || (lr >= 0 ? LearningRate != Values[lr] : LearningRate != 0))
        {
            throw new ArgumentException($"Group {group}'s learning rates ({InitialLearningRate}, {LearningRate}) do not match its hyperparameters.");
        }
    }

    /// <summary>Sets the hyperparameters (checked by <see cref="ThrowIfMismatched"/>), the group's learning rates and the batch size.</summary>
    public void Apply(Optimizer optimizer, FusedOptions options)
    {
        for (int i = 0; i < Names.Length; i++)
        {
            options[Names[i]] = Values[i];
        }

        options.SetLearningRates(InitialLearningRate, LearningRate);
        optimizer.BatchSize = BatchSize;
    }

    private static int Count(int value, string what) =>
        value is >= 0 and <= MaximumCount ? value : throw new InvalidDataException($"The {what} count {value} is outside [0, {MaximumCount}].");
}

/// <summary>One parameter's state as saved: the step count and every state buffer's values.</summary>
internal sealed record TensorRecord(long Step, float[][] Planes)
{
    /// <summary>The step count, the number of buffers, then each buffer's name and tensor (TorchSharp's format).</summary>
    public void Write(BinaryWriter writer, Optimizer optimizer, int tensorIndex, long[] shape)
    {
        writer.Write(Step);
        writer.Write(Planes.Length);
        for (int k = 0; k < Planes.Length; k++)
        {
            writer.Write(optimizer.Descriptor.States[k].Name);
            using Tensor tensor = ToTensor(Planes[k], StateShape(optimizer, k, tensorIndex, shape));
            tensor.Save(writer);
        }
    }

    /// <summary>
    /// Reads one parameter's state. Each tensor goes into a float32 tensor of the parameter's shape, which TorchSharp's
    /// reader fills only after checking the saved dtype and shape, so a crafted size allocates nothing.
    /// </summary>
    public static TensorRecord Read(BinaryReader reader, Optimizer optimizer, int tensorIndex, Parameter parameter, string name)
    {
        long step = reader.ReadInt64();
        int count = reader.ReadInt32();
        if (count != optimizer.Descriptor.States.Count)
        {
            throw new InvalidDataException($"The state of '{name}' has {count} buffers; the rule '{optimizer.Descriptor.Name}' has {optimizer.Descriptor.States.Count}.");
        }

        var planes = new float[count][];
        for (int k = 0; k < count; k++)
        {
            string buffer = reader.ReadString();
            if (buffer != optimizer.Descriptor.States[k].Name)
            {
                throw new InvalidDataException($"The state of '{name}' has buffer '{buffer}' where the rule has '{optimizer.Descriptor.States[k].Name}'.");
            }

            using Tensor tensor = torch.zeros(StateShape(optimizer, k, tensorIndex, parameter.shape), ScalarType.Float32);
            tensor.Load(reader);
            planes[k] = MemoryMarshal.Cast<byte, float>(tensor.bytes).ToArray();
        }

        return new TensorRecord(step, planes);
    }

    /// <summary>Throws unless every buffer has tensor <paramref name="tensor"/>'s length.</summary>
    public void ThrowIfMismatched(Optimizer optimizer, int tensor, string name)
    {
        if (Planes.Length != optimizer.Descriptor.States.Count || Planes.Where((p, k) => p.Length != optimizer.StateLength(optimizer.Descriptor.States[k].Name, tensor)).Any())
        {
            throw new ArgumentException($"The state for '{name}' does not have the rule's {optimizer.Descriptor.States.Count} buffers of [{string.Join(", ", optimizer.Descriptor.States.Select(s => optimizer.StateLength(s.Name, tensor)))}] elements.");
        }
    }

    /// <summary>
    /// The shape of state buffer <paramref name="plane"/> of tensor <paramref name="tensor"/>: the parameter's, or a
    /// vector of <see cref="Optimizer.StateLength"/> values for compact state (Adafactor's row and column factors).
    /// </summary>
    public static long[] StateShape(Optimizer optimizer, int plane, int tensor, long[] parameterShape)
    {
        int length = optimizer.StateLength(optimizer.Descriptor.States[plane].Name, tensor);
        return length == optimizer.Layout.LengthOf(tensor) ? parameterShape : [length];
    }

    /// <summary>A float32 tensor of <paramref name="shape"/> holding a copy of <paramref name="values"/>.</summary>
    public static Tensor ToTensor(float[] values, long[] shape)
    {
        Tensor tensor = torch.zeros(shape, ScalarType.Float32);
        values.AsSpan().CopyTo(MemoryMarshal.Cast<byte, float>(tensor.bytes));
        return tensor;
    }
}
